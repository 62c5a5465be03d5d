// The report builder: pick a source, drag targets into dimensions and measures (SortableJS), add
// filters, choose a chart — the report runs live through the report engine (POST …/reports/run) and
// its chart is drawn by the dashboards' own code (server/static/dashboard.js draws every
// .dash-chart[data-option] it is told about through the htmx load event). "Save report" writes it
// into the draft's reports (and, if asked, a dashboard), whose grid is arranged below.
(function () {
  "use strict";

  var Kit, E, w, palette, draft, type, root;
  var current = null; // {index, id, name, source, dims: [...], measures: [...], filters: [...], chart, top, others, sort, compare, extra}
  var KEY = /^[a-z][a-z0-9_]{0,39}$/;
  var BUCKET = /^\s*bucket\(\s*([\w.]+)\s*,\s*['"](\w+)['"]\s*\)\s*$/;
  var PART = /^\s*(weekday|hour)\(\s*([\w.]+)\s*\)\s*$/;

  function reports() {
    var tt = draft.definition.ticket_types[type];
    return tt.reports || [];
  }
  function dashboards() {
    var tt = draft.definition.ticket_types[type];
    return tt.dashboards || [];
  }

  // ------------------------------------------------------------------ targets
  function fieldsOf(t) {
    var out = [];
    var tt = draft.definition.ticket_types[t] || {};
    ((tt.form || {}).sections || []).forEach(function (s) { (s.fields || []).forEach(function (f) { out.push(f); }); });
    return out;
  }
  function targets() {
    var source = (current && current.source) || type;
    var list = [];
    fieldsOf(source).forEach(function (f) {
      if (palette.unreportable.indexOf(f.type) >= 0) return;
      list.push({ name: f.key, label: Kit.text(f.label) || f.key, kind: palette.field_kinds[f.type] || "text", group: "field" });
    });
    palette.builtins.forEach(function (b) { list.push({ name: b.name, label: b.label, kind: b.kind, group: "builtin" }); });
    palette.metrics.forEach(function (m) { list.push({ name: m.name, label: m.label, kind: m.kind, group: "metric" }); });
    return list;
  }
  function target(name) { return targets().filter(function (t) { return t.name === name; })[0] || { name: name, label: name, kind: "text" }; }
  function timeLike(kind) { return kind === "time" || kind === "date"; }

  // ------------------------------------------------------------------ report ⇄ editor state
  function parseDim(d) {
    if (typeof d === "string") return { target: d };
    var alias = Object.keys(d)[0], expr = d[alias], m;
    if ((m = BUCKET.exec(expr))) return { target: m[1], bucket: m[2], alias: alias };
    if ((m = PART.exec(expr))) return { target: m[2], part: m[1], alias: alias };
    return { alias: alias, expr: expr };
  }
  function dimOut(d) {
    if (d.expr) { var o = {}; o[d.alias] = d.expr; return o; }
    if (d.bucket || d.part) {
      var alias = d.alias || (d.target.replace(/\./g, "_") + "_" + (d.bucket || d.part)).slice(0, 40);
      var x = {};
      x[alias] = d.bucket ? "bucket(" + d.target + ", '" + d.bucket + "')" : d.part + "(" + d.target + ")";
      return x;
    }
    return d.target;
  }
  function parseMeasure(m) {
    if (m === "count") return { agg: "count" };
    var agg = Object.keys(m).filter(function (k) { return k !== "as"; })[0];
    return { agg: agg, target: m[agg], as: m.as };
  }
  function measureOut(m) {
    if (m.agg === "count" && !m.target) return "count";
    var o = {};
    o[m.agg] = m.target;
    if (m.as) o.as = m.as;
    return o;
  }

  function open(index) {
    var r = index >= 0 ? reports()[index] : { id: freshId(), chart: "bar", measures: ["count"] };
    current = {
      index: index,
      id: r.id,
      name: r.name,
      source: r.source,
      dims: (r.dimensions || []).map(parseDim),
      measures: (r.measures || ["count"]).map(parseMeasure),
      filters: (r.filters || []).map(function (f) { return Object.assign({}, f); }),
      chart: r.chart || "table",
      top: r.top, others: r.others, sort: r.sort, compare: r.compare,
      extra: { pivot: r.pivot, running_total: r.running_total }
    };
    draw();
    preview();
  }

  function serialize() {
    var r = { id: current.id };
    if (current.name) r.name = current.name;
    if (current.source && current.source !== type) r.source = current.source;
    if (current.filters.length) r.filters = current.filters;
    if (current.dims.length) r.dimensions = current.dims.map(dimOut);
    r.measures = current.measures.length ? current.measures.map(measureOut) : ["count"];
    r.chart = current.chart;
    if (current.top) r.top = current.top;
    if (current.others) r.others = true;
    if (current.sort && current.sort.length) r.sort = current.sort;
    if (current.compare) r.compare = true;
    Object.keys(current.extra).forEach(function (k) { if (current.extra[k] !== undefined) r[k] = current.extra[k]; });
    return r;
  }

  function freshId() {
    var taken = {};
    reports().forEach(function (r) { taken[r.id] = true; });
    var n = 1;
    while (taken["report_" + n]) n++;
    return "report_" + n;
  }

  // ------------------------------------------------------------------ drawing
  function chip(label, extra, onRemove, attrs) {
    var c = E("li", Object.assign({ class: "chip" }, attrs || {}), [E("span", { class: "chip-label", text: label })].concat(extra || []));
    if (onRemove) c.appendChild(Kit.button("×", onRemove, { class: "chip-x", "aria-label": w("rep.remove") }));
    return c;
  }

  function drawTargets() {
    var box = document.getElementById("report-targets");
    box.innerHTML = "";
    var groups = { field: w("rep.group_field"), builtin: w("rep.group_builtin"), metric: w("rep.group_metric") };
    var list = E("ul", { class: "target-list", id: "target-list" });
    list.appendChild(E("li", { class: "target count", "data-target": "", "data-kind": "count", text: w("rep.ticket_count") }));
    var last = null;
    targets().forEach(function (t) {
      if (t.group !== last) { list.appendChild(E("li", { class: "target-group", text: groups[t.group] })); last = t.group; }
      list.appendChild(E("li", { class: "target", "data-target": t.name, "data-kind": t.kind, title: t.name, text: t.label }));
    });
    box.appendChild(list);
    if (window.Sortable) {
      window.Sortable.create(list, {
        group: { name: "targets", pull: "clone", put: false }, sort: false, draggable: ".target",
        onEnd: function (ev) { if (ev.to !== list && ev.item.parentNode) ev.item.parentNode.removeChild(ev.item); }
      });
    }
  }

  function dropZone(id, items, render, onAdd, onSort) {
    var zone = document.getElementById(id);
    zone.innerHTML = "";
    items.forEach(function (item, i) { zone.appendChild(render(item, i)); });
    if (!items.length) zone.appendChild(E("li", { class: "zone-hint", text: w("rep.drop_here") }));
    if (window.Sortable && !zone.dataset.sortable) {
      zone.dataset.sortable = "1";
      window.Sortable.create(zone, {
        group: { name: "targets", pull: false, put: true }, animation: 120, filter: ".zone-hint",
        onAdd: function (ev) {
          var name = ev.item.getAttribute("data-target");
          var kind = ev.item.getAttribute("data-kind");
          var at = ev.newIndex;
          if (ev.item.parentNode) ev.item.parentNode.removeChild(ev.item);
          zone.onAdd(name, kind, at);
        },
        onUpdate: function (ev) { zone.onSort(ev.oldIndex, ev.newIndex); }
      });
    }
    zone.onAdd = onAdd;
    zone.onSort = onSort;
  }

  function moved(list, from, to) { var x = list.splice(from, 1)[0]; list.splice(to, 0, x); }

  function drawZones() {
    dropZone("report-dims", current.dims, function (d, i) {
      if (d.expr) return chip(d.alias + " = " + d.expr, [], function () { current.dims.splice(i, 1); edited(); });
      var t = target(d.target);
      var extra = [];
      if (timeLike(t.kind)) {
        extra.push(Kit.select([{ value: "", label: w("rep.bucket_none") }].concat(palette.buckets.map(function (b) { return { value: b, label: w("rep.bucket_" + b) }; }))
          .concat(palette.parts.map(function (p) { return { value: "part:" + p, label: w("rep.part_" + p) }; })),
        d.part ? "part:" + d.part : (d.bucket || ""), function (v) {
          delete d.bucket; delete d.part; delete d.alias;
          if (v.indexOf("part:") === 0) d.part = v.slice(5); else if (v) d.bucket = v;
          edited();
        }, { "aria-label": w("rep.bucket") }));
      }
      return chip(t.label, extra, function () { current.dims.splice(i, 1); edited(); }, { "data-target": d.target });
    }, function (name, kind, at) {
      if (!name) return drawZones();
      var d = { target: name };
      if (timeLike(kind)) d.bucket = "month";
      current.dims.splice(at, 0, d);
      edited();
    }, function (from, to) { moved(current.dims, from, to); edited(); });

    dropZone("report-measures", current.measures, function (m, i) {
      var label = m.target ? target(m.target).label : w("rep.ticket_count");
      var aggs = m.target ? palette.aggregates : ["count"];
      var extra = [Kit.select(aggs.map(function (a) { return { value: a, label: w("rep.agg_" + a) }; }), m.agg, function (v) { m.agg = v; delete m.as; edited(); }, { "aria-label": w("rep.aggregate") })];
      return chip(label, extra, function () { current.measures.splice(i, 1); edited(); }, { "data-target": m.target || "count" });
    }, function (name, kind, at) {
      var m = !name ? { agg: "count" } : { agg: kind === "number" ? "avg" : kind === "bool" ? "rate" : "distinct", target: name };
      current.measures.splice(at, 0, m);
      edited();
    }, function (from, to) { moved(current.measures, from, to); edited(); });
  }

  function valueText(f) {
    if (f.value === undefined || f.value === null) return "";
    if (Array.isArray(f.value)) return f.value.join(", ");
    return String(f.value);
  }
  function parseValue(op, text) {
    text = (text || "").trim();
    if (op === "empty" || op === "not_empty") return undefined;
    function one(x) { x = x.trim(); return /^-?\d+(\.\d+)?$/.test(x) ? Number(x) : x === "true" ? true : x === "false" ? false : x; }
    if (op === "in" || op === "not_in" || op === "between") return text ? text.split(/[,，]/).map(one) : [];
    return text === "" ? undefined : one(text);
  }

  function drawFilters() {
    var box = document.getElementById("report-filters");
    box.innerHTML = "";
    var names = targets().map(function (t) { return { value: t.name, label: t.label }; });
    current.filters.forEach(function (f, i) {
      var valueBox = f.op === "this" || f.op === "previous"
        ? Kit.select(palette.periods.map(function (p) { return { value: p, label: w("rep.period_" + p) }; }), f.value || "month", function (v) { f.value = v; edited(); }, { "aria-label": w("rep.value") })
        : Kit.input(valueText(f), function (v) { var x = parseValue(f.op, v); if (x === undefined) delete f.value; else f.value = x; edited(); }, { "aria-label": w("rep.value"), placeholder: w("rep.value_hint_" + (f.op === "last" ? "last" : "any")) });
      box.appendChild(E("div", { class: "map-row filter-row" }, [
        Kit.select(names, f.field, function (v) { f.field = v; edited(); }, { "aria-label": w("rep.filter_field") }),
        Kit.select(palette.ops.map(function (o) { return { value: o, label: w("rep.op_" + o) }; }), f.op, function (v) {
          f.op = v;
          if (v === "empty" || v === "not_empty") delete f.value;
          if (v === "last") f.value = "30d";
          if (v === "this" || v === "previous") f.value = "month";
          drawFilters();
          edited();
        }, { "aria-label": w("rep.filter_op") }),
        valueBox,
        Kit.button("×", function () { current.filters.splice(i, 1); drawFilters(); edited(); }, { class: "button small secondary", "aria-label": w("rep.remove") })
      ]));
    });
    box.appendChild(Kit.button(w("rep.add_filter"), function () {
      current.filters.push({ field: "created_at", op: "last", value: "30d" });
      drawFilters();
      edited();
    }, { "data-action": "add-filter" }));
  }

  function drawSettings() {
    var box = document.getElementById("report-settings");
    box.innerHTML = "";
    var types = Object.keys(draft.definition.ticket_types).map(function (k) { return { value: k, label: Kit.text(draft.definition.ticket_types[k].name) || k }; });
    box.appendChild(Kit.field(w("rep.id"), Kit.input(current.id, function (v) { current.id = v.trim(); }, { "data-prop": "id" })));
    box.appendChild(Kit.field(w("rep.name"), Kit.i18n(current.name, function (v) { current.name = v; })));
    box.appendChild(Kit.field(w("rep.source"), Kit.select(types, current.source || type, function (v) {
      current.source = v === type ? undefined : v;
      drawTargets();
      edited();
    }, { "data-prop": "source" })));
    box.appendChild(Kit.field(w("rep.chart"), Kit.select(palette.charts.map(function (c) { return { value: c, label: w("rep.chart_" + c) }; }), current.chart, function (v) {
      current.chart = v;
      edited();
    }, { "data-prop": "chart" })));
    box.appendChild(Kit.field(w("rep.top"), Kit.input(current.top, function (v) { current.top = v ? parseInt(v, 10) : undefined; edited(); }, { type: "number", min: "1", "data-prop": "top" })));
    box.appendChild(Kit.field(w("rep.others"), Kit.check(current.others, function (v) { current.others = v; edited(); })));
    box.appendChild(Kit.field(w("rep.sort"), Kit.input((current.sort || []).join(", "), function (v) {
      current.sort = v.split(/[,，]/).map(function (x) { return x.trim(); }).filter(Boolean);
      edited();
    }, { placeholder: "-count", "data-prop": "sort" }), w("rep.sort_hint")));
    box.appendChild(Kit.field(w("rep.compare"), Kit.check(current.compare, function (v) { current.compare = v; edited(); })));
  }

  function drawReportList() {
    var box = document.getElementById("report-list");
    box.innerHTML = "";
    reports().forEach(function (r, i) {
      var b = Kit.button(Kit.text(r.name) || r.id, function () { open(i); }, { class: "button small" + (current && current.index === i ? " on" : ""), "data-report": r.id });
      box.appendChild(b);
    });
    box.appendChild(Kit.button(w("rep.new"), function () { open(-1); }, { class: "button small primary", "data-action": "new-report" }));
  }

  function draw() {
    drawReportList();
    drawTargets();
    drawSettings();
    drawZones();
    drawFilters();
    drawDashboard();
  }

  var later;
  function edited() { drawZones(); later(); }

  // ------------------------------------------------------------------ live preview
  var runSeq = 0;
  function preview() {
    var box = document.getElementById("report-preview");
    var mine = ++runSeq;
    var report = serialize();
    delete report.id;
    box.dataset.state = "running";
    var url = "/api/v1/apps/" + encodeURIComponent(draft.key) + "/ticket_types/" + encodeURIComponent(type) + "/reports/run";
    Draft.api("POST", url, { report: report }).then(function (res) {
      if (mine !== runSeq) return;
      box.innerHTML = "";
      if (!res.ok) {
        box.dataset.state = "failed";
        if (res.status === 404 || res.status === 422) { againstDraft(box, res, report, mine); return; }
        box.appendChild(E("p", { class: "error", text: (res.data && res.data.message) || w("rep.failed") }));
        return;
      }
      var d = res.data;
      box.dataset.state = "done";
      box.dataset.rows = String((d.rows || []).length);
      box.dataset.chart = d.chart_type;
      (RESULT_VIEWS[d.chart_type] || RESULT_VIEWS.chart)(d, box);
    });
  }

  // The preview runs on the published version. When it refuses, the report is checked against the
  // draft instead: a report that reads what only the draft has (a new field, a new app) is valid
  // and can be saved — it draws once the draft is published; a wrong one shows its problems.
  function againstDraft(box, res, report, mine) {
    var candidate = Draft.clone(draft.definition);
    var tt = candidate.ticket_types[type];
    tt.reports = tt.reports || [];
    var index = current.index >= 0 ? current.index : tt.reports.length;
    tt.reports[index] = Object.assign({ id: current.id || "report" }, report);
    var prefix = "ticket_types." + type + ".reports[" + index + "]";
    Draft.api("POST", draft.url("/check"), { definition: candidate }).then(function (check) {
      if (mine !== runSeq) return;
      var problems = ((check.data && check.data.problems) || []).filter(function (p) { return (p.path || "").indexOf(prefix) === 0; });
      box.innerHTML = "";
      if (problems.length) {
        box.dataset.state = "invalid";
        box.appendChild(E("p", { class: "error", text: w("rep.invalid") }));
        box.appendChild(Kit.problems(problems.map(function (p) { return { path: p.path, message: p.path.slice(prefix.length).replace(/^\./, "") + ": " + p.message }; })));
        return;
      }
      box.dataset.state = "draft-only";
      box.appendChild(E("p", { class: "muted", text: w("rep.draft_only") }));
      box.appendChild(E("p", { class: "muted small", text: (res.data && res.data.message) || "" }));
    });
  }

  function resultTable(d) {
    var t = E("table", { class: "list dash-table" });
    t.appendChild(E("thead", {}, [E("tr", {}, d.columns.map(function (c) { return E("th", { text: c.label }); }))]));
    var body = E("tbody");
    d.rows.forEach(function (r) {
      body.appendChild(E("tr", {}, d.columns.map(function (c) {
        var v = c.role === "dimension" ? r.labels[c.name] : r.values[c.name];
        return E("td", { text: v === null || v === undefined ? "" : String(v) });
      })));
    });
    if (!d.rows.length) body.appendChild(E("tr", {}, [E("td", { colspan: String(d.columns.length), class: "muted", text: w("rep.no_data") })]));
    t.appendChild(body);
    return t;
  }

  // How a result is shown, by chart type: tables and KPIs as HTML, every other chart by ECharts.
  var RESULT_VIEWS = {
    table: function (d, box) { box.appendChild(resultTable(d)); },
    kpi: function (d, box) {
      var row = E("div", { class: "dash-kpis" });
      Object.keys(d.kpi || d.totals || {}).forEach(function (k) {
        var v = (d.kpi && d.kpi[k]) ? d.kpi[k].value : d.totals[k];
        var col = d.columns.filter(function (c) { return c.name === k; })[0];
        row.appendChild(E("div", { class: "dash-kpi" }, [E("span", { class: "dash-kpi-label", text: col ? col.label : k }), E("span", { class: "dash-kpi-value", text: v === null || v === undefined ? "–" : String(v) })]));
      });
      box.appendChild(row);
    },
    chart: function (d, box) {
      var el = E("div", { class: "dash-chart report-chart", role: "img", "aria-label": w("rep.chart_of", { name: Kit.text(current.name) || current.id }) });
      el.setAttribute("data-option", JSON.stringify(d.chart || {}));
      el.setAttribute("data-points", "{}");
      el.setAttribute("data-chart", d.chart_type);
      el.setAttribute("data-dims", String(current.dims.length));
      box.appendChild(el);
      // dashboard.js draws the charts inside what htmx loads: announce the preview the same way.
      box.dispatchEvent(new CustomEvent("htmx:load", { bubbles: true, detail: { elt: box } }));
      var details = E("details", { class: "dash-data" }, [E("summary", { text: w("rep.data", { count: d.rows.length }) }), resultTable(d)]);
      box.appendChild(details);
    }
  };

  // ------------------------------------------------------------------ saving into the draft
  function boardOf(def, id) {
    var tt = def.ticket_types[type];
    return (tt.dashboards || []).filter(function (b) { return b.id === id; })[0];
  }

  function saveReport() {
    var status = document.getElementById("report-save-status");
    status.textContent = "";
    if (!KEY.test(current.id || "")) { status.textContent = w("rep.bad_id", { id: current.id || "" }); return; }
    var clash = reports().some(function (r, i) { return r.id === current.id && i !== current.index; });
    if (clash) { status.textContent = w("rep.id_taken", { id: current.id }); return; }
    var report = serialize();
    var boardPick = document.getElementById("report-board").value;
    var oldId = current.index >= 0 ? reports()[current.index].id : null;
    draft.change(function (def) {
      var tt = def.ticket_types[type];
      tt.reports = tt.reports || [];
      if (current.index >= 0) tt.reports[current.index] = report; else tt.reports.push(report);
      (tt.dashboards || []).forEach(function (b) {
        if (oldId && oldId !== report.id) b.reports = b.reports.map(function (x) { return x === oldId ? report.id : x; });
      });
      if (boardPick) {
        var board = boardOf(def, boardPick);
        if (!board) {
          board = { id: boardPick, name: { zh: w("rep.new_board_zh"), en: w("rep.new_board_en") }, reports: [] };
          tt.dashboards = (tt.dashboards || []).concat([board]);
        }
        if (board.reports.indexOf(report.id) < 0) board.reports.push(report.id);
      }
    }, w("rep.saved_label", { id: report.id }));
    if (current.index < 0) current.index = reports().length - 1;
    draft.save().then(function (res) {
      status.textContent = res.ok ? w("rep.saved", { id: report.id }) : w("rep.not_saved");
      root.dataset.saved = res.ok ? report.id : "";
      draw();
    });
  }

  function deleteReport() {
    if (current.index < 0) { open(-1); return; }
    var id = reports()[current.index].id;
    draft.change(function (def) {
      var tt = def.ticket_types[type];
      tt.reports.splice(current.index, 1);
      (tt.dashboards || []).forEach(function (b) { b.reports = b.reports.filter(function (x) { return x !== id; }); });
      tt.dashboards = (tt.dashboards || []).filter(function (b) { return b.reports.length; });
    }, w("rep.deleted", { id: id }));
    open(reports().length ? 0 : -1);
  }

  // ------------------------------------------------------------------ the dashboard grid
  var boardShown = null;
  function drawDashboard() {
    var pick = document.getElementById("report-board");
    var keep = pick.value || boardShown || (dashboards()[0] && dashboards()[0].id) || "";
    pick.innerHTML = "";
    [{ value: "", label: w("rep.no_board") }].concat(dashboards().map(function (b) { return { value: b.id, label: Kit.text(b.name) || b.id }; }))
      .concat([{ value: "dashboard_" + (dashboards().length + 1), label: w("rep.new_board") }])
      .forEach(function (o) { var opt = E("option", { value: o.value, text: o.label }); if (o.value === keep) opt.selected = true; pick.appendChild(opt); });
    boardShown = pick.value;
    var grid = document.getElementById("board-grid");
    grid.innerHTML = "";
    var board = boardOf(draft.definition, pick.value);
    var cols = document.getElementById("board-columns");
    cols.disabled = !board;
    cols.value = String((board && board.columns) || 1);
    if (!board) return;
    grid.style.setProperty("--board-columns", String(board.columns || 1));
    board.reports.forEach(function (id) {
      var r = reports().filter(function (x) { return x.id === id; })[0];
      grid.appendChild(E("li", { class: "board-cell", "data-report": id }, [
        E("strong", { text: r ? (Kit.text(r.name) || id) : id }),
        E("small", { class: "muted", text: r ? w("rep.chart_" + (r.chart || "table")) : w("rep.missing") })
      ]));
    });
  }

  function arrange(from, to) {
    var id = boardShown;
    draft.change(function (def) { var b = boardOf(def, id); moved(b.reports, from, to); }, w("rep.arranged"));
    drawDashboard();
  }

  function start() {
    var shell = document.querySelector(".designer-shell");
    root = document.getElementById("report-builder");
    if (!shell || !root) return;
    Kit = window.Kit;
    E = Kit.E;
    w = Kit.w;
    Kit.words(document.getElementById("editor-words"));
    palette = JSON.parse(root.getAttribute("data-palette"));
    type = shell.dataset.ticketType;
    later = Draft.debounce(preview, 350);
    document.querySelector("[data-action=save-report]").addEventListener("click", saveReport);
    document.querySelector("[data-action=delete-report]").addEventListener("click", deleteReport);
    document.querySelector("[data-action=run-report]").addEventListener("click", preview);
    document.getElementById("report-board").addEventListener("change", function () { boardShown = this.value; drawDashboard(); });
    document.getElementById("board-columns").addEventListener("change", function () {
      var n = parseInt(this.value, 10), id = boardShown;
      draft.change(function (def) { var b = boardOf(def, id); if (b) b.columns = n; }, w("rep.arranged"));
      drawDashboard();
    });
    document.querySelector("[data-action=save-board]").addEventListener("click", function () { draft.save(); });
    Draft.load(shell.dataset.app).then(function (d) {
      draft = d;
      if (!draft.typeDef(type)) return;
      if (window.Sortable) {
        window.Sortable.create(document.getElementById("board-grid"), {
          animation: 120, onEnd: function (ev) { if (ev.oldIndex !== ev.newIndex) arrange(ev.oldIndex, ev.newIndex); }
        });
      }
      draft.on("change", function (detail) {
        var label = detail && detail.label;
        if (label === "undo" || label === "redo" || label === "reload") { drawReportList(); drawDashboard(); }
      });
      open(reports().length ? 0 : -1);
      root.dataset.ready = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
