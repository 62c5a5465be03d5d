// The rule editor: a ticket type's rules as forms — trigger, condition, actions — over the draft.
//
// Rules are listed in the order they run; dragging a card (SortableJS) reorders them and renumbers
// their `order`. Triggers, actions and notification channels come from the engines' registries
// (data-palette). Conditions are checked as you type. "Try on ticket #N" runs the rule engine's dry
// run with the draft as the candidate definition, "Replay" its replay over past tickets; neither
// writes anything. Problems the engines find (POST .../draft/check) are shown on the rule concerned.
(function () {
  "use strict";

  var Kit, E, w, palette, draft, type, root, selected = 0, problems = {};

  function rules() {
    var tt = draft.definition.ticket_types[type];
    if (!tt.rules) tt.rules = [];
    return tt.rules;
  }
  function rulesOf(def) {
    var tt = def.ticket_types[type];
    if (!tt.rules) tt.rules = [];
    return tt.rules;
  }
  // The running order: ascending `order` (0 when missing), then as written.
  function runOrder() {
    return rules().map(function (r, i) { return i; }).sort(function (a, b) {
      return ((rules()[a].order || 0) - (rules()[b].order || 0)) || a - b;
    });
  }
  function setOrDrop(o, k, v) { if (v === undefined || v === "" || v === null) delete o[k]; else o[k] = v; }

  function fields() {
    var out = [];
    ((draft.definition.ticket_types[type].form || {}).sections || []).forEach(function (s) {
      (s.fields || []).forEach(function (f) { out.push(f); });
    });
    return out;
  }
  function fieldOptions(blank) {
    return (blank ? [{ value: "", label: blank }] : []).concat(fields().map(function (f) { return { value: f.key, label: Kit.text(f.label) + " (" + f.key + ")" }; }));
  }
  function nodeOptions() {
    var flow = draft.definition.ticket_types[type].flow || { nodes: [] };
    return [{ value: "", label: "—" }].concat(flow.nodes.map(function (n) { return { value: n.id, label: (Kit.text(n.name) || n.id) + " (" + n.id + ")" }; }));
  }
  function assigneeCtx() {
    var def = draft.definition;
    return {
      draft: draft, type: type, kinds: palette.assignee_kinds,
      roles: function () { return Object.keys(def.roles || {}).map(function (k) { var r = def.roles[k]; return { value: k, label: Kit.text(r.name || r) + " (" + k + ")" }; }); },
      userFields: function () { return fields().filter(function (f) { return f.type === "user"; }).map(function (f) { return { value: f.key, label: Kit.text(f.label) }; }); }
    };
  }

  function change(index, fn, label) {
    draft.change(function (def) { fn(rulesOf(def)[index]); }, label || w("rules.edited"));
  }

  // ------------------------------------------------------------------ triggers
  function triggerKind(on) {
    if (typeof on === "string") return { kind: "event", event: on };
    if (on && typeof on === "object") { var k = Object.keys(on)[0]; return { kind: k, arg: on[k] }; }
    return { kind: "event", event: "created" };
  }
  function describeTrigger(on) {
    var t = triggerKind(on);
    if (t.kind === "event") return w("rules.on_event", { event: w("rules.event_" + t.event) });
    var arg = t.arg && typeof t.arg === "object" ? t.arg.field : t.arg;
    return w("rules.trigger_" + t.kind) + ": " + arg;
  }
  // The argument editors of triggers with one, by name.
  var TRIGGER_ARGS = {
    field_changed: function (v, set) { return Kit.select(fieldOptions("—"), v && typeof v === "object" ? v.field : v, set, { "data-prop": "trigger-arg" }); },
    stage_entered: function (v, set) { return Kit.select(nodeOptions(), v, set, { "data-prop": "trigger-arg" }); },
    stage_left: function (v, set) { return Kit.select(nodeOptions(), v, set, { "data-prop": "trigger-arg" }); },
    schedule: function (v, set) { return Kit.input(v, set, { placeholder: "0 9 * * 1-5", "data-prop": "trigger-arg" }); },
    message: function (v, set) { return Kit.select([{ value: "", label: "—" }].concat(palette.inbound_channels), v, set, { "data-prop": "trigger-arg" }); }
  };

  function triggerEditor(index, rule) {
    var t = triggerKind(rule.on);
    var kinds = [{ value: "event", label: w("rules.trigger_event") }].concat(palette.trigger_kinds.map(function (k) { return { value: k, label: w("rules.trigger_" + k) }; }));
    var argBox = E("span", { class: "trigger-arg" });
    function drawArg() {
      argBox.innerHTML = "";
      var cur = triggerKind(rules()[index].on);
      if (cur.kind === "event") {
        argBox.appendChild(Kit.select(palette.events.map(function (e) { return { value: e, label: w("rules.event_" + e) }; }), cur.event, function (v) {
          change(index, function (r) { r.on = v; });
        }, { "data-prop": "trigger-event", "aria-label": w("rules.trigger_event") }));
      } else {
        var make = TRIGGER_ARGS[cur.kind] || function (v, set) { return Kit.input(v, set); };
        argBox.appendChild(make(cur.arg, function (v) {
          change(index, function (r) { var on = {}; on[cur.kind] = v; r.on = on; });
          refreshList();
        }));
      }
    }
    var kindSelect = Kit.select(kinds, t.kind, function (k) {
      change(index, function (r) {
        if (k === "event") r.on = "created";
        else { var on = {}; on[k] = k === "schedule" ? "0 9 * * 1-5" : ""; r.on = on; }
      });
      drawArg();
      refreshList();
    }, { "data-prop": "trigger-kind", "aria-label": w("rules.trigger") });
    drawArg();
    return E("span", { class: "trigger" }, [kindSelect, argBox]);
  }

  // ------------------------------------------------------------------ conditions as forms
  // Rows of "field · comparison · value" joined by and/or become the rule's `if` expression; an
  // expression the rows can show is shown as rows again. Anything else (parentheses, functions,
  // arithmetic) stays in the expression box, for power users.
  var CONDITION_OPS = ["==", "!=", ">", ">=", "<", "<=", "in", "contains", "empty", "not_empty"];
  var CLAUSE = /^([a-z][a-z0-9_]*)\s*(==|!=|>=|<=|>|<)\s*(.+)$/;
  var IN = /^([a-z][a-z0-9_]*)\s+in\s+\((.*)\)$/;
  var CONTAINS = /^contains\(\s*([a-z][a-z0-9_]*)\s*,\s*(.+)\)$/;
  var NOT = /^not\s+([a-z][a-z0-9_]*)$/;
  var NAME = /^([a-z][a-z0-9_]*)$/;

  function literal(text) {
    text = text.trim();
    var m = /^'((?:[^'\\]|\\.)*)'$/.exec(text) || /^"((?:[^"\\]|\\.)*)"$/.exec(text);
    if (m) return m[1].replace(/\\(.)/g, "$1");
    if (/^-?\d+(\.\d+)?$/.test(text) || text === "true" || text === "false") return text;
    return null;
  }
  function quote(field, value) {
    var f = fields().filter(function (x) { return x.key === field; })[0];
    var numeric = f && ["number", "money", "rating", "formula"].indexOf(f.type) >= 0;
    if ((numeric && /^-?\d+(\.\d+)?$/.test(value)) || (f && f.type === "checkbox" && (value === "true" || value === "false"))) return value;
    return "'" + String(value).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
  }
  function parseCondition(text) {
    text = (text || "").trim();
    if (!text) return { join: "and", rows: [] };
    var join = / or /.test(text) && !/ and /.test(text) ? "or" : "and";
    var rows = [];
    var ok = text.split(join === "or" ? / or / : / and /).every(function (part) {
      part = part.trim();
      var m;
      if ((m = IN.exec(part))) {
        var items = m[2].split(",").map(literal);
        if (items.some(function (x) { return x === null; })) return false;
        rows.push({ field: m[1], op: "in", value: items.join(", ") });
      } else if ((m = CONTAINS.exec(part)) && literal(m[2]) !== null) rows.push({ field: m[1], op: "contains", value: literal(m[2]) });
      else if ((m = NOT.exec(part))) rows.push({ field: m[1], op: "empty", value: "" });
      else if ((m = CLAUSE.exec(part)) && literal(m[3]) !== null) rows.push({ field: m[1], op: m[2], value: literal(m[3]) });
      else if ((m = NAME.exec(part)) && part !== "true" && part !== "false") rows.push({ field: m[1], op: "not_empty", value: "" });
      else return false;
      return true;
    });
    return ok ? { join: join, rows: rows } : null;
  }
  function writeCondition(state) {
    var parts = state.rows.filter(function (r) { return r.field; }).map(function (r) {
      if (r.op === "empty") return "not " + r.field;
      if (r.op === "not_empty") return r.field;
      if (r.op === "contains") return "contains(" + r.field + ", " + quote(r.field, r.value) + ")";
      if (r.op === "in") return r.field + " in (" + String(r.value).split(/[,，]/).map(function (v) { return quote(r.field, v.trim()); }).join(", ") + ")";
      return r.field + " " + r.op + " " + quote(r.field, r.value);
    });
    return parts.join(" " + state.join + " ") || undefined;
  }

  // A field with options offers them; a checkbox yes/no; anything else (and "is one of") is typed.
  function valueControl(r, emit) {
    var f = fields().filter(function (x) { return x.key === r.field; })[0] || {};
    var attrs = { "aria-label": w("rules.value"), "data-role": "condition-value" };
    var options = Array.isArray(f.options) ? f.options.map(function (o) {
      return typeof o === "object" ? { value: String(o.value), label: Kit.text(o.label) || String(o.value) } : { value: String(o), label: String(o) };
    }) : f.type === "checkbox" ? [{ value: "true", label: w("rules.yes") }, { value: "false", label: w("rules.no") }] : null;
    if (!options || r.op === "in" || r.op === "contains") return Kit.input(r.value, function (v) { r.value = v; emit(); }, attrs);
    if (!r.value) r.value = options[0].value;
    return Kit.select(options, r.value, function (v) { r.value = v; emit(); }, attrs);
  }

  function conditionBuilder(text, onChange) {
    var el = E("div", { class: "condition-builder" });
    var state = { join: "and", rows: [] };
    function emit() { onChange(writeCondition(state)); }
    function draw(parsed) {
      el.innerHTML = "";
      if (!parsed) { el.appendChild(E("p", { class: "muted small", text: w("rules.condition_custom") })); return; }
      state = parsed;
      if (state.rows.length > 1) {
        el.appendChild(Kit.select([{ value: "and", label: w("rules.join_and") }, { value: "or", label: w("rules.join_or") }], state.join, function (v) {
          state.join = v; emit();
        }, { "data-role": "condition-join", "aria-label": w("rules.join") }));
      }
      state.rows.forEach(function (r, i) {
        var needsValue = r.op !== "empty" && r.op !== "not_empty";
        el.appendChild(E("div", { class: "map-row condition-row" }, [
          Kit.select(fieldOptions("—"), r.field, function (v) { r.field = v; r.value = ""; valueControl(r, function () {}); emit(); draw(state); }, { "aria-label": w("rules.field"), "data-role": "condition-field" }),
          Kit.select(CONDITION_OPS.map(function (o) { return { value: o, label: w("rules.op_" + o) }; }), r.op, function (v) {
            r.op = v; emit(); draw(state);
          }, { "aria-label": w("rules.comparison"), "data-role": "condition-op" }),
          needsValue ? valueControl(r, emit) : E("span"),
          Kit.button("×", function () { state.rows.splice(i, 1); emit(); draw(state); }, { class: "button small secondary", "aria-label": w("rules.remove") })
        ]));
      });
      el.appendChild(Kit.button(w("rules.add_condition"), function () {
        state.rows.push({ field: "", op: "==", value: "" });
        draw(state);
      }, { "data-action": "add-condition" }));
    }
    draw(parseCondition(text));
    return { el: el, load: function (t) { draw(parseCondition(t)); } };
  }

  // ------------------------------------------------------------------ actions
  // The form of each action kind is shared with the flow designer (escalation steps, auto nodes):
  // Kit.actionForms in editor_kit.js. Built on use, so that it sees the current definition.
  function actionForms() {
    return Kit.actionForms({ draft: draft, type: type, palette: palette, people: assigneeCtx(), fields: fields, nodes: nodeOptions });
  }
  function actionKind(item) { return Object.keys(item).filter(function (k) { return k !== "if" && k !== "map"; })[0]; }

  function actionEditor(index, ai, item) {
    var kind = actionKind(item);
    function setItem(key, value) {
      change(index, function (r) { setOrDrop(r.do[ai], key, value); });
    }
    function replace(newKind) {
      var spec = actionForms()[newKind];
      change(index, function (r) {
        var fresh = {};
        fresh[newKind] = spec ? spec.fresh() : {};
        r.do[ai] = fresh;
      });
      draw();
    }
    var form = actionForms()[kind] || { form: function (v, set) { return Kit.json(v, set); } };
    var card = E("li", { class: "action-card", "data-action-kind": kind }, [
      E("div", { class: "action-head" }, [
        Kit.select(palette.actions.map(function (a) { return { value: a.kind, label: a.label }; }), kind, replace, { "data-prop": "action-kind", "aria-label": w("rules.action") }),
        Kit.button("↑", function () { move(index, ai, -1); }, { class: "button small secondary", "aria-label": w("rules.up") }),
        Kit.button("↓", function () { move(index, ai, 1); }, { class: "button small secondary", "aria-label": w("rules.down") }),
        Kit.button("×", function () {
          change(index, function (r) { r.do.splice(ai, 1); });
          draw();
        }, { class: "button small secondary", "aria-label": w("rules.remove_action") })
      ]),
      form.form(item[kind], function (v) { setItem(kind, v); }, item, setItem),
      Kit.field(w("rules.action_if"), Kit.expression(draft, type, "condition", item.if, function (v) { setItem("if", v); }, { "data-prop": "action-if" }))
    ]);
    return card;
  }

  function move(index, ai, delta) {
    var to = ai + delta;
    if (to < 0 || to >= rules()[index].do.length) return;
    change(index, function (r) { var x = r.do.splice(ai, 1)[0]; r.do.splice(to, 0, x); });
    draw();
  }

  // ------------------------------------------------------------------ the list and the editor
  function refreshList() {
    var list = document.getElementById("rule-list");
    list.innerHTML = "";
    runOrder().forEach(function (i) {
      var r = rules()[i];
      var bad = problems[i] || [];
      var toggle = Kit.check(r.enabled !== false, function (v) {
        change(i, function (x) { setOrDrop(x, "enabled", v ? undefined : false); }, v ? w("rules.enabled") : w("rules.disabled"));
        refreshList();
      }, { "aria-label": w("rules.enabled"), "data-role": "enable" });
      var card = E("li", { class: "rule-card" + (i === selected ? " on" : "") + (r.enabled === false ? " off" : "") + (bad.length ? " bad" : ""), "data-index": String(i), "data-rule": r.name }, [
        E("span", { class: "drag", title: w("rules.drag"), text: "⋮⋮" }),
        toggle,
        E("span", { class: "rule-title" }, [E("strong", { text: r.name }), E("small", { class: "muted", text: describeTrigger(r.on) })]),
        bad.length ? E("span", { class: "rule-bad", title: bad.join("\n"), text: "⚠ " + bad.length }) : null
      ]);
      card.addEventListener("click", function (ev) {
        if (ev.target.tagName === "INPUT") return;
        selected = i;
        draw();
      });
      list.appendChild(card);
    });
  }

  // After a check only the cards' marks change (the list is not redrawn under the pointer).
  function markCards() {
    document.querySelectorAll("#rule-list .rule-card").forEach(function (card) {
      var bad = problems[+card.getAttribute("data-index")] || [];
      card.classList.toggle("bad", bad.length > 0);
      var mark = card.querySelector(".rule-bad");
      if (mark) mark.remove();
      if (bad.length) card.appendChild(E("span", { class: "rule-bad", title: bad.join("\n"), text: "⚠ " + bad.length }));
    });
  }

  function editor() {
    var box = document.getElementById("rule-form");
    box.innerHTML = "";
    var r = rules()[selected];
    if (!r) { box.appendChild(E("p", { class: "muted", text: w("rules.none") })); return; }
    var index = selected;
    var bad = problems[index] || [];
    if (bad.length) box.appendChild(Kit.problems(bad.map(function (m) { return { message: m }; })));
    box.appendChild(Kit.field(w("rules.name"), Kit.input(r.name, function (v) {
      change(index, function (x) { x.name = v.trim() || x.name; });
      refreshList();
    }, { "data-prop": "name" })));
    box.appendChild(Kit.field(w("rules.trigger"), triggerEditor(index, r)));
    var expr = Kit.expression(draft, type, "condition", r.if, function (v) {
      change(index, function (x) { setOrDrop(x, "if", v); });
      builder.load(v);
    }, { "data-prop": "if", placeholder: "priority == 'P1' and vip" });
    var builder = conditionBuilder(r.if, function (text) {
      expr.input.value = text || "";
      expr.check();
      change(index, function (x) { setOrDrop(x, "if", text); });
    });
    box.appendChild(E("fieldset", { class: "panel-section", "data-section": "condition" }, [
      E("legend", { text: w("rules.condition") }), builder.el,
      Kit.field(w("rules.condition_expr"), expr, w("rules.condition_hint"))
    ]));
    box.appendChild(Kit.field(w("rules.stop"), Kit.check(r.stop, function (v) { change(index, function (x) { setOrDrop(x, "stop", v || undefined); }); })));
    var actions = E("ol", { class: "actions" });
    (r.do || []).forEach(function (item, ai) { actions.appendChild(actionEditor(index, ai, item)); });
    var addKind = Kit.select(palette.actions.map(function (a) { return { value: a.kind, label: a.label }; }), "notify", function () { /* chosen on add */ }, { "data-role": "new-action-kind", "aria-label": w("rules.action") });
    box.appendChild(E("fieldset", { class: "panel-section" }, [
      E("legend", { text: w("rules.actions") }), actions,
      E("div", { class: "connect-row" }, [addKind, Kit.button(w("rules.add_action"), function () {
        var spec = actionForms()[addKind.value];
        change(index, function (x) { var item = {}; item[addKind.value] = spec ? spec.fresh() : {}; x.do = (x.do || []).concat([item]); });
        draw();
      }, { "data-action": "add-action" })])
    ]));
    box.appendChild(E("details", { class: "panel-section advanced" }, [
      E("summary", { text: w("rules.advanced") }),
      Kit.json(r, function (v) {
        if (!v || typeof v !== "object") return;
        draft.change(function (def) { rulesOf(def)[index] = v; }, w("rules.edited"));
        draw();
      }, { rows: "10" })
    ]));
    box.appendChild(E("p", { class: "panel-actions" }, [Kit.button(w("rules.delete"), function () {
      draft.change(function (def) { rulesOf(def).splice(index, 1); }, w("rules.deleted"));
      selected = Math.max(0, index - 1);
      draw();
    }, { class: "button small danger", "data-action": "delete-rule" })]));
  }

  function draw() { refreshList(); editor(); }

  function addRule() {
    var n = rules().length + 1;
    var names = {};
    rules().forEach(function (r) { names[r.name] = true; });
    var name = w("rules.new_name", { n: n });
    while (names[name]) name = w("rules.new_name", { n: ++n });
    var maxOrder = rules().reduce(function (m, r) { return Math.max(m, r.order || 0); }, 0);
    draft.change(function (def) {
      rulesOf(def).push({ name: name, on: "created", order: maxOrder + 1, do: [{ notify: { channel: "email", to: "assignee" } }] });
    }, w("rules.added"));
    selected = rules().length - 1;
    draw();
  }

  // Dragging a card: the rules are written in their new running order, numbered 1, 2, 3 …
  function reorder(fromPos, toPos) {
    var order = runOrder();
    var moved = order.splice(fromPos, 1)[0];
    order.splice(toPos, 0, moved);
    var selectedRule = rules()[selected];
    draft.change(function (def) {
      var tt = def.ticket_types[type];
      tt.rules = order.map(function (i, pos) { var r = tt.rules[i]; r.order = pos + 1; return r; });
    }, w("rules.reordered"));
    selected = Math.max(0, rules().indexOf(selectedRule));
    if (selected < 0) selected = 0;
    draw();
  }

  // ------------------------------------------------------------------ try it: dry run and replay
  function tryUrl(what) {
    return "/api/v1/apps/" + encodeURIComponent(draft.key) + "/ticket_types/" + encodeURIComponent(type) + "/rules/" + what;
  }

  function table(head, rows) {
    var t = E("table", { class: "list" });
    t.appendChild(E("thead", {}, [E("tr", {}, head.map(function (h) { return E("th", { text: h }); }))]));
    var body = E("tbody");
    rows.forEach(function (r) { body.appendChild(E("tr", {}, r.map(function (c) { return E("td", { text: c === undefined || c === null ? "" : String(c) }); }))); });
    t.appendChild(body);
    return t;
  }

  function showError(box, res) {
    var data = res.data || {};
    box.appendChild(E("p", { class: "error", text: data.message || w("rules.try_failed") }));
    if (data.problems && data.problems.length) box.appendChild(Kit.problems(data.problems));
  }

  function dryRun() {
    var box = document.getElementById("rule-try-result");
    var raw = (document.getElementById("rule-try-ticket").value || "").replace(/^#/, "").trim();
    box.innerHTML = "";
    var body = { definition: draft.definition };
    var changes = {};
    tryRows.forEach(function (r) { if (r[0]) changes[r[0]] = tryValue(r[1]); });
    if (Object.keys(changes).length) body.data = changes;
    if (raw) {
      if (!/^\d+$/.test(raw)) { box.appendChild(E("p", { class: "error", text: w("rules.bad_ticket", { value: raw }) })); return; }
      body.ticket_id = parseInt(raw, 10);
    }
    box.dataset.state = "running";
    box.appendChild(E("p", { class: "muted", text: w("rules.trying") }));
    // On an existing ticket the answer holds its whole history: a second dry run without the
    // changes gives that history, and only what goes beyond it is shown.
    var baseline = body.ticket_id ? Draft.api("POST", tryUrl("dry_run"), { ticket_id: body.ticket_id, definition: draft.definition }) : Promise.resolve(null);
    Promise.all([Draft.api("POST", tryUrl("dry_run"), body), baseline]).then(function (both) {
      var res = both[0], before = both[1] && both[1].ok ? both[1].data : null;
      box.innerHTML = "";
      box.dataset.state = res.ok ? "done" : "failed";
      if (!res.ok) { showError(box, res); return; }
      var d = before ? beyond(res.data, before) : res.data;
      var ticket = d.ticket || {};
      box.appendChild(E("h3", { text: w("rules.dry_run_of", { ticket: ticket.number || (raw ? "#" + raw : w("rules.new_ticket")) }) }));
      var runs = d.rule_runs || [];
      box.appendChild(runs.length
        ? table([w("rules.rule"), w("rules.matched"), w("rules.did")], runs.map(function (r) {
          return [r.rule, r.matched ? w("rules.yes") : w("rules.no"), (r.actions || []).join(", ") + (r.error ? " ⚠ " + r.error : "")];
        }))
        : E("p", { class: "muted", text: w("rules.no_rule_met") }));
      var out = d.outbox || [];
      box.appendChild(E("h4", { text: w("rules.would_send", { count: out.length }) }));
      if (out.length) {
        box.appendChild(table([w("rules.kind"), w("rules.target")], out.map(function (o) {
          var p = o.payload || {};
          return [o.channel || "", p.url || p.to || p.robot || p.template || JSON.stringify(p).slice(0, 120)];
        })));
      }
      var events = (d.events || []).map(function (e) { return e.type || e.kind || ""; }).filter(Boolean);
      if (events.length) box.appendChild(E("p", { class: "muted", text: w("rules.events", { events: events.join(", ") }) }));
    });
  }

  // What a dry run did beyond the ticket's history (events and rule runs come in order; pending
  // messages are compared by content).
  function beyond(after, before) {
    var seen = {};
    (before.outbox || []).forEach(function (o) { var k = JSON.stringify(o); seen[k] = (seen[k] || 0) + 1; });
    return {
      ticket: after.ticket,
      events: (after.events || []).slice((before.events || []).length),
      rule_runs: (after.rule_runs || []).slice((before.rule_runs || []).length),
      outbox: (after.outbox || []).filter(function (o) { var k = JSON.stringify(o); if (seen[k]) { seen[k]--; return false; } return true; })
    };
  }

  // "With these changes": field → value rows (a value is read as JSON when it parses, else as text).
  var tryRows = [];
  function tryValue(text) {
    try { return JSON.parse(text); } catch (e) { return text; }
  }
  function drawTryRows() {
    var box = document.getElementById("rule-try-changes");
    box.innerHTML = "";
    tryRows.forEach(function (r, i) {
      box.appendChild(E("div", { class: "map-row" }, [
        Kit.select(fieldOptions("—"), r[0], function (v) { r[0] = v; }, { "aria-label": w("rules.field"), "data-role": "try-field" }),
        Kit.input(r[1], function (v) { r[1] = v; }, { "aria-label": w("rules.value"), "data-role": "try-value" }),
        Kit.button("×", function () { tryRows.splice(i, 1); drawTryRows(); }, { class: "button small secondary", "aria-label": w("rules.remove") })
      ]));
    });
    box.appendChild(Kit.button(w("rules.add_change"), function () { tryRows.push(["", ""]); drawTryRows(); }, { "data-action": "add-try-change" }));
  }

  function replay() {
    var box = document.getElementById("rule-replay-result");
    var days = parseInt(document.getElementById("rule-replay-days").value || "30", 10);
    box.innerHTML = "";
    box.dataset.state = "running";
    box.appendChild(E("p", { class: "muted", text: w("rules.replaying") }));
    Draft.api("POST", tryUrl("replay"), { days: days, definition: draft.definition }).then(function (res) {
      box.innerHTML = "";
      box.dataset.state = res.ok ? "done" : "failed";
      if (!res.ok) { showError(box, res); return; }
      var items = res.data.items || [];
      box.appendChild(E("h3", { text: w("rules.replay_of", { days: days }) }));
      box.appendChild(items.length ? table([w("rules.rule"), w("rules.events_met"), w("rules.events_matched"), w("rules.tickets_matched"), w("rules.did")], items.map(function (i) {
        return [i.rule, i.events_met, i.events_matched, i.tickets_matched, Object.keys(i.actions || {}).map(function (k) { return k + " ×" + i.actions[k]; }).join(", ") + (Object.keys(i.errors || {}).length ? " ⚠ " + Object.keys(i.errors).join("; ") : "")];
      })) : E("p", { class: "muted", text: w("rules.no_rule_met") }));
    });
  }

  // ------------------------------------------------------------------ problems
  var PATH = /^ticket_types\.([^.[\]]+)\.rules\[(\d+)\]/;
  function runCheck() {
    draft.check().then(function (res) {
      var next = {};
      (res.problems || []).forEach(function (p) {
        var m = PATH.exec(p.path || "");
        if (m && m[1] === type) (next[+m[2]] = next[+m[2]] || []).push((p.path.slice(m[0].length).replace(/^\./, "") ? p.path.slice(m[0].length).replace(/^\./, "") + ": " : "") + p.message);
      });
      problems = next;
      root.dataset.problems = String(Object.keys(next).length);
      markCards();
      var box = document.getElementById("rule-form");
      var list = box.querySelector(":scope > ul.problems");
      var bad = problems[selected] || [];
      if (list) list.remove();
      if (bad.length) box.insertBefore(Kit.problems(bad.map(function (m) { return { message: m }; })), box.firstChild);
    });
  }

  function start() {
    var shell = document.querySelector(".designer-shell");
    root = document.getElementById("rule-editor");
    if (!shell || !root) return;
    Kit = window.Kit;
    E = Kit.E;
    w = Kit.w;
    Kit.words(document.getElementById("editor-words"));
    palette = JSON.parse(root.getAttribute("data-palette"));
    type = shell.dataset.ticketType;
    document.querySelector("[data-action=save]").addEventListener("click", function () { draft.save(); });
    document.querySelector("[data-action=undo]").addEventListener("click", function () { draft.undo(); });
    document.querySelector("[data-action=redo]").addEventListener("click", function () { draft.redo(); });
    document.querySelector("[data-action=add-rule]").addEventListener("click", addRule);
    document.getElementById("rule-try").addEventListener("submit", function (e) { e.preventDefault(); dryRun(); });
    document.getElementById("rule-replay").addEventListener("submit", function (e) { e.preventDefault(); replay(); });
    Draft.load(shell.dataset.app).then(function (d) {
      draft = d;
      if (!draft.typeDef(type)) return;
      selected = runOrder()[0] || 0;
      draw();
      drawTryRows();
      if (window.Sortable) {
        window.Sortable.create(document.getElementById("rule-list"), {
          handle: ".drag", animation: 120,
          onEnd: function (ev) { if (ev.oldIndex !== ev.newIndex) reorder(ev.oldIndex, ev.newIndex); }
        });
      }
      var later = Draft.debounce(runCheck, 400);
      draft.on("change", function (detail) {
        var label = detail && detail.label;
        if (label === "undo" || label === "redo" || label === "reload") draw();
        later();
      });
      root.dataset.ready = "1";
      runCheck();
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
