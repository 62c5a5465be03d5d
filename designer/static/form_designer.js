// The form designer: a palette of every field type (from the field-type registry), sections with
// their fields (drag to add and reorder with SortableJS), a property panel per field (labels, key,
// required, validation, options, default, conditions checked as you type, permissions per stage and
// role), the live preview rendered by the real form engine, undo/redo, save through draft.js.
(function () {
  "use strict";

  var KEY_RE = /^[a-z][a-z0-9_]{0,39}$/;
  var NUMBER_OPTIONS = ["min", "max", "min_length", "max_length", "precision", "max_size_mb", "min_rows", "max_rows"];
  var TEXT_OPTIONS = ["pattern", "currency", "format", "placeholder"];
  var BOOL_OPTIONS = ["multiple", "unique", "index"];
  var CHOICE_TYPES = ["select", "radio", "multiselect"];
  var NUMBER_TYPES = ["number", "money", "rating"];
  var LEVELS = ["editable", "readonly", "hidden"];

  var root, draft, type, lang, W, palette = {}, selectedKey = null, selectedSection = null, sortables = [];
  var el = function () { return Draft.el.apply(null, arguments); };

  // ------------------------------------------------------------------ the definition
  function tdef(def) { return ((def || draft.definition).ticket_types || {})[type]; }
  function sections(def) { return tdef(def).form.sections; }
  function nodes(def) { return ((tdef(def) || {}).flow || {}).nodes || []; }

  function locate(key, def) {
    var found = null;
    sections(def).forEach(function (s, si) {
      (s.fields || []).forEach(function (f, fi) { if (f.key === key) found = { si: si, fi: fi, field: f }; });
    });
    return found;
  }

  function keys(def) {
    var out = {};
    sections(def).forEach(function (s) { (s.fields || []).forEach(function (f) { out[f.key] = true; }); });
    return out;
  }

  function uniqueKey(base) {
    base = String(base).toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "") || "field";
    base = base.slice(0, 34);
    var taken = keys(), n = 1, key = base;
    while (taken[key]) { n += 1; key = base + "_" + n; }
    return key;
  }

  function text(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    return value[lang] || value.zh || value.en || "";
  }

  function pair(value, which) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    return value[which] || "";
  }

  function i18n(zh, en) {
    var out = {};
    if (zh) out.zh = zh;
    if (en) out.en = en;
    return Object.keys(out).length ? out : undefined;
  }

  function w(name, params) {
    var s = W[name] || name;
    Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }

  function newField(ftype) {
    var n = Object.keys(keys()).length + 1;
    var f = { key: uniqueKey(ftype), type: ftype, label: { zh: W.new_field_zh + " " + n, en: W.new_field_en + " " + n } };
    var option = function (v, zh, en) { return { value: v, label: { zh: zh, en: en } }; };
    if (CHOICE_TYPES.indexOf(ftype) >= 0) {
      f.options = [option("a", W.option_zh + " A", W.option_en + " A"), option("b", W.option_zh + " B", W.option_en + " B")];
    } else if (ftype === "cascade") {
      var sets = Object.keys(draft.definition.option_sets || {});
      if (sets.length) f.options_from = sets[0];
      else f.options = [{ value: "a", label: { zh: W.option_zh + " A", en: W.option_en + " A" }, children: [option("a1", W.option_zh + " A1", W.option_en + " A1")] }];
    } else if (ftype === "link") {
      f.target = { ticket_type: type };
    } else if (ftype === "subtable") {
      f.fields = [{ key: "item", type: "text", label: { zh: W.new_field_zh, en: W.new_field_en } }];
    } else if (ftype === "formula") {
      f.expr = "1";
    } else if (ftype === "autonumber") {
      f.format = "{seq:6}";
    } else if (ftype === "rating") {
      f.max = 5;
    }
    return f;
  }

  // ------------------------------------------------------------------ commands (each one undoable)
  function addField(ftype, si, index) {
    if (!palette[ftype]) return;
    var f = newField(ftype);
    draft.change(function (def) {
      var list = sections(def);
      if (!list.length) list.push(newSection());
      si = Math.min(si === null || si === undefined ? list.length - 1 : si, list.length - 1);
      var fields = list[si].fields = list[si].fields || [];
      fields.splice(index === undefined ? fields.length : index, 0, f);
    }, "add field");
    select(f.key);
  }

  function moveField(fromSi, fromIndex, toSi, toIndex) {
    draft.change(function (def) {
      var list = sections(def);
      var moved = list[fromSi].fields.splice(fromIndex, 1)[0];
      list[toSi].fields.splice(toIndex, 0, moved);
    }, "move field");
  }

  function newSection() {
    var ids = {};
    sections().forEach(function (s) { if (s.id) ids[s.id] = true; });
    var n = sections().length + 1;
    while (ids["section_" + n]) n += 1;
    return { id: "section_" + n, title: { zh: W.new_section_zh, en: W.new_section_en }, fields: [] };
  }

  function setField(key, fn, label) {
    draft.change(function (def) {
      var at = locate(key, def);
      if (at) fn(at.field, def);
    }, label || "edit field");
  }

  function setProp(key, name, value) {
    setField(key, function (f) {
      if (value === undefined || value === "" || value === null || (typeof value === "number" && isNaN(value))) delete f[name];
      else f[name] = value;
    });
  }

  function renameField(oldKey, newKey) {
    if (!KEY_RE.test(newKey) || keys()[newKey]) return false;
    var wasStored = !!locate(oldKey, draft.started);
    setField(oldKey, function (f, def) {
      f.key = newKey;
      if (wasStored && !f.renamed_from) f.renamed_from = oldKey; // tickets carry their values over
      nodes(def).forEach(function (node) {
        if (node.permissions && Object.prototype.hasOwnProperty.call(node.permissions, oldKey)) {
          node.permissions[newKey] = node.permissions[oldKey];
          delete node.permissions[oldKey];
        }
      });
    }, "rename field");
    selectedKey = newKey;
    render();
    return true;
  }

  function copyField(key) {
    var at = locate(key);
    var copy = Draft.clone(at.field);
    copy.key = uniqueKey(key + "_copy");
    delete copy.renamed_from;
    draft.change(function (def) { sections(def)[at.si].fields.splice(at.fi + 1, 0, copy); }, "copy field");
    select(copy.key);
  }

  function removeField(key) {
    draft.change(function (def) {
      var at = locate(key, def);
      if (!at) return;
      sections(def)[at.si].fields.splice(at.fi, 1);
      nodes(def).forEach(function (node) {
        if (node.permissions) {
          delete node.permissions[key];
          if (!Object.keys(node.permissions).length) delete node.permissions;
        }
      });
    }, "remove field");
    selectedKey = null;
    render();
  }

  function setPermission(key, nodeIndex, level, roleRules) {
    draft.change(function (def) {
      var node = nodes(def)[nodeIndex];
      var value = level || undefined;
      var rules = {};
      (roleRules || "").split(",").forEach(function (part) {
        var kv = part.split("=");
        if (kv.length === 2 && kv[0].trim() && LEVELS.indexOf(kv[1].trim()) >= 0) rules[kv[0].trim()] = kv[1].trim();
      });
      if (Object.keys(rules).length) value = rules;
      node.permissions = node.permissions || {};
      if (value === undefined) delete node.permissions[key];
      else node.permissions[key] = value;
      if (!Object.keys(node.permissions).length) delete node.permissions;
    }, "permission");
  }

  // ------------------------------------------------------------------ canvas
  function select(key) {
    selectedKey = key;
    var at = key ? locate(key) : null;
    if (at) selectedSection = at.si;
    root.querySelectorAll(".fd-field").forEach(function (li) {
      li.classList.toggle("selected", li.getAttribute("data-key") === key);
    });
    renderProps();
  }

  function sectionHead(s, si) {
    var zh = el("input", { value: pair(s.title, "zh"), "aria-label": W.section_title + " (zh)", class: "fd-title" });
    var en = el("input", { value: pair(s.title, "en"), "aria-label": W.section_title + " (en)", class: "fd-title" });
    var onTitle = function () {
      draft.change(function (def) {
        var title = i18n(zh.value.trim(), en.value.trim());
        if (title) sections(def)[si].title = title; else delete sections(def)[si].title;
      }, "section title");
    };
    zh.addEventListener("change", onTitle);
    en.addEventListener("change", onTitle);
    var cols = el("select", { "aria-label": W.columns });
    [1, 2, 3, 4].forEach(function (n) {
      var o = el("option", { value: String(n), text: w(n === 1 ? "columns_one" : "columns_n", { count: n }) });
      if ((s.columns || 1) === n) o.selected = true;
      cols.appendChild(o);
    });
    cols.addEventListener("change", function () {
      draft.change(function (def) {
        var n = parseInt(cols.value, 10);
        if (n > 1) sections(def)[si].columns = n; else delete sections(def)[si].columns;
      }, "columns");
    });
    var tab = el("input", { value: text(s.tab), placeholder: W.tab, "aria-label": W.tab, class: "fd-tab" });
    tab.addEventListener("change", function () {
      draft.change(function (def) {
        if (tab.value.trim()) sections(def)[si].tab = tab.value.trim(); else delete sections(def)[si].tab;
      }, "tab");
    });
    var remove = el("button", { type: "button", class: "link", title: W.remove_section, "aria-label": W.remove_section, text: "✕" });
    remove.addEventListener("click", function () {
      draft.change(function (def) {
        var list = sections(def);
        var fields = list[si].fields || [];
        list.splice(si, 1);
        if (fields.length && list.length) { // keep the fields: they go to the neighbouring section
          var into = list[Math.max(0, si - 1)];
          into.fields = (into.fields || []).concat(fields);
        }
      }, "remove section");
    });
    return el("header", { class: "fd-section-head" }, [zh, en, cols, tab, remove]);
  }

  function fieldItem(f) {
    var badges = [];
    if (f.required) badges.push(el("span", { class: "badge req", title: W.required, text: "*" }));
    if (f.required_if) badges.push(el("span", { class: "badge cond", title: W.required_if + ": " + f.required_if, text: "*?" }));
    if (f.visible_if) badges.push(el("span", { class: "badge cond", title: W.visible_if + ": " + f.visible_if, text: "if" }));
    var li = el("li", { class: "fd-field" + (f.key === selectedKey ? " selected" : ""), "data-key": f.key, tabindex: "0" }, [
      el("span", { class: "fd-label", text: text(f.label) || f.key }),
      el("code", { text: f.key }),
      el("span", { class: "fd-type muted", text: (palette[f.type] || {}).name || f.type })
    ].concat(badges));
    li.addEventListener("click", function () { select(f.key); });
    li.addEventListener("keydown", function (e) { if (e.key === "Enter") select(f.key); });
    return li;
  }

  function render() {
    sortables.forEach(function (s) { s.destroy(); });
    sortables = [];
    var box = document.getElementById("fd-sections");
    box.innerHTML = "";
    sections().forEach(function (s, si) {
      var list = el("ul", { class: "fd-fields cols-" + (s.columns || 1), "data-section": String(si) });
      (s.fields || []).forEach(function (f) { list.appendChild(fieldItem(f)); });
      var sec = el("div", { class: "fd-section" + (si === selectedSection ? " current" : ""), "data-section": String(si) }, [sectionHead(s, si), list]);
      sec.addEventListener("click", function () { selectedSection = si; });
      box.appendChild(sec);
      sortables.push(Sortable.create(list, {
        group: { name: "fields", pull: true, put: true },
        animation: 100,
        forceFallback: true,
        fallbackOnBody: true,
        onAdd: function (evt) {
          if (evt.from.id !== "fd-palette-list") return;
          var ftype = evt.item.getAttribute("data-type");
          evt.item.parentNode.removeChild(evt.item);
          addField(ftype, si, evt.newIndex);
        },
        onEnd: function (evt) {
          var from = parseInt(evt.from.getAttribute("data-section"), 10);
          var to = parseInt(evt.to.getAttribute("data-section"), 10);
          if (isNaN(from) || isNaN(to) || (from === to && evt.oldIndex === evt.newIndex)) return;
          moveField(from, evt.oldIndex, to, evt.newIndex);
        }
      }));
    });
    root.querySelector('[data-cmd="undo"]').disabled = !draft.canUndo();
    root.querySelector('[data-cmd="redo"]').disabled = !draft.canRedo();
    renderStages();
    renderProps();
    schedulePreview();
    scheduleCheck();
  }

  // ------------------------------------------------------------------ property panel
  function row(label, control, extra) {
    return el("label", { class: "fd-prop" }, [el("span", { text: label }), control].concat(extra || []));
  }

  function input(value, attrs, onCommit) {
    var node = el("input", attrs || {});
    node.value = value === undefined || value === null ? "" : String(value);
    node.addEventListener("change", function () { onCommit(node.value); });
    return node;
  }

  function checkbox(value, onCommit) {
    var node = el("input", { type: "checkbox" });
    node.checked = !!value;
    node.addEventListener("change", function () { onCommit(node.checked); });
    return node;
  }

  // An expression box: checked against the draft's fields as you type, stored when it changes.
  function exprBox(f, name, kind, label) {
    var state = el("span", { class: "expr-state", "data-expr-state": name, "aria-live": "polite" });
    var node = el("input", { class: "expr", "data-prop": name, placeholder: W.expr_hint, spellcheck: "false", autocomplete: "off" });
    node.value = f[name] || "";
    var check = Draft.debounce(function () {
      var source = node.value;
      if (!source.trim()) { state.textContent = ""; state.className = "expr-state"; return; }
      draft.expression(type, source, kind).then(function (res) {
        if (node.value !== source) return;
        if (res.ok) { state.textContent = "✓ " + W.expr_ok; state.className = "expr-state ok"; }
        else {
          state.textContent = res.problems.map(function (p) { return "[" + p.column + "] " + p.message; }).join(" ");
          state.className = "expr-state error";
        }
      });
    }, 250);
    node.addEventListener("input", check);
    node.addEventListener("change", function () { setProp(f.key, name, node.value.trim()); });
    if (node.value) check();
    return row(label, node, [state]);
  }

  function optionsText(options) {
    return (options || []).map(function (o) {
      if (typeof o === "string") return o;
      return o.value + (o.label ? "=" + pair(o.label, "zh") + "|" + pair(o.label, "en") : "");
    }).join("\n");
  }

  function parseOptions(textValue, before) {
    var old = {};
    (before || []).forEach(function (o) { if (o && typeof o === "object") old[o.value] = o; });
    return textValue.split("\n").map(function (line) { return line.trim(); }).filter(Boolean).map(function (line) {
      var eq = line.indexOf("=");
      var value = eq < 0 ? line : line.slice(0, eq).trim();
      var option = Draft.clone(old[value] || {}) || {};
      option.value = value;
      if (eq >= 0) {
        var names = line.slice(eq + 1).split("|");
        var label = i18n((names[0] || "").trim(), (names[1] || "").trim());
        if (label) option.label = label; else delete option.label;
      }
      return option;
    });
  }

  function defaultControl(f) {
    var commit = function (raw) {
      var value = raw;
      if (f.type === "checkbox") value = raw === "true" ? true : raw === "false" ? false : undefined;
      else if (NUMBER_TYPES.indexOf(f.type) >= 0) value = raw === "" ? undefined : Number(raw);
      setProp(f.key, "default", value);
    };
    if (f.type === "checkbox") {
      var sel = el("select", {});
      [["", "—"], ["true", "✓"], ["false", "✗"]].forEach(function (o) {
        var opt = el("option", { value: o[0], text: o[1] });
        if (String(f.default === undefined ? "" : f.default) === o[0]) opt.selected = true;
        sel.appendChild(opt);
      });
      sel.addEventListener("change", function () { commit(sel.value); });
      return sel;
    }
    var shown = f.default !== undefined && typeof f.default === "object" ? JSON.stringify(f.default) : f.default;
    return input(shown, { "data-prop": "default" }, commit);
  }

  function typeOptions(f, out) {
    var info = palette[f.type] || { options: [] };
    info.options.forEach(function (name) {
      if (NUMBER_OPTIONS.indexOf(name) >= 0) {
        out.push(row(W[name] || name, input(f[name], { type: "number", step: "any", "data-prop": name }, function (v) { setProp(f.key, name, v === "" ? undefined : Number(v)); })));
      } else if (TEXT_OPTIONS.indexOf(name) >= 0) {
        out.push(row(W[name] || name, input(f[name], { "data-prop": name }, function (v) { setProp(f.key, name, v.trim()); })));
      } else if (BOOL_OPTIONS.indexOf(name) >= 0) {
        out.push(row(W[name] || name, checkbox(f[name], function (v) { setProp(f.key, name, v || undefined); })));
      } else if (name === "options" && CHOICE_TYPES.indexOf(f.type) >= 0) {
        var area = el("textarea", { rows: "4", "data-prop": "options" });
        area.value = optionsText(f.options);
        area.addEventListener("change", function () {
          var parsed = parseOptions(area.value, f.options);
          setField(f.key, function (field) { if (parsed.length) field.options = parsed; else delete field.options; });
        });
        out.push(row(W.options, area));
      } else if (name === "options_from") {
        var sel = el("select", { "data-prop": "options_from" });
        sel.appendChild(el("option", { value: "", text: "—" }));
        Object.keys(draft.definition.option_sets || {}).forEach(function (k) {
          var o = el("option", { value: k, text: k });
          if (f.options_from === k) o.selected = true;
          sel.appendChild(o);
        });
        sel.addEventListener("change", function () { setProp(f.key, "options_from", sel.value); });
        out.push(row(W.options_from, sel));
      } else if (name === "expr") {
        out.push(exprBox(f, "expr", "value", W.expr));
      } else if (name === "target") {
        var pick = el("select", { "data-prop": "target" });
        Object.keys(draft.definition.ticket_types || {}).forEach(function (k) {
          var o = el("option", { value: k, text: text(draft.definition.ticket_types[k].name) || k });
          if ((f.target || {}).ticket_type === k) o.selected = true;
          pick.appendChild(o);
        });
        pick.addEventListener("change", function () { setProp(f.key, "target", { ticket_type: pick.value }); });
        out.push(row(W.target_type, pick));
      } else if (name === "accept") {
        out.push(row(name, input((f.accept || []).join(", "), { "data-prop": "accept" }, function (v) {
          var list = v.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
          setProp(f.key, "accept", list.length ? list : undefined);
        })));
      }
    });
  }

  function permissionRows(f) {
    var rows = [];
    nodes().forEach(function (node, ni) {
      if (node.type === "end") return;
      var current = (node.permissions || {})[f.key];
      var sel = el("select", { "data-stage": node.id, "aria-label": text(node.name) || node.id });
      [["", W["level.inherit"]]].concat(LEVELS.map(function (l) { return [l, W["level." + l]]; })).forEach(function (o) {
        var opt = el("option", { value: o[0], text: o[1] });
        if (typeof current === "string" && current === o[0]) opt.selected = true;
        sel.appendChild(opt);
      });
      var roles = el("input", { placeholder: W.role_rules, "data-stage-roles": node.id });
      if (current && typeof current === "object") {
        roles.value = Object.keys(current).map(function (k) { return k + "=" + current[k]; }).join(", ");
      }
      var commit = function () { setPermission(f.key, ni, sel.value, roles.value); };
      sel.addEventListener("change", commit);
      roles.addEventListener("change", commit);
      rows.push(el("div", { class: "fd-perm" }, [el("span", { text: text(node.name) || node.id }), el("code", { text: node.id }), sel, roles]));
    });
    return rows;
  }

  function renderProps() {
    var box = document.getElementById("fd-props");
    box.innerHTML = "";
    var at = selectedKey ? locate(selectedKey) : null;
    if (!at) { box.appendChild(el("p", { class: "muted", text: W.pick_field })); return; }
    var f = at.field;
    var parts = [];
    var labelZh = input(pair(f.label, "zh"), { "data-prop": "label_zh" }, function () { commitLabel(); });
    var labelEn = input(pair(f.label, "en"), { "data-prop": "label_en" }, function () { commitLabel(); });
    function commitLabel() { setProp(f.key, "label", i18n(labelZh.value.trim(), labelEn.value.trim())); }
    parts.push(row(W.label_zh, labelZh), row(W.label_en, labelEn));
    var key = input(f.key, { "data-prop": "key", pattern: KEY_RE.source }, function (v) {
      if (v !== f.key && !renameField(f.key, v.trim())) key.classList.add("invalid");
    });
    parts.push(row(W.key, key));
    parts.push(row(W.type, el("code", { text: ((palette[f.type] || {}).name || f.type) + " · " + f.type })));
    if (!(palette[f.type] || {}).computed) {
      parts.push(row(W.required, checkbox(f.required, function (v) { setProp(f.key, "required", v || undefined); })));
      parts.push(row(W.readonly, checkbox(f.readonly, function (v) { setProp(f.key, "readonly", v || undefined); })));
      parts.push(row(W["default"], defaultControl(f)));
    }
    var helpZh = input(pair(f.help, "zh"), { "data-prop": "help_zh" }, function () { commitHelp(); });
    var helpEn = input(pair(f.help, "en"), { "data-prop": "help_en" }, function () { commitHelp(); });
    function commitHelp() { setProp(f.key, "help", i18n(helpZh.value.trim(), helpEn.value.trim())); }
    parts.push(row(W.help_zh, helpZh), row(W.help_en, helpEn));
    var validation = [];
    typeOptions(f, validation);
    if (validation.length) parts.push(el("fieldset", {}, [el("legend", { text: W.validation })].concat(validation)));
    parts.push(el("fieldset", { class: "fd-conditions" }, [
      el("legend", { text: W.visible_if + " · " + W.required_if }),
      exprBox(f, "visible_if", "condition", W.visible_if),
      exprBox(f, "required_if", "condition", W.required_if),
      exprBox(f, "readonly_if", "condition", W.readonly_if)
    ]));
    parts.push(el("fieldset", { class: "fd-permissions" }, [el("legend", { text: W.permissions })].concat(permissionRows(f))));
    var copy = el("button", { type: "button", "data-cmd": "copy-field", text: W.copy });
    copy.addEventListener("click", function () { copyField(f.key); });
    var remove = el("button", { type: "button", class: "danger", "data-cmd": "remove-field", text: W.remove });
    remove.addEventListener("click", function () { removeField(f.key); });
    parts.push(el("p", { class: "actions" }, [copy, remove]));
    parts.forEach(function (p) { box.appendChild(p); });
  }

  // ------------------------------------------------------------------ preview and live checks
  function renderStages() {
    var sel = document.getElementById("fd-preview-stage");
    var chosen = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    nodes().forEach(function (node) {
      if (node.type === "start" || node.type === "end") return;
      var o = el("option", { value: node.id, text: (text(node.name) || node.id) });
      if (node.id === chosen) o.selected = true;
      sel.appendChild(o);
    });
  }

  var schedulePreview = Draft.debounce(function () {
    var box = document.getElementById("fd-preview");
    var stage = document.getElementById("fd-preview-stage").value;
    draft.preview(type, stage || null).then(function (res) {
      if (res.html) {
        box.innerHTML = res.html; // rendered by the form engine, every value escaped
        box.classList.remove("stale");
      } else {
        box.classList.add("stale");
      }
      box.setAttribute("data-rendered", String(Date.now()));
    });
  }, 350);

  var scheduleCheck = Draft.debounce(function () {
    draft.check().then(function (res) {
      var state = document.getElementById("fd-check");
      var problems = res.problems || [];
      state.innerHTML = "";
      var prefix = "ticket_types." + type + ".form.sections[";
      root.querySelectorAll(".fd-field.has-problem").forEach(function (li) { li.classList.remove("has-problem"); li.removeAttribute("title"); });
      problems.forEach(function (p) {
        var m = (p.path || "").indexOf(prefix) === 0 && p.path.slice(prefix.length).match(/^(\d+)\]\.fields\[(\d+)\]/);
        if (!m) return;
        var s = sections()[+m[1]];
        var f = s && (s.fields || [])[+m[2]];
        var li = f && root.querySelector('.fd-field[data-key="' + f.key + '"]');
        if (li) { li.classList.add("has-problem"); li.title = p.message; }
      });
      if (!problems.length) { state.className = "fd-check ok"; state.textContent = "✓ " + W.no_problems; return; }
      state.className = "fd-check bad";
      var link = el("button", { type: "button", class: "link", text: "⚠ " + w(problems.length === 1 ? "problems_one" : "problems", { count: problems.length }) });
      link.addEventListener("click", function () { Draft.showProblems(problems); });
      state.appendChild(link);
    });
  }, 500);

  // ------------------------------------------------------------------ start
  function start() {
    root = document.getElementById("form-designer");
    if (!root) return;
    var shell = document.querySelector(".designer-shell");
    type = shell.getAttribute("data-ticket-type");
    lang = shell.getAttribute("data-lang") || "zh";
    W = JSON.parse(root.getAttribute("data-form-words"));
    JSON.parse(root.getAttribute("data-palette")).forEach(function (p) { palette[p.type] = p; });

    var list = document.getElementById("fd-palette-list");
    Sortable.create(list, { group: { name: "fields", pull: "clone", put: false }, sort: false, forceFallback: true, fallbackOnBody: true });
    list.querySelectorAll("[data-type]").forEach(function (item) {
      var add = function () { addField(item.getAttribute("data-type"), selectedSection, undefined); };
      item.addEventListener("dblclick", add);
      item.addEventListener("keydown", function (e) { if (e.key === "Enter") add(); });
    });

    Draft.load(shell.getAttribute("data-app")).then(function (d) {
      draft = d;
      draft.on("change", render);
      draft.on("loaded", function () { render(); });
      root.querySelector('[data-cmd="undo"]').addEventListener("click", function () { draft.undo(); });
      root.querySelector('[data-cmd="redo"]').addEventListener("click", function () { draft.redo(); });
      root.querySelector('[data-cmd="save"]').addEventListener("click", function () { draft.save(); });
      root.querySelector('[data-cmd="add-section"]').addEventListener("click", function () {
        draft.change(function (def) { sections(def).push(newSection()); }, "add section");
        selectedSection = sections().length - 1;
      });
      document.getElementById("fd-preview-stage").addEventListener("change", schedulePreview);
      render();
      root.setAttribute("data-ready", "true");
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
