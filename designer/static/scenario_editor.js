// The scenario-test editor (designer/templates/designer/tests.html): ticket_types.<type>.tests as
// forms. The list on the left (add / duplicate / delete / move), the chosen scenario's form in the
// middle (given, submit, then, steps), the results of "Run tests" on the right.
//
// Every edit goes through draft.change (undo/redo); an edit of a value redraws only the list (so
// the input being typed in stays), an edit of the structure (rows, steps, scenarios) redraws all.
// "Run tests" saves the draft, then POSTs .../draft/test and shows the answer with the publish
// page's DesignerPages.showTests.
(function () {
  "use strict";
  var E, w, draft, palette, type, selected = 0, results = {};
  var QUIET = "tests.value"; // the change label of edits that keep the form as it is

  // -------------------------------------------------------------- what the draft offers
  function typeDef(def) { return ((def || draft.definition).ticket_types || {})[type] || {}; }
  function tests(def) { return typeDef(def).tests || []; }

  function fields() {
    var form = typeDef().form || {};
    var out = [];
    (form.sections || []).forEach(function (s) { (s.fields || []).forEach(function (f) { out.push(f); }); });
    (form.fields || []).forEach(function (f) { out.push(f); });
    return out.filter(function (f) { return f && f.key; });
  }
  function fieldOf(key) { return fields().filter(function (f) { return f.key === key; })[0] || {}; }

  function nodes() {
    return ((typeDef().flow || {}).nodes || []).map(function (n) {
      return { value: n.id, label: (Kit.text(n.name) || n.id) + " (" + n.id + ")" };
    });
  }

  function acts() {
    var names = [];
    ((typeDef().flow || {}).edges || []).forEach(function (e) { if (e && e.action) names.push(e.action); });
    return names.concat(palette.acts || []).filter(function (n, i, all) { return all.indexOf(n) === i; });
  }

  function roles() { return Object.keys(draft.definition.roles || {}); }

  function none(options) { return [{ value: "", label: w("tests.any") }].concat(options); }

  // -------------------------------------------------------------- values by field type
  var NUMBERS = { number: 1, money: 1, rating: 1 };
  var LISTS = { cascade: 1, multiselect: 1, checkboxes: 1, tags: 1 };

  function isList(f) { return !!(LISTS[f.type] || (f.multiple && f.type !== "image" && f.type !== "file")); }

  function toValue(key, text) {
    var f = fieldOf(key);
    text = String(text).trim();
    if (isList(f)) return text ? text.split(/\s*[,，]\s*/).filter(Boolean) : [];
    if (NUMBERS[f.type] && text !== "" && !isNaN(Number(text))) return Number(text);
    if (f.type === "checkbox") return text === "true" || text === "1" || text === "yes";
    return text;
  }

  function showValue(v) {
    if (v === undefined || v === null) return "";
    if (Array.isArray(v)) return v.join(", ");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function commaList(text) { return String(text || "").split(/\s*[,，]\s*/).filter(Boolean); }

  // given.at: <input type=datetime-local> in the browser's zone <-> ISO with that zone's offset
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localOf(iso) {
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) return "";
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function isoOf(local) {
    if (!local) return undefined;
    var d = new Date(local);
    if (isNaN(d.getTime())) return undefined;
    var off = -d.getTimezoneOffset();
    var sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return local.slice(0, 16) + ":00" + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }

  // -------------------------------------------------------------- editing
  function prune(obj, keys) {
    keys.forEach(function (k) {
      var v = obj[k];
      if (v === undefined || v === "" || v === null || (typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length)) delete obj[k];
    });
  }

  function tidy(s) {
    if (s.given) prune(s.given, ["user", "at", "people"]);
    if (s.then) prune(s.then, ["stage", "status", "assignee", "assignee_role", "events", "queued"]);
    (s.steps || []).forEach(function (st) {
      if (st.then) prune(st.then, ["stage", "status", "assignee", "assignee_role", "events", "queued"]);
      prune(st, ["after", "act", "as", "data", "then"]);
    });
    if (s.steps && !s.steps.length) delete s.steps;
    prune(s, ["given", "submit", "then"]);
  }

  // Change the definition's list of scenarios; structural edits redraw the whole page.
  function changeTests(fn, structural) {
    draft.change(function (def) {
      var t = def.ticket_types[type];
      t.tests = t.tests || [];
      fn(t.tests);
      t.tests.forEach(tidy);
      if (!t.tests.length) delete t.tests;
    }, structural ? "tests.structure" : QUIET);
  }

  // Change the chosen scenario.
  function edit(fn, structural) {
    changeTests(function (list) { if (list[selected]) fn(list[selected]); }, structural);
  }

  function holder(obj, key) { obj[key] = obj[key] || {}; return obj[key]; }

  function setOrDrop(o, k, v) { if (v === undefined || v === "" || v === null || (Array.isArray(v) && !v.length)) delete o[k]; else o[k] = v; }

  // -------------------------------------------------------------- widgets
  function section(title, children, attrs) {
    return E("fieldset", Object.assign({ class: "panel-section" }, attrs || {}), [E("legend", { text: title })].concat(children));
  }

  // Rows of field -> value (submit, a step's data). get(s) -> the object or undefined; make(s) -> it.
  function valueRows(get, make, prop) {
    var box = E("div", { class: "map-rows", "data-prop": prop });
    var current = get(tests()[selected]) || {};
    var all = fields();
    Object.keys(current).forEach(function (key) {
      var f = fieldOf(key);
      var options = (f.options || []).map(function (o) { return typeof o === "object" ? { value: o.value, label: Kit.text(o.label) || o.value } : { value: o, label: o }; });
      var value;
      var onValue = function (v) { edit(function (s) { make(s)[key] = toValue(key, v); }); };
      if (options.length && !isList(f)) value = Kit.select([{ value: "", label: "—" }].concat(options), current[key], onValue, { "data-role": "value", "aria-label": w("tests.value") });
      else value = Kit.input(showValue(current[key]), onValue, {
        "data-role": "value", "aria-label": w("tests.value"), placeholder: isList(f) ? w("tests.list_hint") : "",
        inputmode: NUMBERS[f.type] ? "decimal" : "text"
      });
      box.appendChild(E("div", { class: "map-row", "data-field": key }, [
        E("span", { class: "kit-label", text: (Kit.text(f.label) || key) + " (" + key + ")" }),
        value,
        Kit.button("×", function () { edit(function (s) { delete make(s)[key]; }, true); }, { class: "button small secondary", "aria-label": w("tests.delete"), "data-action": "remove-field" })
      ]));
    });
    var free = all.filter(function (f) { return !(f.key in current) && f.type !== "formula" && f.type !== "subtable"; });
    if (free.length) {
      box.appendChild(E("div", { class: "map-row" }, [
        Kit.select([{ value: "", label: "+ " + w("tests.add_field") }].concat(free.map(function (f) { return { value: f.key, label: (Kit.text(f.label) || f.key) + " (" + f.key + ")" }; })), "", function (key) {
          if (key) edit(function (s) { make(s)[key] = toValue(key, ""); }, true);
        }, { "data-role": "add-field", "aria-label": w("tests.add_field") })
      ]));
    }
    return box;
  }

  // given.people: username -> roles as chips.
  function peopleRows(s) {
    var people = (s.given || {}).people || {};
    var box = E("div", { class: "people-rows", "data-prop": "given.people" });
    Object.keys(people).forEach(function (name) {
      var spec = people[name];
      var list = Array.isArray(spec) ? spec : (spec && spec.roles) || [];
      var chips = E("span", { class: "chips" });
      list.forEach(function (role, i) {
        chips.appendChild(E("span", { class: "chip", "data-role-chip": role }, [
          E("span", { text: role }),
          Kit.button("×", function () { edit(function (x) { rolesOf(x, name).splice(i, 1); }, true); }, { class: "", "aria-label": w("tests.delete") })
        ]));
      });
      var free = roles().filter(function (r) { return list.indexOf(r) < 0; });
      if (free.length) chips.appendChild(Kit.select([{ value: "", label: "+ " + w("tests.add_role") }].concat(free), "", function (role) {
        if (role) edit(function (x) { rolesOf(x, name).push(role); }, true);
      }, { "data-role": "add-role", "aria-label": w("tests.add_role") }));
      box.appendChild(E("div", { class: "map-row", "data-person": name }, [
        E("strong", { text: name }), chips,
        Kit.button("×", function () { edit(function (x) { delete x.given.people[name]; }, true); }, { class: "button small secondary", "aria-label": w("tests.delete"), "data-action": "remove-person" })
      ]));
    });
    var who = Kit.input("", function () {}, { "data-role": "new-person", placeholder: w("tests.person"), "aria-label": w("tests.person") });
    box.appendChild(E("div", { class: "map-row" }, [who, Kit.button("+ " + w("tests.add_person"), function () {
      var name = who.value.trim();
      if (name) edit(function (x) { var p = holder(holder(x, "given"), "people"); if (!(name in p)) p[name] = []; }, true);
    }, { "data-action": "add-person" })]));
    return box;
  }

  // The roles list of a person (a list, or the "roles" of the details object), made if missing.
  function rolesOf(s, name) {
    var people = holder(holder(s, "given"), "people");
    var spec = people[name];
    if (Array.isArray(spec)) return spec;
    if (spec && typeof spec === "object") { spec.roles = spec.roles || []; return spec.roles; }
    people[name] = [];
    return people[name];
  }

  // A `then`: stage, status, assignee, assignee_role, events, queued. get(s) / make(s) as above.
  function thenForm(get, make, prop) {
    var then = get(tests()[selected]) || {};
    var put = function (key, value, structural) { edit(function (s) { setOrDrop(make(s), key, value); }, structural); };
    var assignee = Array.isArray(then.assignee) ? then.assignee.join(", ") : (then.assignee || "");
    var queued = E("div", { class: "map-rows", "data-prop": prop + ".queued" });
    (then.queued || []).forEach(function (q, i) {
      var setQ = function (key, v) { edit(function (s) { var row = make(s).queued[i]; setOrDrop(row, key, v); }); };
      queued.appendChild(E("div", { class: "map-row" }, [
        Kit.select(none(palette.channels || []), q.channel, function (v) { setQ("channel", v); }, { "aria-label": w("tests.channel"), "data-role": "queued-channel" }),
        Kit.input(q.to, function (v) { setQ("to", v.trim()); }, { placeholder: w("tests.to"), "aria-label": w("tests.to"), "data-role": "queued-to" }),
        Kit.button("×", function () { edit(function (s) { make(s).queued.splice(i, 1); if (!make(s).queued.length) delete make(s).queued; }, true); }, { class: "button small secondary", "aria-label": w("tests.delete") })
      ]));
    });
    queued.appendChild(Kit.button("+ " + w("tests.add_queued"), function () {
      edit(function (s) { var t = make(s); t.queued = t.queued || []; t.queued.push({ channel: (palette.channels || ["email"])[0] }); }, true);
    }, { "data-action": "add-queued" }));
    return E("div", { class: "then-form", "data-then": prop }, [
      Kit.field(w("tests.stage"), Kit.select(none(nodes()), then.stage, function (v) { put("stage", v); }, { "data-prop": prop + ".stage" })),
      Kit.field(w("tests.status"), Kit.select(none(palette.statuses || []), then.status, function (v) { put("status", v); }, { "data-prop": prop + ".status" })),
      Kit.field(w("tests.assignee"), Kit.input(assignee, function (v) {
        var names = commaList(v);
        put("assignee", names.length > 1 ? names : names[0]);
      }, { "data-prop": prop + ".assignee" })),
      Kit.field(w("tests.assignee_role"), Kit.select(none(roles()), then.assignee_role, function (v) { put("assignee_role", v); }, { "data-prop": prop + ".assignee_role" })),
      Kit.field(w("tests.events"), Kit.input((then.events || []).join(", "), function (v) { put("events", commaList(v)); }, { "data-prop": prop + ".events", placeholder: "sla_breached, sla_escalated" })),
      Kit.field(w("tests.queued"), queued)
    ]);
  }

  function stepForm(step, i) {
    var at = function (s) { return (s.steps || [])[i]; };
    var put = function (key, value) { edit(function (s) { setOrDrop(at(s), key, value); }); };
    var prop = "steps[" + i + "]";
    var move = function (d) {
      return function () { edit(function (s) { var j = i + d; if (j < 0 || j >= s.steps.length) return; var x = s.steps.splice(i, 1)[0]; s.steps.splice(j, 0, x); }, true); };
    };
    return section(w("tests.step", { n: i + 1 }), [
      E("div", { class: "panel-actions" }, [
        Kit.button("↑", move(-1), { "aria-label": w("tests.up") }),
        Kit.button("↓", move(1), { "aria-label": w("tests.down") }),
        Kit.button(w("tests.delete"), function () { edit(function (s) { s.steps.splice(i, 1); }, true); }, { class: "button small secondary", "data-action": "remove-step" })
      ]),
      Kit.field(w("tests.after"), Kit.input(step.after, function (v) { put("after", v.trim()); }, { placeholder: "4h / 1d / 30m", "data-prop": prop + ".after" })),
      Kit.field(w("tests.act"), Kit.select(none(acts()), step.act, function (v) { put("act", v); }, { "data-prop": prop + ".act" })),
      Kit.field(w("tests.as"), Kit.input(step.as, function (v) { put("as", v.trim()); }, { "data-prop": prop + ".as" })),
      Kit.field(w("tests.data"), valueRows(function (s) { return at(s).data; }, function (s) { return holder(at(s), "data"); }, prop + ".data")),
      E("h3", { text: w("tests.then") }),
      thenForm(function (s) { return at(s).then; }, function (s) { return holder(at(s), "then"); }, prop + ".then")
    ], { class: "panel-section scenario-step", "data-step": String(i) });
  }

  // -------------------------------------------------------------- drawing
  function drawList() {
    var list = document.getElementById("scenario-list");
    list.innerHTML = "";
    var all = tests();
    if (!all.length) list.appendChild(E("li", { class: "muted", text: w("tests.none") }));
    all.forEach(function (s, i) {
      var state = results[s.name];
      var card = E("li", { class: "scenario-card" + (i === selected ? " on" : "") + (state ? " " + state : ""), "data-scenario": s.name, "data-index": String(i) }, [
        E("span", { class: "scenario-title", text: s.name })
      ]);
      card.addEventListener("click", function () { selected = i; drawAll(); });
      list.appendChild(card);
    });
  }

  function drawForm() {
    var box = document.getElementById("scenario-form");
    box.innerHTML = "";
    var s = tests()[selected];
    if (!s) { box.appendChild(E("p", { class: "muted", text: w("tests.none_selected") })); return; }
    var given = s.given || {};
    var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "";
    var whole = function (fn) { return function () { changeTests(fn, true); }; };
    box.appendChild(E("div", { class: "panel-actions" }, [
      Kit.button("↑", whole(function (l) { if (selected > 0) { l.splice(selected - 1, 0, l.splice(selected, 1)[0]); selected -= 1; } }), { "aria-label": w("tests.up"), "data-action": "scenario-up" }),
      Kit.button("↓", whole(function (l) { if (selected < l.length - 1) { l.splice(selected + 1, 0, l.splice(selected, 1)[0]); selected += 1; } }), { "aria-label": w("tests.down"), "data-action": "scenario-down" }),
      Kit.button(w("tests.duplicate"), whole(function (l) {
        var copy = Draft.clone(l[selected]);
        copy.name = uniqueName(w("tests.copy_of", { name: copy.name }), l);
        l.splice(selected + 1, 0, copy);
        selected += 1;
      }), { "data-action": "duplicate-scenario" }),
      Kit.button(w("tests.delete"), whole(function (l) { l.splice(selected, 1); selected = Math.max(0, selected - 1); }), { class: "button small danger", "data-action": "delete-scenario" })
    ]));
    box.appendChild(Kit.field(w("tests.name"), Kit.input(s.name, function (v) {
      v = v.trim();
      if (v) edit(function (x) { x.name = v; });
    }, { "data-prop": "name" })));
    box.appendChild(section(w("tests.given"), [
      Kit.field(w("tests.user"), Kit.input(given.user, function (v) { edit(function (x) { setOrDrop(holder(x, "given"), "user", v.trim()); }); }, { "data-prop": "given.user", placeholder: "submitter" })),
      Kit.field(w("tests.at"), Kit.input(localOf(given.at), function (v) { edit(function (x) { setOrDrop(holder(x, "given"), "at", isoOf(v)); }); }, { type: "datetime-local", "data-prop": "given.at" }), w("tests.at_hint", { zone: zone })),
      Kit.field(w("tests.people"), peopleRows(s))
    ]));
    box.appendChild(section(w("tests.submit"), [valueRows(function (x) { return x.submit; }, function (x) { return holder(x, "submit"); }, "submit")]));
    box.appendChild(section(w("tests.then_submit"), [thenForm(function (x) { return x.then; }, function (x) { return holder(x, "then"); }, "then")]));
    var steps = E("div", { class: "steps" });
    (s.steps || []).forEach(function (st, i) { steps.appendChild(stepForm(st, i)); });
    steps.appendChild(Kit.button("+ " + w("tests.add_step"), function () {
      edit(function (x) { x.steps = x.steps || []; x.steps.push({ act: acts()[0] }); }, true);
    }, { "data-action": "add-step" }));
    box.appendChild(section(w("tests.steps"), [steps]));
  }

  function drawAll() {
    var n = tests().length;
    if (selected >= n) selected = Math.max(0, n - 1);
    drawList();
    drawForm();
    var undo = document.querySelector("#scenario-editor [data-action=undo]");
    var redo = document.querySelector("#scenario-editor [data-action=redo]");
    if (undo) undo.disabled = !draft.canUndo();
    if (redo) redo.disabled = !draft.canRedo();
  }

  function uniqueName(name, list) {
    var taken = list.map(function (s) { return s.name; });
    var out = name, n = 2;
    while (taken.indexOf(out) >= 0) { out = name + " " + n; n += 1; }
    return out;
  }

  // -------------------------------------------------------------- running
  function run() {
    var box = document.getElementById("test-result");
    box.innerHTML = "";
    box.appendChild(E("p", { class: "muted", text: "…" }));
    var saved = draft.dirty ? draft.save() : Promise.resolve({ ok: true });
    return saved.then(function (res) {
      if (!res.ok) { box.innerHTML = ""; box.appendChild(E("p", { class: "error", text: w("tests.not_run") })); return; }
      return Draft.api("POST", draft.url("/test")).then(function (answer) {
        var data = answer.data || {};
        if (!answer.ok && answer.status !== 422) { DesignerPages.failed(answer); box.innerHTML = ""; return; }
        results = {};
        (data.scenarios || []).forEach(function (s) { if (s.ticket_type === type) results[s.name] = s.passed ? "passed" : "failed"; });
        DesignerPages.showTests(data, box, function (name) { return w(name === "no-tests" ? "tests.none" : "tests." + name); });
        box.setAttribute("data-done", String(Date.now()));
        drawList();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("scenario-editor");
    if (!root) return;
    E = Kit.E;
    w = Kit.w;
    Kit.words(document.getElementById("editor-words"));
    palette = JSON.parse(root.getAttribute("data-palette") || "{}");
    type = document.querySelector(".designer-shell").getAttribute("data-ticket-type");
    var key = document.querySelector(".designer-shell").getAttribute("data-app");
    Draft.load(key).then(function (d) {
      draft = d;
      draft.on("change", function (detail) {
        results = {}; // any change makes the last run's marks stale
        if (detail && detail.label === QUIET) drawList(); else drawAll();
      });
      draft.on("saved", function () { drawAll(); });
      root.querySelector("[data-action=save]").addEventListener("click", function () { draft.save(); });
      root.querySelector("[data-action=undo]").addEventListener("click", function () { draft.undo(); });
      root.querySelector("[data-action=redo]").addEventListener("click", function () { draft.redo(); });
      root.querySelector("[data-action=run-tests]").addEventListener("click", run);
      root.querySelector("[data-action=add-scenario]").addEventListener("click", function () {
        changeTests(function (l) { l.push({ name: uniqueName(w("tests.new_name"), l) }); selected = l.length - 1; }, true);
      });
      drawAll();
      root.setAttribute("data-ready", "1");
    });
  });
})();
