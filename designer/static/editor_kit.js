// Small form widgets shared by the flow designer, the rule editor and the report builder.
//
// Each editor builds its panels from these so that an assignee, an expression or a zh/en text is
// edited the same way everywhere. Widgets never write the draft themselves: they call back with the
// new value and the editor stores it through draft.change() (one undo step per committed edit).
//
//   Kit.words(el)                 merge the editor's words (data-words JSON) into Draft.words
//   Kit.text(v)                   an i18n text {zh, en} or a string, in the page's language
//   Kit.field(label, control, hint)      a labelled row
//   Kit.select(options, value, onChange, attrs)   options: [{value, label}] or strings
//   Kit.input(value, onChange, attrs)    commits on change (blur / Enter)
//   Kit.check(value, onChange, attrs)    a checkbox
//   Kit.i18n(value, onChange)            zh + en inputs -> {zh, en} (undefined when both empty)
//   Kit.expression(draft, type, kind, value, onChange, attrs)   checked as you type
//   Kit.json(value, onChange, attrs)     a JSON textarea (advanced): refuses what does not parse
//   Kit.assignee(spec, ctx, onChange)    one assignee: kind (the strategies registry) + value
//   Kit.problems(list)                   a <ul> of problems
//   Kit.actions(list, ctx, onChange)     a list of actions (notify, assign, set …) as forms, with add /
//                                        move / remove; Kit.actionForms(ctx) the form of each kind
(function () {
  "use strict";
  var E = function (tag, attrs, children) { return window.Draft.el(tag, attrs, children); };
  var w = function (k, p) { return window.Draft.w(k, p); };
  var lang = (document.documentElement.getAttribute("lang") || "zh").slice(0, 2);

  function words(el) {
    if (!el) return;
    try { Object.assign(window.Draft.words, JSON.parse(el.getAttribute("data-words") || "{}")); } catch (e) { /* none */ }
  }

  function text(v) {
    if (v === undefined || v === null) return "";
    if (typeof v === "string") return v;
    return v[lang] || v.zh || v.en || "";
  }

  function field(label, control, hint) {
    var row = E("label", { class: "kit-field" }, [E("span", { class: "kit-label", text: label }), control]);
    if (hint) row.appendChild(E("small", { class: "muted", text: hint }));
    return row;
  }

  function select(options, value, onChange, attrs) {
    var s = E("select", attrs || {});
    options.forEach(function (o) {
      var opt = typeof o === "string" ? { value: o, label: o } : o;
      var node = E("option", { value: opt.value, text: opt.label });
      if (String(opt.value) === String(value === undefined || value === null ? "" : value)) node.selected = true;
      s.appendChild(node);
    });
    s.addEventListener("change", function () { onChange(s.value); });
    return s;
  }

  function input(value, onChange, attrs) {
    var i = E("input", Object.assign({ type: "text" }, attrs || {}));
    i.value = value === undefined || value === null ? "" : String(value);
    i.addEventListener("change", function () { onChange(i.value); });
    return i;
  }

  function check(value, onChange, attrs) {
    var c = E("input", Object.assign({ type: "checkbox" }, attrs || {}));
    c.checked = !!value;
    c.addEventListener("change", function () { onChange(c.checked); });
    return c;
  }

  function i18n(value, onChange) {
    var v = typeof value === "string" ? { zh: value, en: value } : Object.assign({}, value || {});
    var box = E("span", { class: "kit-i18n" });
    ["zh", "en"].forEach(function (l) {
      box.appendChild(input(v[l], function (x) {
        if (x) v[l] = x; else delete v[l];
        onChange(Object.keys(v).length ? Object.assign({}, v) : undefined);
      }, { "aria-label": w("ed.lang_" + l), placeholder: w("ed.lang_" + l), "data-lang": l }));
    });
    return box;
  }

  // An expression input: checked by the engines while typing (POST .../draft/expression); a problem
  // underlines the input and says what is wrong and where (column).
  function expression(draft, type, kind, value, onChange, attrs) {
    var box = E("span", { class: "kit-expr" });
    var i = input(value, function (x) { onChange(x.trim() ? x.trim() : undefined); },
      Object.assign({ class: "expr", spellcheck: "false", autocomplete: "off" }, attrs || {}));
    var note = E("small", { class: "kit-expr-note", "aria-live": "polite" });
    box.appendChild(i);
    box.appendChild(note);
    var seq = 0;
    function run() {
      var src = i.value.trim();
      var mine = ++seq;
      if (!src) { i.classList.remove("bad", "good"); i.removeAttribute("aria-invalid"); note.textContent = ""; return; }
      draft.expression(type, src, kind).then(function (res) {
        if (mine !== seq) return;
        var bad = !res.ok;
        i.classList.toggle("bad", bad);
        i.classList.toggle("good", !bad);
        if (bad) i.setAttribute("aria-invalid", "true"); else i.removeAttribute("aria-invalid");
        note.className = "kit-expr-note " + (bad ? "error" : "ok");
        note.textContent = bad
          ? (res.problems || []).map(function (p) { return (p.column ? w("ed.column", { column: p.column }) + " " : "") + p.message; }).join(" ")
          : w("ed.expr_ok");
      });
    }
    var later = window.Draft.debounce(run, 250);
    i.addEventListener("input", later);
    if (value) run();
    box.check = run;
    box.input = i;
    return box;
  }

  function json(value, onChange, attrs) {
    var box = E("span", { class: "kit-json" });
    var t = E("textarea", Object.assign({ rows: "4", spellcheck: "false" }, attrs || {}));
    t.value = value === undefined ? "" : JSON.stringify(value, null, 2);
    var note = E("small", { class: "kit-expr-note" });
    t.addEventListener("change", function () {
      var src = t.value.trim();
      if (!src) { note.textContent = ""; onChange(undefined); return; }
      try {
        var parsed = JSON.parse(src);
        note.textContent = "";
        t.classList.remove("bad");
        onChange(parsed);
      } catch (e) {
        t.classList.add("bad");
        note.className = "kit-expr-note error";
        note.textContent = w("ed.bad_json", { reason: e.message });
      }
    });
    box.appendChild(t);
    box.appendChild(note);
    return box;
  }

  // The value editors of the assignee kinds, by the input kind the server gives each strategy.
  var ASSIGNEE_VALUES = {
    text: function (v, ctx, set) { return input(v, set, { "aria-label": w("ed.assignee_value") }); },
    role: function (v, ctx, set) {
      return select([{ value: "", label: "—" }].concat(ctx.roles()), v, set, { "aria-label": w("ed.assignee_value") });
    },
    field: function (v, ctx, set) {
      return select([{ value: "", label: "—" }].concat(ctx.userFields()), v, set, { "aria-label": w("ed.assignee_value") });
    },
    yes: function () { return E("span", { class: "muted", text: w("ed.assignee_yes") }); },
    choice: function (v, ctx, set, kind) {
      return select(kind.choices.map(function (c) { return { value: c, label: w("ed.choice_" + c) }; }), v || kind.choices[0],
        set, { "aria-label": w("ed.assignee_value") });
    },
    expr: function (v, ctx, set) { return expression(ctx.draft, ctx.type, "value", v, set, { "aria-label": w("ed.assignee_value") }); },
    object: function (v, ctx, set) { return json(v || {}, set, { "aria-label": w("ed.assignee_value") }); }
  };

  // One assignee {kind: value}: the kinds are the assignee strategies' registry (from the page).
  function assignee(spec, ctx, onChange) {
    var kinds = ctx.kinds; // [{kind, label, input, choices?}]
    var current = spec && typeof spec === "object" ? Object.keys(spec)[0] : "";
    var box = E("span", { class: "kit-assignee" });
    function valueBox(kindName, value) {
      var kind = kinds.filter(function (k) { return k.kind === kindName; })[0];
      if (!kind) return E("span");
      var make = ASSIGNEE_VALUES[kind.input] || ASSIGNEE_VALUES.text;
      return make(value, ctx, function (v) {
        var out = {};
        out[kindName] = kind.input === "yes" ? true : v;
        if (v === undefined || v === "") { onChange(undefined); return; }
        onChange(out);
      }, kind);
    }
    var holder = E("span", { class: "kit-assignee-value" });
    var kindSelect = select([{ value: "", label: w("ed.assignee_none") }].concat(kinds.map(function (k) {
      return { value: k.kind, label: k.label };
    })), current, function (k) {
      holder.innerHTML = "";
      if (!k) { onChange(undefined); return; }
      var fresh = {};
      var kind = kinds.filter(function (x) { return x.kind === k; })[0];
      if (kind.input === "yes") { fresh[k] = true; onChange(fresh); }
      else if (kind.input === "choice") { fresh[k] = kind.choices[0]; onChange(fresh); }
      holder.appendChild(valueBox(k, fresh[k]));
    }, { "aria-label": w("ed.assignee_kind"), "data-role": "assignee-kind" });
    box.appendChild(kindSelect);
    if (current) holder.appendChild(valueBox(current, spec[current]));
    box.appendChild(holder);
    return box;
  }

  function problems(list) {
    var ul = E("ul", { class: "problems" });
    (list || []).forEach(function (p) {
      ul.appendChild(E("li", { class: p.severity === "warning" ? "warning" : "error", "data-path": p.path || "" }, [
        E("span", { text: p.message || p.code || "" })
      ]));
    });
    return ul;
  }

  function button(label, onClick, attrs) {
    var b = E("button", Object.assign({ type: "button", class: "button small" }, attrs || {}));
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // ------------------------------------------------------------------ actions (rules, escalation, auto nodes)
  // The action forms are shared by every place that lists actions: a rule's "do", an escalation
  // step's "do" and an auto node's "actions" are the same thing (the actions registry), so they are
  // edited by the same widgets. ctx: {draft, type, palette: {actions, channels, methods,
  // builtin_templates}, fields() -> [field defs], nodes() -> [{value, label}], people -> the
  // assignee context (see assignee above)}.
  function setOrDrop(o, k, v) { if (v === undefined || v === "" || v === null) delete o[k]; else o[k] = v; }

  // Rows of field -> expression (set, call's map).
  function mapRows(ctx, value, onChange, valueKind) {
    var box = E("div", { class: "map-rows" });
    var rows = Object.keys(value || {}).map(function (k) { return [k, value[k]]; });
    var fieldOptions = [{ value: "", label: "—" }].concat(ctx.fields().map(function (f) { return { value: f.key, label: text(f.label) + " (" + f.key + ")" }; }));
    function emit() {
      var out = {};
      rows.forEach(function (r) { if (r[0]) out[r[0]] = r[1]; });
      onChange(Object.keys(out).length ? out : undefined);
    }
    function draw() {
      box.innerHTML = "";
      rows.forEach(function (r, i) {
        box.appendChild(E("div", { class: "map-row" }, [
          select(fieldOptions, r[0], function (v) { r[0] = v; emit(); }, { "aria-label": w("rules.field") }),
          expression(ctx.draft, ctx.type, valueKind || "value", r[1], function (v) { r[1] = v || ""; emit(); }, { "aria-label": w("rules.value") }),
          button("×", function () { rows.splice(i, 1); emit(); draw(); }, { class: "button small secondary", "aria-label": w("rules.remove") })
        ]));
      });
      box.appendChild(button(w("rules.add_field"), function () { rows.push(["", ""]); draw(); }));
    }
    draw();
    return box;
  }

  function templateOptions(ctx) {
    var names = Object.keys(ctx.draft.definition.templates || {});
    return [{ value: "", label: w("rules.template_default") }].concat(names.concat(ctx.palette.builtin_templates || []).map(function (n) { return { value: n, label: n }; }));
  }

  // The form of each action kind: {fresh() -> a new value, form(value, set, item, setItem) -> element}.
  // A kind not listed here is edited as JSON.
  function actionForms(ctx) {
    function sub(v, set, rows) {
      v = Object.assign({}, v);
      function put(k, x) { setOrDrop(v, k, x); set(Object.assign({}, v)); }
      return E("div", { class: "sub-form" }, rows(v, put));
    }
    return {
      set: { fresh: function () { return {}; }, form: function (v, set) { return mapRows(ctx, v, set); } },
      assign: { fresh: function () { return { submitter: true }; }, form: function (v, set) { return assignee(v, ctx.people, set); } },
      watch: { fresh: function () { return { submitter: true }; }, form: function (v, set) { return assignee(v, ctx.people, set); } },
      notify: {
        fresh: function () { return { channel: "email", to: "assignee" }; },
        form: function (v, set) {
          return sub(v, set, function (v, put) {
            return [
              field(w("rules.channel"), select(ctx.palette.channels.map(function (c) { return { value: c, label: w("rules.channel_" + c) }; }), v.channel, function (x) { put("channel", x); }, { "data-prop": "channel" })),
              field(w("rules.to"), input(v.to, function (x) { put("to", x.trim()); }, { placeholder: "assignee, submitter, cs_lead, a@b.com", "data-prop": "to" }), w("rules.to_hint")),
              field(w("rules.robot"), input(v.robot, function (x) { put("robot", x.trim()); }, { "data-prop": "robot" }), w("rules.robot_hint")),
              field(w("rules.template"), select(templateOptions(ctx), v.template || "", function (x) { put("template", x); }, { "data-prop": "template" }))
            ];
          });
        }
      },
      webhook: {
        fresh: function () { return { url: "https://" }; },
        form: function (v, set) {
          return field(w("rules.url"), input((v || {}).url, function (x) { set({ url: x.trim() }); }, { type: "url", placeholder: "https://example.com/hook", "data-prop": "url" }));
        }
      },
      call: {
        fresh: function () { return { url: "https://" }; },
        form: function (v, set, item, setItem) {
          return sub(v, set, function (v, put) {
            return [
              field(w("rules.url"), input(v.url, function (x) { put("url", x.trim()); }, { "data-prop": "url" }), w("rules.url_hint")),
              field(w("rules.method"), select(ctx.palette.methods || ["GET"], v.method || "GET", function (x) { put("method", x === "GET" ? undefined : x); })),
              field(w("rules.query"), json(v.query, function (x) { put("query", x); })),
              field(w("rules.body"), json(v.body, function (x) { put("body", x); })),
              field(w("rules.timeout"), input(v.timeout_s, function (x) { put("timeout_s", x ? Number(x) : undefined); }, { type: "number", min: "0", step: "any" })),
              field(w("rules.map"), mapRows(ctx, item.map, function (x) { setItem("map", x); }), w("rules.map_hint"))
            ];
          });
        }
      },
      create: {
        fresh: function () { return { type: ctx.type }; },
        form: function (v, set) {
          return sub(v, set, function (v, put) {
            return [
              field(w("rules.create_app"), input(v.app, function (x) { put("app", x.trim()); }, { placeholder: ctx.draft.key })),
              field(w("rules.create_type"), input(v.type, function (x) { put("type", x.trim()); })),
              field(w("rules.create_fields"), json(v.fields, function (x) { put("fields", x); }), w("rules.create_fields_hint"))
            ];
          });
        }
      },
      comment: {
        fresh: function () { return w("rules.new_comment"); },
        form: function (v, set) { return field(w("rules.comment"), input(v, function (x) { set(x); }, { "data-prop": "comment" })); }
      },
      flow: {
        fresh: function () { return { action: "close" }; },
        form: function (v, set) {
          return sub(v, set, function (v, put) {
            return [
              field(w("rules.flow_action"), input(v.action, function (x) { put("action", x.trim()); })),
              field(w("rules.flow_node"), select(ctx.nodes(), v.node || "", function (x) { put("node", x); }))
            ];
          });
        }
      },
      todo: {
        fresh: function () { return { assignee: { submitter: true }, title: { zh: "待办", en: "To do" } }; },
        form: function (v, set) {
          return sub(v, set, function (v, put) {
            return [
              field(w("rules.todo_assignee"), assignee(v.assignee, ctx.people, function (x) { put("assignee", x); })),
              field(w("rules.todo_title"), i18n(v.title, function (x) { put("title", x); })),
              field(w("rules.todo_due"), input(typeof v.due === "string" ? v.due : "", function (x) { put("due", x.trim()); }, { placeholder: "1d" }))
            ];
          });
        }
      },
      escalate: { fresh: function () { return {}; }, form: function (v, set) { return json(v, set); } }
    };
  }

  function actionKind(item) { return Object.keys(item || {}).filter(function (k) { return k !== "if" && k !== "map"; })[0]; }

  // A list of actions as cards (kind, its form, "only if", move, remove) with "add": onChange gets
  // the whole new list (undefined when empty) and the editor stores it as one undo step.
  function actions(list, ctx, onChange, attrs) {
    var forms = actionForms(ctx);
    var items = window.Draft.clone(list || []);
    var box = E("div", Object.assign({ class: "kit-actions" }, attrs || {}));
    function emit() { onChange(items.length ? window.Draft.clone(items) : undefined); }
    function card(item, ai) {
      var kind = actionKind(item);
      var form = forms[kind] || { form: function (v, set) { return json(v, set); } };
      function setItem(key, value) { setOrDrop(items[ai], key, value); emit(); }
      return E("li", { class: "action-card", "data-action-kind": kind }, [
        E("div", { class: "action-head" }, [
          select(ctx.palette.actions.map(function (a) { return { value: a.kind, label: a.label }; }), kind, function (k) {
            var fresh = {};
            fresh[k] = forms[k] ? forms[k].fresh() : {};
            items[ai] = fresh;
            emit();
            draw();
          }, { "data-prop": "action-kind", "aria-label": w("rules.action") }),
          button("↑", function () { move(ai, -1); }, { class: "button small secondary", "aria-label": w("rules.up") }),
          button("↓", function () { move(ai, 1); }, { class: "button small secondary", "aria-label": w("rules.down") }),
          button("×", function () { items.splice(ai, 1); emit(); draw(); }, { class: "button small secondary", "aria-label": w("rules.remove_action") })
        ]),
        form.form(item[kind], function (v) { setItem(kind, v); }, item, setItem),
        field(w("rules.action_if"), expression(ctx.draft, ctx.type, "condition", item.if, function (v) { setItem("if", v); }, { "data-prop": "action-if" }))
      ]);
    }
    function move(ai, delta) {
      var to = ai + delta;
      if (to < 0 || to >= items.length) return;
      var x = items.splice(ai, 1)[0];
      items.splice(to, 0, x);
      emit();
      draw();
    }
    function draw() {
      box.innerHTML = "";
      var ol = E("ol", { class: "actions" });
      items.forEach(function (item, ai) { ol.appendChild(card(item, ai)); });
      box.appendChild(ol);
      var addKind = select(ctx.palette.actions.map(function (a) { return { value: a.kind, label: a.label }; }), "notify", function () { /* chosen on add */ }, { "data-role": "new-action-kind", "aria-label": w("rules.action") });
      box.appendChild(E("div", { class: "connect-row" }, [addKind, button(w("rules.add_action"), function () {
        var item = {};
        item[addKind.value] = forms[addKind.value] ? forms[addKind.value].fresh() : {};
        items.push(item);
        emit();
        draw();
      }, { "data-action": "add-action" })]));
    }
    draw();
    return box;
  }

  window.Kit = {
    lang: lang, words: words, text: text, field: field, select: select, input: input, check: check, i18n: i18n,
    expression: expression, json: json, assignee: assignee, problems: problems, button: button, E: E, w: w,
    mapRows: mapRows, actionForms: actionForms, actionKind: actionKind, actions: actions, templateOptions: templateOptions
  };
})();
