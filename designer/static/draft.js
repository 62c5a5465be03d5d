// The designer's draft, shared by every designer page (form, flow, rules, reports, publish).
//
//   Draft.load(key) -> Promise<Draft>     GET /api/v1/apps/{key}/draft (created from the running version if none)
//   draft.definition                      the app definition being edited (plain JSON; mutate it inside change())
//   draft.change(fn, label)               snapshot for undo, run fn(definition), mark dirty, emit "change"
//   draft.undo() / draft.redo() / draft.canUndo() / draft.canRedo()
//   draft.save() -> Promise<{ok, status, data}>   PUT with the revision; 409 shows what others changed
//                                          (reload theirs / keep mine), 422 shows the problems
//   draft.check() -> Promise<{ok, problems}>     POST .../draft/check (nothing stored)
//   draft.expression(type, text, kind)    POST .../draft/expression -> {ok, problems, names}
//   draft.preview(type, stage, data)      POST .../draft/preview -> {html}
//   draft.on(event, fn)                   events: change, saved, conflict, problems, checked, loaded
//   Draft.showProblems(problems, el)      list problems (path: message) into an element
//   Draft.api(method, url, body)          fetch with JSON + CSRF header -> {ok, status, data}
//   Draft.words                           UI words in the page's language (from #draft-words)
//   Draft.debounce(fn, ms)
(function () {
  "use strict";

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  function api(method, url, body) {
    var opts = {
      method: method,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }
    };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = { message: t }; }
        return { ok: r.ok, status: r.status, data: data };
      });
    });
  }

  function clone(value) { return value === undefined ? undefined : JSON.parse(JSON.stringify(value)); }

  function words() {
    var el = document.getElementById("draft-words");
    if (!el) return {};
    try { return JSON.parse(el.getAttribute("data-words") || "{}"); } catch (e) { return {}; }
  }

  function w(key, params) {
    var text = (Draft.words && Draft.words[key]) || key;
    Object.keys(params || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function statusBox() { return document.getElementById("draft-status"); }

  function showProblems(problems, target, title) {
    target = target || statusBox();
    if (!target) return;
    target.innerHTML = "";
    if (!problems || !problems.length) return;
    target.className = (target.className.replace(/\b(ok|bad|warn)\b/g, "").trim() + " bad").trim();
    if (title) target.appendChild(el("p", { class: "title", text: title }));
    var list = el("ul", { class: "problems" });
    problems.forEach(function (p) {
      list.appendChild(el("li", { "data-path": p.path || "", class: p.severity === "warning" ? "warning" : "error" }, [
        p.path ? el("code", { text: p.path }) : null,
        el("span", { text: " " + (p.message || p.code || "") })
      ]));
    });
    target.appendChild(list);
  }

  function say(text, kind) {
    var box = statusBox();
    if (!box) return;
    box.innerHTML = "";
    box.className = "draft-status " + (kind || "ok");
    box.appendChild(el("p", { text: text }));
  }

  function describeChange(c) {
    // diff entries from engine/definitions/diff.py: {kind, path, ...}; show path and kind
    var text = (c.message || c.kind || c.change || "") + "";
    return el("li", {}, [el("code", { text: c.path || "" }), el("span", { text: " " + text })]);
  }

  function Draft(key, answer) {
    this.key = key;
    this.handlers = {};
    this.undoStack = [];
    this.redoStack = [];
    this.dirty = false;
    this.accept(answer);
  }

  Draft.prototype.accept = function (answer) {
    this.revision = answer.revision;
    this.baseVersion = answer.base_version;
    this.definition = answer.definition;
    this.started = clone(answer.definition); // what this editor started from (for conflicts)
    this.updatedBy = answer.updated_by;
    this.updatedAt = answer.updated_at;
  };

  Draft.prototype.url = function (suffix) {
    return "/api/v1/apps/" + encodeURIComponent(this.key) + "/draft" + (suffix || "");
  };

  Draft.prototype.on = function (event, fn) {
    (this.handlers[event] = this.handlers[event] || []).push(fn);
    return this;
  };

  Draft.prototype.emit = function (event, detail) {
    (this.handlers[event] || []).forEach(function (fn) { fn(detail); });
    document.dispatchEvent(new CustomEvent("draft:" + event, { detail: detail }));
  };

  Draft.prototype.typeDef = function (type) {
    return ((this.definition || {}).ticket_types || {})[type];
  };

  // undo/redo: whole-definition snapshots (definitions are small JSON; simple and always right)
  Draft.prototype.snapshot = function () {
    this.undoStack.push(JSON.stringify(this.definition));
    if (this.undoStack.length > 200) this.undoStack.shift();
    this.redoStack = [];
  };

  Draft.prototype.change = function (fn, label) {
    this.snapshot();
    var result = fn(this.definition);
    this.dirty = true;
    this.emit("change", { label: label || "" });
    return result;
  };

  Draft.prototype.canUndo = function () { return this.undoStack.length > 0; };
  Draft.prototype.canRedo = function () { return this.redoStack.length > 0; };

  Draft.prototype.undo = function () {
    if (!this.undoStack.length) return false;
    this.redoStack.push(JSON.stringify(this.definition));
    this.definition = JSON.parse(this.undoStack.pop());
    this.dirty = true;
    this.emit("change", { label: "undo" });
    return true;
  };

  Draft.prototype.redo = function () {
    if (!this.redoStack.length) return false;
    this.undoStack.push(JSON.stringify(this.definition));
    this.definition = JSON.parse(this.redoStack.pop());
    this.dirty = true;
    this.emit("change", { label: "redo" });
    return true;
  };

  Draft.prototype.save = function (options) {
    var self = this;
    var body = { revision: this.revision, definition: this.definition };
    if (options && options.migrate) body.migrate = options.migrate;
    say(w("saving"), "warn");
    return api("PUT", this.url(), body).then(function (res) {
      if (res.ok) {
        self.revision = res.data.revision;
        self.started = clone(self.definition);
        self.dirty = false;
        say(w("saved", { revision: res.data.revision }), "ok");
        self.emit("saved", res.data);
      } else if (res.status === 409) {
        self.showConflict(res.data);
        self.emit("conflict", res.data);
      } else if (res.status === 422) {
        showProblems((res.data && res.data.problems) || [], statusBox(), (res.data && res.data.message) || w("not_saved"));
        self.emit("problems", res.data);
      } else {
        say((res.data && res.data.message) || w("not_saved"), "bad");
      }
      return res;
    });
  };

  // 409: somebody saved in between. Show their changes; let the user keep theirs or take the stored draft.
  Draft.prototype.showConflict = function (data) {
    var self = this;
    var box = statusBox();
    if (!box) return;
    box.innerHTML = "";
    box.className = "draft-status bad conflict";
    box.appendChild(el("p", { class: "title", text: (data && data.message) || w("conflict") }));
    var list = el("ul", { class: "changes" });
    ((data && data.changes) || []).forEach(function (c) { list.appendChild(describeChange(c)); });
    box.appendChild(list);
    var keep = el("button", { type: "button", class: "button", "data-action": "keep-mine", text: w("keep_mine") });
    var take = el("button", { type: "button", class: "button secondary", "data-action": "take-theirs", text: w("take_theirs") });
    keep.addEventListener("click", function () { self.revision = data.revision; self.save(); });
    take.addEventListener("click", function () { self.reload(); });
    box.appendChild(el("p", { class: "actions" }, [keep, take]));
  };

  Draft.prototype.reload = function () {
    var self = this;
    return api("GET", this.url()).then(function (res) {
      if (res.ok) {
        self.snapshot();
        self.accept(res.data);
        self.dirty = false;
        say(w("reloaded", { revision: res.data.revision }), "ok");
        self.emit("loaded", res.data);
        self.emit("change", { label: "reload" });
      }
      return res;
    });
  };

  Draft.prototype.check = function () {
    var self = this;
    return api("POST", this.url("/check"), { definition: this.definition }).then(function (res) {
      var data = res.ok ? res.data : { ok: false, problems: (res.data && res.data.problems) || [] };
      self.emit("checked", data);
      return data;
    });
  };

  Draft.prototype.expression = function (ticketType, expression, kind) {
    return api("POST", this.url("/expression"), {
      ticket_type: ticketType, expression: expression, kind: kind || "condition", definition: this.definition
    }).then(function (res) { return res.ok ? res.data : { ok: false, problems: [{ message: (res.data || {}).message || "", column: 0 }], names: [] }; });
  };

  Draft.prototype.preview = function (ticketType, stage, data) {
    var body = { definition: this.definition, ticket_type: ticketType };
    if (stage) body.stage = stage;
    if (data) body.data = data;
    return api("POST", this.url("/preview"), body).then(function (res) { return res.ok ? res.data : { html: "", error: res.data }; });
  };

  Draft.load = function (key) {
    return api("GET", "/api/v1/apps/" + encodeURIComponent(key) + "/draft").then(function (res) {
      if (!res.ok) {
        say((res.data && res.data.message) || w("not_loaded"), "bad");
        throw new Error("draft not loaded: " + res.status);
      }
      var draft = new Draft(key, res.data);
      window.addEventListener("beforeunload", function (e) {
        if (draft.dirty) { e.preventDefault(); e.returnValue = ""; }
      });
      document.addEventListener("keydown", function (e) {
        var t = e.target && e.target.tagName;
        if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT") return;
        if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); if (e.shiftKey) draft.redo(); else draft.undo(); }
        if ((e.ctrlKey || e.metaKey) && e.key === "y") { e.preventDefault(); draft.redo(); }
      });
      draft.emit("loaded", res.data);
      return draft;
    });
  };

  Draft.debounce = function (fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms || 300);
    };
  };

  Draft.api = api;
  Draft.csrf = csrf;
  Draft.clone = clone;
  Draft.el = el;
  Draft.say = say;
  Draft.w = w;
  Draft.showProblems = showProblems;
  Draft.words = {};
  document.addEventListener("DOMContentLoaded", function () {
    Draft.words = words();
    var pick = document.querySelector("[data-type-switch]");
    if (pick) pick.addEventListener("change", function () {
      var parts = location.pathname.split("/");
      parts[parts.length - 1] = encodeURIComponent(pick.value);
      location.pathname = parts.join("/");
    });
  });
  Draft.words = words();
  window.Draft = Draft;
})();
