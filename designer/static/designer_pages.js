// The designer's plain pages: the app list (new app from a template, copy), the overview (discard)
// and the publish page (check, scenario tests, diff with affected tickets, publish, roll back).
(function () {
  "use strict";
  var el = function () { return Draft.el.apply(null, arguments); };

  function names(form) {
    return { zh: form.elements.name_zh.value.trim(), en: form.elements.name_en.value.trim() };
  }

  function failed(res) {
    var data = res.data || {};
    Draft.showProblems(data.problems && data.problems.length ? data.problems : [{ message: data.message || String(res.status) }],
      document.getElementById("draft-status"), data.message);
  }

  function indexPage() {
    var form = document.getElementById("new-app");
    if (form) form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { key: form.elements.key.value.trim(), name: names(form), template: form.elements.template.value };
      Draft.api("POST", "/api/v1/apps", body).then(function (res) {
        if (res.ok) location.href = "/designer/" + encodeURIComponent(res.data.app); else failed(res);
      });
    });
    document.querySelectorAll("form[data-copy-from]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        e.preventDefault();
        var from = f.getAttribute("data-copy-from");
        Draft.api("POST", "/api/v1/apps/" + encodeURIComponent(from) + "/copy", { key: f.elements.key.value.trim(), name: names(f) })
          .then(function (res) { if (res.ok) location.href = "/designer/" + encodeURIComponent(res.data.app); else failed(res); });
      });
    });
  }

  function overviewPage() {
    var button = document.querySelector("[data-discard]");
    if (!button) return;
    button.addEventListener("click", function () {
      if (!confirm(button.getAttribute("data-confirm"))) return;
      Draft.api("DELETE", "/api/v1/apps/" + encodeURIComponent(button.getAttribute("data-discard")) + "/draft")
        .then(function (res) { if (res.ok) location.reload(); else failed(res); });
    });
  }

  function changeList(changes) {
    var list = el("ul", { class: "changes" });
    changes.forEach(function (c) { list.appendChild(el("li", { class: c.kind }, [el("code", { text: c.text || c.path })])); });
    return list;
  }

  // The scenario tests' answer (POST .../draft/test) as a list of passed/failed scenarios with the
  // problems' paths; shared by the publish page and the scenario editor (window.DesignerPages).
  function showTests(data, box, word) {
    var rows = (data.scenarios || []).map(function (s) {
      var li = el("li", { class: s.passed ? "passed" : "failed", "data-scenario": s.name }, [
        el("strong", { text: (s.passed ? "✔ " + word("passed") : "✘ " + word("failed")) + " " }),
        el("span", { text: s.ticket_type + ": " + s.name + " (" + Math.round(s.duration_ms) + " ms)" })
      ]);
      (s.problems || []).forEach(function (p) { li.appendChild(el("div", { class: "error" }, [el("code", { text: p.path }), el("span", { text: " " + p.message })])); });
      return li;
    });
    var nodes = rows.length ? [el("ul", { class: "scenarios" }, rows)] : [el("p", { class: "muted", text: word("no-tests") })];
    (data.problems || []).forEach(function (p) { nodes.push(el("p", { class: "error", text: (p.path ? p.path + ": " : "") + p.message })); });
    box.innerHTML = "";
    nodes.forEach(function (n) { box.appendChild(n); });
  }

  function publishPage() {
    var root = document.querySelector("[data-publish]");
    if (!root) return;
    var key = root.getAttribute("data-publish");
    var base = "/api/v1/apps/" + encodeURIComponent(key);
    var word = function (name) { return root.getAttribute("data-" + name); };
    var draftPromise = Draft.load(key);

    function fill(id, nodes) {
      var box = document.getElementById(id);
      box.innerHTML = "";
      nodes.forEach(function (n) { box.appendChild(n); });
      return box;
    }

    function fillIn(text, params) {
      Object.keys(params).forEach(function (k) { text = text.split("{" + k + "}").join(String(params[k])); });
      return text;
    }

    // Which open tickets the publish concerns (engine/definitions/impact.py), change by change.
    function affectedNodes(affected) {
      var changes = affected.changes || [];
      if (!changes.length) return [el("p", { class: "muted", text: word("none-affected") })];
      var list = el("ul", { class: "affected" });
      changes.forEach(function (c) {
        list.appendChild(el("li", { "data-kind": c.kind }, [
          el("code", { text: c.path }),
          el("span", { text: " " + fillIn(word("affected-line"), { count: c.count, examples: (c.examples || []).join(", ") }) })
        ]));
      });
      return [el("p", { text: fillIn(word("open-tickets"), { count: affected.open_tickets || 0 }) }), list];
    }

    var steps = {
      check: function () {
        return draftPromise.then(function (d) { return d.check(); }).then(function (data) {
          var box = fill("check-result", []);
          if (data.ok) box.appendChild(el("p", { class: "ok", text: word("check-ok") }));
          else Draft.showProblems(data.problems, box);
        });
      },
      test: function () {
        fill("test-result", [el("p", { class: "muted", text: "…" })]);
        return Draft.api("POST", base + "/draft/test").then(function (res) {
          if (res.ok || res.status === 422) showTests(res.data || {}, document.getElementById("test-result"), word); else failed(res);
        });
      },
      diff: function () {
        return Draft.api("GET", base + "/draft/diff").then(function (res) {
          if (!res.ok) return failed(res);
          fill("diff-result", res.data.changes.length ? [changeList(res.data.changes)] : [el("p", { class: "muted", text: word("no-changes") })]);
          fill("affected-result", affectedNodes(res.data.affected || {}));
        });
      }
    };
    root.querySelectorAll("[data-step]").forEach(function (b) {
      b.addEventListener("click", function () { steps[b.getAttribute("data-step")](); });
    });

    document.getElementById("publish-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var note = e.target.elements.note.value.trim();
      draftPromise.then(function (d) {
        var body = { revision: d.revision };
        if (note) body.note = note;
        return Draft.api("POST", base + "/draft/publish", body);
      }).then(function (res) {
        var box = fill("publish-result", []);
        if (res.ok) {
          box.appendChild(el("p", { class: "ok", "data-version": res.data.version, text: fillIn(word("published"), { version: res.data.version }) }));
          location.href = location.pathname + "?published=" + encodeURIComponent(res.data.version);
        } else {
          if (res.data && res.data.scenarios) showTests(res.data.scenarios, document.getElementById("test-result"), word);
          Draft.showProblems((res.data && res.data.problems) || [], box, res.data && res.data.message);
        }
      });
    });

    root.querySelectorAll("[data-rollback]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (!confirm(word("rollback-confirm"))) return;
        Draft.api("POST", base + "/rollback", { version: parseInt(b.getAttribute("data-rollback"), 10) })
          .then(function (res) { if (res.ok) location.reload(); else failed(res); });
      });
    });
    steps.check();
    steps.diff();
  }

  window.DesignerPages = { showTests: showTests, failed: failed };
  document.addEventListener("DOMContentLoaded", function () {
    indexPage();
    overviewPage();
    publishPage();
  });
})();
