// The flow designer: a LogicFlow canvas over the draft's flow of one ticket type.
//
// The draft definition (draft.js) is the only truth: the canvas shows it, and every edit on the
// canvas or in the property panel is written back into it through draft.change() (one undo step
// each). Undo, redo and "take theirs" re-draw the canvas from the definition. The node palette, the
// assignee kinds and the approval modes come from the engines' registries (data-palette on the page).
// Every change is checked by the engines (POST .../draft/check, debounced; one call for the whole
// flow) and each problem is drawn on the node or edge its path names.
//
// Node positions are not part of the app definition: the flow is laid out automatically (layers
// left to right) and positions the user drags are remembered in this browser (localStorage).
(function () {
  "use strict";

  var Kit, E, w;
  var shell, root, palette, draft, lf, type, appKey;
  var positions = {};
  var edgeOrder = []; // LogicFlow edge id of each entry of flow.edges, in order ("x:n" = not drawable)
  var selection = null; // {kind: "node"|"edge"|"flow", id}
  var quiet = 0; // >0 while the canvas is changed by code (its events are not user edits)
  var problemsBy = { node: {}, edge: {}, flow: [], edgeAt: {} };
  var seq = 0;
  var NODE_SIZE = { rect: [120, 48], circle: [40, 40], diamond: [48, 48] };
  var LABEL_BELOW = { circle: 36, diamond: 40 };
  var COLUMN = 180, ROW = 100, LEFT = 80, TOP = 70;
  var BIG_FLOW = 80; // nodes: above this, draw only what is in view and open at full size on the start

  // ------------------------------------------------------------------ definition helpers
  function flowOf(def) {
    var tt = def.ticket_types[type];
    if (!tt.flow) tt.flow = { nodes: [], edges: [] };
    if (!tt.flow.nodes) tt.flow.nodes = [];
    if (!tt.flow.edges) tt.flow.edges = [];
    return tt.flow;
  }
  function flow() { return flowOf(draft.definition); }
  function ends(e) { return Array.isArray(e) ? [e[0], e[1]] : [e.from, e.to]; }
  function findNode(f, id) { return f.nodes.filter(function (n) { return n.id === id; })[0]; }
  function nodeType(t) { return palette.node_types.filter(function (n) { return n.type === t; })[0] || { type: t, shape: "rect", label: t }; }
  function nodeLabel(n) { return Kit.text(n.name) || n.id; }
  function edgeLabel(e) {
    if (Array.isArray(e)) return "";
    return Kit.text(e.name) || e.action || (e.default ? w("flow.default_branch") : "") || e.if || "";
  }
  // The label on the canvas: the edge's label, with a small mark when its action requires fields.
  function edgeText(e) {
    var label = edgeLabel(e);
    if (Array.isArray(e) || !(e.requires || []).length) return label;
    return label ? label + " *" : "*";
  }
  function asObject(e) {
    if (!Array.isArray(e)) return e;
    return { from: e[0], to: e[1] };
  }
  function lfType(t) { return "gd_" + (palette.node_types.some(function (n) { return n.type === t; }) ? t : "task"); }

  function storageKey() { return "gongdan.flow.positions:" + appKey + ":" + type; }
  function loadPositions() {
    try { positions = JSON.parse(localStorage.getItem(storageKey()) || "{}") || {}; } catch (e) { positions = {}; }
  }
  function keepPositions() {
    try { localStorage.setItem(storageKey(), JSON.stringify(positions)); } catch (e) { /* private mode */ }
  }

  // ------------------------------------------------------------------ layered auto-layout
  // Back edges (those closing a cycle, found by a depth-first walk from the start) are left out;
  // every other node goes one column right of its furthest predecessor; each column is ordered by
  // the mean row of its neighbours (a few sweeps), so edges cross less. Linear in nodes + edges
  // per sweep: a 300-node flow lays out in a few milliseconds.
  function layout(f) {
    var ids = f.nodes.map(function (n) { return n.id; });
    var known = {};
    ids.forEach(function (id) { known[id] = true; });
    var out = {}, inc = {};
    ids.forEach(function (id) { out[id] = []; inc[id] = []; });
    f.edges.forEach(function (e) {
      var p = ends(e);
      if (known[p[0]] && known[p[1]]) out[p[0]].push(p[1]);
    });
    var state = {}, back = {};
    var starts = f.nodes.filter(function (n) { return n.type === "start"; }).map(function (n) { return n.id; });
    starts.concat(ids).forEach(function (rootId) {
      if (state[rootId]) return;
      var stack = [[rootId, 0]];
      state[rootId] = 1;
      while (stack.length) {
        var top = stack[stack.length - 1], v = top[0];
        if (top[1] < out[v].length) {
          var u = out[v][top[1]++];
          if (state[u] === 1) back[v + "\u0000" + u] = true;
          else if (!state[u]) { state[u] = 1; stack.push([u, 0]); }
        } else { state[v] = 2; stack.pop(); }
      }
    });
    var indeg = {};
    ids.forEach(function (id) { indeg[id] = 0; });
    ids.forEach(function (v) {
      out[v].forEach(function (u) { if (!back[v + "\u0000" + u]) { indeg[u]++; inc[u].push(v); } });
    });
    var layer = {}, queue = ids.filter(function (id) { return indeg[id] === 0; }), head = 0;
    queue.forEach(function (id) { layer[id] = 0; });
    while (head < queue.length) {
      var v = queue[head++];
      out[v].forEach(function (u) {
        if (back[v + "\u0000" + u]) return;
        layer[u] = Math.max(layer[u] || 0, layer[v] + 1);
        if (--indeg[u] === 0) queue.push(u);
      });
    }
    var columns = [];
    ids.forEach(function (id) {
      var l = layer[id] || 0;
      (columns[l] = columns[l] || []).push(id);
    });
    var row = {};
    columns.forEach(function (col) { col.forEach(function (id, i) { row[id] = i; }); });
    function mean(list) {
      if (!list.length) return null;
      return list.reduce(function (s, id) { return s + row[id]; }, 0) / list.length;
    }
    for (var sweep = 0; sweep < 4; sweep++) {
      columns.forEach(function (col) {
        if (!col) return;
        var keyed = col.map(function (id, i) {
          var m = mean(sweep % 2 ? out[id].filter(function (u) { return !back[id + "\u0000" + u]; }) : inc[id]);
          return [m === null ? i : m, i, id];
        });
        keyed.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
        keyed.forEach(function (k, i) { row[k[2]] = i; });
        col.sort(function (a, b) { return row[a] - row[b]; });
      });
    }
    var tallest = columns.reduce(function (m, c) { return Math.max(m, c ? c.length : 0); }, 0);
    var placed = {};
    columns.forEach(function (col, l) {
      if (!col) return;
      var offset = (tallest - col.length) * ROW / 2;
      col.forEach(function (id) { placed[id] = { x: LEFT + l * COLUMN, y: TOP + offset + row[id] * ROW }; });
    });
    return placed;
  }

  // ------------------------------------------------------------------ LogicFlow node and edge types
  function registerTypes(Core) {
    var h = Core.h;
    function look(Model, shape) {
      return class extends Model {
        initNodeData(data) {
          var below = LABEL_BELOW[shape];
          if (below && typeof data.text === "string") data.text = { value: data.text, x: data.x, y: data.y + below, draggable: false, editable: false };
          super.initNodeData(data);
          var size = NODE_SIZE[shape];
          if (shape === "circle") this.r = size[0] / 2;
          else if (shape === "diamond") { this.rx = size[0] / 2; this.ry = size[1] / 2; }
          else { this.width = size[0]; this.height = size[1]; this.radius = 8; }
        }
        getNodeStyle() {
          var s = super.getNodeStyle();
          var bad = (this.properties.problems || []).length;
          s.fill = bad ? "#fdecea" : (shape === "rect" ? "#f4f8ff" : "#ffffff");
          s.stroke = bad ? "#c62828" : "#4a6fa5";
          s.strokeWidth = bad ? 2.5 : 1.5;
          if (this.properties.kind === "end") s.strokeWidth = 3;
          return s;
        }
        getTextStyle() {
          var s = super.getTextStyle();
          s.fontSize = 12;
          s.color = "#1d2b3a";
          return s;
        }
        getOuterGAttributes() {
          var bad = (this.properties.problems || []).length;
          return {
            className: "gd-node gd-type-" + this.properties.kind + (bad ? " gd-problem" : ""),
            "data-node-id": this.id,
            "data-problems": String(bad)
          };
        }
      };
    }
    function badge(View) {
      return class extends View {
        getShape() {
          var shape = super.getShape();
          var m = this.props.model;
          var list = m.properties.problems || [];
          var kindMark = m.properties.mark;
          var extra = [];
          var w2 = (m.width || 2 * (m.r || m.rx || 20)) / 2, h2 = (m.height || 2 * (m.r || m.ry || 20)) / 2;
          if (kindMark) extra.push(h("text", { x: m.x - w2 + 2, y: m.y - h2 - 4, "font-size": 10, fill: "#4a6fa5", "class": "gd-mark" }, kindMark));
          if (list.length) {
            extra.push(h("g", { "class": "gd-badge" }, [
              h("circle", { cx: m.x + w2 - 2, cy: m.y - h2 + 2, r: 9, fill: "#c62828" }),
              h("text", { x: m.x + w2 - 2, y: m.y - h2 + 6, "text-anchor": "middle", "font-size": 12, fill: "#fff", "font-weight": "bold" }, String(list.length)),
              h("title", {}, list.join("\n"))
            ]));
          }
          return extra.length ? h("g", {}, [shape].concat(extra)) : shape;
        }
      };
    }
    var bases = {
      rect: [Core.RectNode, Core.RectNodeModel],
      circle: [Core.CircleNode, Core.CircleNodeModel],
      diamond: [Core.DiamondNode, Core.DiamondNodeModel]
    };
    palette.node_types.forEach(function (nt) {
      var base = bases[nt.shape] || bases.rect;
      lf.register({ type: lfType(nt.type), view: badge(base[0]), model: look(base[1], nt.shape in bases ? nt.shape : "rect") });
    });
    lf.register({
      type: "gd_edge",
      view: Core.PolylineEdge,
      model: class extends Core.PolylineEdgeModel {
        getEdgeStyle() {
          var s = super.getEdgeStyle();
          var bad = (this.properties.problems || []).length;
          s.stroke = bad ? "#c62828" : "#6b7d90";
          s.strokeWidth = bad ? 2.5 : 1.5;
          if (this.properties.back) s.strokeDasharray = "5 4";
          return s;
        }
        getTextStyle() {
          var s = super.getTextStyle();
          s.fontSize = 11;
          s.background = { fill: "#ffffff" };
          return s;
        }
      }
    });
  }

  // ------------------------------------------------------------------ drawing the definition
  function marks(n) {
    if (n.type === "approval") return w("flow.mode_" + (n.mode || "single"));
    return "";
  }

  function nodeData(n) {
    var nt = nodeType(n.type);
    var p = positions[n.id];
    return {
      id: n.id, type: lfType(n.type), x: p.x, y: p.y, text: nodeLabel(n),
      properties: { kind: n.type, shape: nt.shape, problems: problemsBy.node[n.id] || [], mark: marks(n) }
    };
  }

  function render(relayout) {
    var f = flow();
    var missing = f.nodes.some(function (n) { return !positions[n.id]; });
    if (relayout || missing) {
      var placed = layout(f);
      f.nodes.forEach(function (n) { if (relayout || !positions[n.id]) positions[n.id] = placed[n.id]; });
    }
    var ids = {};
    f.nodes.forEach(function (n) { ids[n.id] = true; });
    var edges = [];
    edgeOrder = f.edges.map(function (e) {
      var p = ends(e);
      if (!ids[p[0]] || !ids[p[1]]) return "x:" + (++seq);
      var id = "edge_" + (++seq);
      edges.push({ id: id, type: "gd_edge", sourceNodeId: p[0], targetNodeId: p[1], text: edgeText(e),
        properties: { problems: problemsBy.edge[id] || [] } });
      return id;
    });
    quiet++;
    var started = performance.now();
    // A big flow draws only what is in view (LogicFlow's partial rendering): 300 nodes stay smooth.
    lf.graphModel.setPartial(f.nodes.length > BIG_FLOW);
    lf.render({ nodes: f.nodes.map(nodeData), edges: edges });
    root.dataset.renderMs = String(Math.round(performance.now() - started));
    root.dataset.nodes = String(f.nodes.length);
    quiet--;
    keepPositions();
  }

  // The canvas after a user edit (node added, connected, deleted) → the definition.
  function syncFromCanvas(label, fresh) {
    var data = lf.getGraphRawData();
    var order = [];
    draft.change(function (def) {
      var f = flowOf(def);
      var byId = {};
      edgeOrder.forEach(function (id, i) { byId[id] = f.edges[i]; });
      var present = {};
      data.nodes.forEach(function (n) { present[n.id] = n; positions[n.id] = { x: n.x, y: n.y }; });
      var removed = f.nodes.filter(function (n) { return !present[n.id]; }).map(function (n) { return n.id; });
      var kept = f.nodes.filter(function (n) { return present[n.id]; });
      var have = {};
      kept.forEach(function (n) { have[n.id] = true; });
      data.nodes.forEach(function (n) {
        if (!have[n.id]) kept.push((fresh && fresh[n.id]) || freshNode(n.properties.kind || "task", n.id));
      });
      f.nodes = kept;
      var edges = [];
      data.edges.forEach(function (e) {
        var old = byId[e.id];
        var def2 = old === undefined ? [e.sourceNodeId, e.targetNodeId] : old;
        if (Array.isArray(def2)) def2 = [e.sourceNodeId, e.targetNodeId];
        else { def2 = Object.assign({}, def2, { from: e.sourceNodeId, to: e.targetNodeId }); }
        edges.push(def2);
        order.push(e.id);
      });
      edgeOrder.forEach(function (id) {
        if (id.indexOf("x:") !== 0) return;
        var p = ends(byId[id]);
        if (removed.indexOf(p[0]) < 0 && removed.indexOf(p[1]) < 0) { edges.push(byId[id]); order.push(id); }
      });
      f.edges = edges;
      removed.forEach(function (id) { dropReferences(f, id); delete positions[id]; });
    }, label);
    edgeOrder = order;
    keepPositions();
  }

  function dropReferences(f, id) {
    if (f.reopen_to === id) delete f.reopen_to;
    if (f.returns) {
      delete f.returns[id];
      Object.keys(f.returns).forEach(function (k) {
        f.returns[k] = f.returns[k].filter(function (x) { return x !== id; });
        if (!f.returns[k].length) delete f.returns[k];
      });
      if (!Object.keys(f.returns).length) delete f.returns;
    }
    f.nodes.forEach(function (n) { if (n.on_reject === id) delete n.on_reject; });
  }

  function freshId(t) {
    var f = flow(), n = 1;
    var taken = {};
    f.nodes.forEach(function (x) { taken[x.id] = true; });
    (lf ? lf.getGraphRawData().nodes : []).forEach(function (x) { taken[x.id] = true; });
    while (taken[t + "_" + n]) n++;
    return t + "_" + n;
  }

  function freshNode(t, id) {
    var nt = nodeType(t);
    var num = id.split("_").pop();
    var node = { id: id, type: t, name: { zh: nt.name.zh + " " + num, en: nt.name.en + " " + num } };
    Object.assign(node, Draft.clone(nt.defaults || {}));
    return node;
  }

  // ------------------------------------------------------------------ user actions
  function addNode(t, at) {
    var id = freshId(t);
    var node = freshNode(t, id);
    var p = at || freeSpot();
    positions[id] = p;
    quiet++;
    lf.addNode({ id: id, type: lfType(t), x: p.x, y: p.y, text: nodeLabel(node), properties: { kind: t, problems: [], mark: marks(node) } });
    quiet--;
    var fresh = {};
    fresh[id] = node;
    syncFromCanvas(w("flow.added", { name: nodeLabel(node) }), fresh);
    select("node", id);
    return id;
  }

  // Right of the selected node, else the middle of what is in view; then down until no node is there.
  function freeSpot() {
    var base = selection && selection.kind === "node" && positions[selection.id];
    if (!base) {
      var box = document.getElementById("flow-canvas").getBoundingClientRect();
      var p = lf.getPointByClient(box.left + box.width / 2, box.top + box.height / 3).canvasOverlayPosition;
      base = { x: Math.round(p.x / 10) * 10 - COLUMN, y: Math.round(p.y / 10) * 10 };
    }
    var x = base.x + COLUMN, y = base.y;
    var taken = function (px, py) {
      return Object.keys(positions).some(function (k) { var p = positions[k]; return Math.abs(p.x - px) < 100 && Math.abs(p.y - py) < 70; });
    };
    while (taken(x, y)) y += ROW;
    return { x: x, y: y };
  }

  function connect(from, to) {
    if (!from || !to) return;
    quiet++;
    lf.addEdge({ type: "gd_edge", sourceNodeId: from, targetNodeId: to, properties: { problems: [] } });
    quiet--;
    syncFromCanvas(w("flow.connected", { from: from, to: to }));
  }

  function removeSelected() {
    if (!selection || selection.kind === "flow") return;
    quiet++;
    if (selection.kind === "node") lf.deleteNode(selection.id);
    else lf.deleteEdge(selection.id);
    quiet--;
    syncFromCanvas(w("flow.deleted"));
    select("flow");
  }

  function setNode(id, mutate, label) {
    draft.change(function (def) {
      var n = findNode(flowOf(def), id);
      if (n) mutate(n);
    }, label || w("flow.edited", { id: id }));
    var n = findNode(flow(), id);
    if (n) {
      quiet++;
      lf.updateText(id, nodeLabel(n));
      lf.setProperties(id, { mark: marks(n) });
      quiet--;
    }
  }

  function setEdge(lfId, mutate) {
    draft.change(function (def) {
      var f = flowOf(def);
      var i = edgeOrder.indexOf(lfId);
      if (i < 0) return;
      var e = asObject(f.edges[i]);
      mutate(e);
      f.edges[i] = e;
    }, w("flow.edited_edge"));
    var e = flow().edges[edgeOrder.indexOf(lfId)];
    quiet++;
    if (e) lf.updateText(lfId, edgeText(e));
    quiet--;
  }

  function renameNode(oldId, newId) {
    if (!/^[a-z][a-z0-9_]{0,39}$/.test(newId)) { Draft.say(w("flow.bad_id", { id: newId }), "bad"); return false; }
    if (findNode(flow(), newId)) { Draft.say(w("flow.id_taken", { id: newId }), "bad"); return false; }
    draft.change(function (def) {
      var f = flowOf(def);
      var rename = function (x) { return x === oldId ? newId : x; };
      f.nodes.forEach(function (n) { if (n.id === oldId) n.id = newId; if (n.on_reject === oldId) n.on_reject = newId; });
      f.edges = f.edges.map(function (e) {
        if (Array.isArray(e)) return e.map(rename);
        return Object.assign({}, e, { from: rename(e.from), to: rename(e.to) });
      });
      if (f.reopen_to === oldId) f.reopen_to = newId;
      if (f.returns) {
        var r = {};
        Object.keys(f.returns).forEach(function (k) { r[rename(k)] = f.returns[k].map(rename); });
        f.returns = r;
      }
      (def.ticket_types[type].rules || []).forEach(function (rule) {
        var on = rule.on;
        if (on && typeof on === "object") ["stage_entered", "stage_left"].forEach(function (k) { if (on[k] === oldId) on[k] = newId; });
      });
    }, w("flow.renamed", { from: oldId, to: newId }));
    positions[newId] = positions[oldId];
    delete positions[oldId];
    render(false);
    select("node", newId);
    return true;
  }

  // ------------------------------------------------------------------ problems on the canvas
  var PATH = /^ticket_types\.([^.[\]]+)\.flow(?:\.(nodes|edges)\[(\d+)\]|\.returns\.([a-z][a-z0-9_]*))?/;

  function placeProblems(problems, sentNodes, sentEdges) {
    var next = { node: {}, edge: {}, flow: [], edgeAt: {} };
    (problems || []).forEach(function (p) {
      var m = PATH.exec(p.path || "");
      if (!m || m[1] !== type) return;
      var msg = p.message || p.code;
      var id = m[2] === "nodes" ? sentNodes[+m[3]] : m[2] === "edges" ? sentEdges[+m[3]] : m[4];
      if (m[2] === "edges" && id && id.indexOf("x:") !== 0) {
        (next.edge[id] = next.edge[id] || []).push(msg);
        // where in the edge (".requires[1]"): shown at the control of the inspector that edits it
        (next.edgeAt[id] = next.edgeAt[id] || []).push({ at: p.path.slice(m[0].length), message: msg });
      }
      else if (id && m[2] !== "edges") (next.node[id] = next.node[id] || []).push(msg);
      else next.flow.push(p);
    });
    quiet++;
    ["node", "edge"].forEach(function (kind) {
      var before = problemsBy[kind], after = next[kind];
      Object.keys(before).concat(Object.keys(after)).forEach(function (id) {
        if (JSON.stringify(before[id] || []) === JSON.stringify(after[id] || [])) return;
        var model = kind === "node" ? lf.getNodeModelById(id) : lf.getEdgeModelById(id);
        if (model) lf.setProperties(id, { problems: after[id] || [] });
      });
    });
    quiet--;
    problemsBy = next;
    showProblemList(problems || []);
    panelProblems();
  }

  // The selection's problems at the top of the panel: refreshed alone, so that a check answering
  // while somebody fills in the panel never redraws what they are typing or choosing.
  function panelProblems() {
    var box = document.getElementById("flow-panel-problems");
    if (!box || !selection) return;
    var list = selection.kind === "node" ? problemsBy.node[selection.id] : selection.kind === "edge" ? problemsBy.edge[selection.id] : null;
    box.innerHTML = "";
    if (list && list.length) box.appendChild(Kit.problems(list.map(function (m) { return { message: m }; })));
    var requires = document.querySelector("#flow-panel [data-prop=requires]");
    if (requires && requires.showProblems) requires.showProblems(selection.kind === "edge" ? problemsBy.edgeAt[selection.id] || [] : []);
  }

  function showProblemList(all) {
    var box = document.getElementById("flow-problems");
    box.innerHTML = "";
    var mine = all.filter(function (p) { var m = PATH.exec(p.path || ""); return m && m[1] === type; });
    var others = all.length - mine.length;
    box.dataset.count = String(mine.length);
    if (!mine.length) {
      box.appendChild(E("p", { class: "ok", text: others ? w("flow.no_problems_here", { count: others }) : w("flow.no_problems") }));
      return;
    }
    box.appendChild(E("p", { class: "title", text: w("flow.problems", { count: mine.length }) }));
    var ul = E("ul", { class: "problems" });
    mine.forEach(function (p) {
      var li = E("li", { class: "error", "data-path": p.path }, [E("code", { text: p.path.replace("ticket_types." + type + ".", "") }), E("span", { text: " " + p.message })]);
      li.addEventListener("click", function () {
        var m = PATH.exec(p.path);
        var id = m[2] === "nodes" ? lastSentNodes[+m[3]] : m[2] === "edges" ? lastSentEdges[+m[3]] : m[4];
        if (id && lf.getNodeModelById(id)) { select("node", id); lf.focusOn({ id: id }); }
        else if (id && lf.getEdgeModelById(id)) select("edge", id);
      });
      ul.appendChild(li);
    });
    box.appendChild(ul);
    if (others) box.appendChild(E("p", { class: "muted", text: w("flow.other_problems", { count: others }) }));
  }

  var lastSentNodes = [], lastSentEdges = [], checkSeq = 0;
  function runCheck() {
    var mine = ++checkSeq;
    var sentNodes = flow().nodes.map(function (n) { return n.id; });
    var sentEdges = edgeOrder.slice();
    root.dataset.checking = "1";
    draft.check().then(function (res) {
      if (mine !== checkSeq) return;
      lastSentNodes = sentNodes;
      lastSentEdges = sentEdges;
      placeProblems(res.problems || [], sentNodes, sentEdges);
      root.dataset.checking = "0";
      root.dataset.checked = String(mine);
    });
  }
  var checkSoon;

  // ------------------------------------------------------------------ property panel
  function select(kind, id) {
    selection = { kind: kind, id: id };
    if (kind === "node" && lf.getNodeModelById(id)) lf.selectElementById(id);
    else if (kind === "edge" && lf.getEdgeModelById(id)) lf.selectElementById(id);
    else lf.clearSelectElements();
    showPanel();
  }

  function ctx() {
    var def = draft.definition;
    var fields = [];
    ((def.ticket_types[type].form || {}).sections || []).forEach(function (s) {
      (s.fields || []).forEach(function (f) { fields.push(f); });
    });
    return {
      draft: draft, type: type, kinds: palette.assignee_kinds,
      roles: function () { return Object.keys(def.roles || {}).map(function (k) { var r = def.roles[k]; return { value: k, label: Kit.text(r.name || r) + " (" + k + ")" }; }); },
      userFields: function () { return fields.filter(function (f) { return f.type === "user"; }).map(function (f) { return { value: f.key, label: Kit.text(f.label) + " (" + f.key + ")" }; }); },
      fields: fields
    };
  }

  // What the shared action forms (editor_kit.js) need: the same as the rule editor's.
  function actionCtx() {
    var c = ctx();
    return {
      draft: draft, type: type, palette: palette, people: c,
      fields: function () { return c.fields; },
      nodes: function () { return nodeSelectOptions("—"); }
    };
  }

  function setReturn(source, target, on) {
    draft.change(function (def) {
      var f = flowOf(def);
      var r = Object.assign({}, f.returns || {});
      var list = (r[source] || []).filter(function (x) { return x !== target; });
      if (on) list.push(target);
      var order = f.nodes.map(function (x) { return x.id; });
      list.sort(function (a, b) { return order.indexOf(a) - order.indexOf(b); });
      if (list.length) r[source] = list; else delete r[source];
      if (Object.keys(r).length) f.returns = r; else delete f.returns;
    }, w("flow.returns_edited", { id: source }));
  }

  function setPermission(id, fieldKey, role, level) {
    setNode(id, function (x) {
      var p = Object.assign({}, x.permissions || {});
      var cur = p[fieldKey];
      var byRole = typeof cur === "string" ? { "*": cur } : Object.assign({}, cur || {});
      setOrDrop(byRole, role, level);
      var keys = Object.keys(byRole);
      if (!keys.length) delete p[fieldKey];
      else if (keys.length === 1 && keys[0] === "*") p[fieldKey] = byRole["*"];
      else p[fieldKey] = byRole;
      if (Object.keys(p).length) x.permissions = p; else delete x.permissions;
    });
  }

  function section(title, children, attrs) {
    return E("fieldset", Object.assign({ class: "panel-section" }, attrs || {}), [E("legend", { text: title })].concat(children));
  }

  function durationText(v) {
    if (!v) return "";
    if (typeof v === "string") return v;
    return Object.keys(v).map(function (k) { return k + ": " + v[k]; }).join(", ");
  }
  function parseDuration(text) {
    text = (text || "").trim();
    if (!text) return undefined;
    if (text.indexOf(":") < 0 && text.indexOf("=") < 0) return text;
    var out = {};
    text.split(/[,;，]/).forEach(function (part) {
      var kv = part.split(/[:=]/);
      if (kv.length === 2 && kv[0].trim()) out[kv[0].trim()] = kv[1].trim();
    });
    return out;
  }

  function nodeSelectOptions(blank) {
    var opts = blank ? [{ value: "", label: blank }] : [];
    return opts.concat(flow().nodes.map(function (n) { return { value: n.id, label: nodeLabel(n) + " (" + n.id + ")" }; }));
  }

  function setOrDrop(n, key, value) { if (value === undefined || value === "" || value === null) delete n[key]; else n[key] = value; }

  // Sections of the node panel, by name; which sections a node type shows comes from the page's
  // palette (the node types registry), so a new node type needs no change here.
  var SECTIONS = {
    basics: function (n) {
      var nt = nodeType(n.type);
      return section(w("flow.section_basics"), [
        E("p", { class: "muted", text: nt.label + " — " + nt.hint }),
        Kit.field(w("flow.node_id"), Kit.input(n.id, function (v) { if (v !== n.id && !renameNode(n.id, v)) showPanel(); }, { "data-prop": "id", pattern: "[a-z][a-z0-9_]*" })),
        Kit.field(w("flow.node_name"), Kit.i18n(n.name, function (v) { setNode(n.id, function (x) { setOrDrop(x, "name", v); }); }))
      ]);
    },
    assignee: function (n, c) {
      return section(w("flow.section_assignee"), [
        Kit.assignee(n.assignee, c, function (v) { setNode(n.id, function (x) { setOrDrop(x, "assignee", v); }); })
      ], { "data-section": "assignee" });
    },
    approvers: function (n, c) {
      var list = E("div", { class: "approvers" });
      (n.assignees || []).forEach(function (a, i) {
        list.appendChild(E("div", { class: "approver" }, [
          Kit.assignee(a, c, function (v) {
            setNode(n.id, function (x) { if (v === undefined) x.assignees.splice(i, 1); else x.assignees[i] = v; if (!x.assignees.length) delete x.assignees; });
          }),
          Kit.button("×", function () { setNode(n.id, function (x) { x.assignees.splice(i, 1); if (!x.assignees.length) delete x.assignees; }); showPanel(); }, { "aria-label": w("flow.remove_approver"), class: "button small secondary" })
        ]));
      });
      var addKind = palette.assignee_kinds.filter(function (k) { return k.kind === "role"; })[0] || palette.assignee_kinds[0];
      var roles = c.roles();
      var adder = Kit.button(w("flow.add_approver"), function () {
        setNode(n.id, function (x) {
          var a = {};
          a[addKind.kind] = addKind.kind === "role" && roles.length ? roles[0].value : (addKind.input === "yes" ? true : "");
          x.assignees = (x.assignees || []).concat([a]);
        });
        showPanel();
      }, { "data-action": "add-approver" });
      var mode = Kit.select(palette.approval_modes, n.mode || "single", function (v) {
        setNode(n.id, function (x) { x.mode = v; if (v !== "percentage") delete x.threshold; });
        showPanel();
      }, { "data-prop": "mode" });
      var children = [Kit.field(w("flow.approval_mode"), mode, w("flow.mode_hint_" + (n.mode || "single"))), list, adder];
      if ((n.mode || "single") === "percentage") {
        children.push(Kit.field(w("flow.threshold"), Kit.input(n.threshold, function (v) {
          setNode(n.id, function (x) { setOrDrop(x, "threshold", v === "" ? undefined : Number(v)); });
        }, { type: "number", step: "any", min: "0", "data-prop": "threshold" }), w("flow.threshold_hint")));
      }
      children.push(Kit.field(w("flow.on_reject"), Kit.select(nodeSelectOptions(w("flow.on_reject_default")), n.on_reject || "", function (v) {
        setNode(n.id, function (x) { setOrDrop(x, "on_reject", v); });
      }, { "data-prop": "on_reject" })));
      return section(w("flow.section_approval"), children, { "data-section": "approval" });
    },
    sla: function (n, c) {
      var sla = n.sla || {};
      function put(key, value) {
        setNode(n.id, function (x) {
          var s = Object.assign({}, x.sla || {});
          setOrDrop(s, key, value);
          if (Object.keys(s).length) x.sla = s; else delete x.sla;
        });
      }
      var choiceFields = c.fields.filter(function (f) { return f.options || f.options_from; }).map(function (f) { return { value: f.key, label: Kit.text(f.label) + " (" + f.key + ")" }; });
      return section(w("flow.section_sla"), [
        Kit.field(w("flow.sla_response"), Kit.input(durationText(sla.response), function (v) { put("response", parseDuration(v)); }, { placeholder: "4h / P1: 15m, P2: 1h", "data-prop": "sla.response" })),
        Kit.field(w("flow.sla_resolution"), Kit.input(durationText(sla.resolution), function (v) { put("resolution", parseDuration(v)); }, { placeholder: "3d / P1: 4h, P2: 1d", "data-prop": "sla.resolution" }), w("flow.sla_hint")),
        Kit.field(w("flow.sla_by"), Kit.select([{ value: "", label: w("flow.sla_by_default") }].concat(choiceFields), sla.by || "", function (v) { put("by", v || undefined); })),
        Kit.field(w("flow.sla_calendar"), Kit.input(sla.calendar, function (v) { put("calendar", v || undefined); }, { placeholder: "cn_workdays" })),
        Kit.field(w("flow.sla_paused"), Kit.check(n.sla_paused, function (v) { setNode(n.id, function (x) { setOrDrop(x, "sla_paused", v || undefined); }); })),
        E("p", { class: "muted", text: w("flow.esc_sla_note", { count: (flow().escalation || []).length }) }),
        Kit.button(w("flow.esc_open"), function () { select("flow"); }, { "data-action": "open-escalation" })
      ], { "data-section": "sla" });
    },
    // Field × role grid: each cell is a role's access at this stage; the "*" column is everyone
    // else, the "*" row every field not listed. A field with only "*" set is stored as one level.
    permissions: function (n, c) {
      var perms = n.permissions || {};
      var levels = [{ value: "", label: w("flow.perm_default") }].concat(palette.access_levels.map(function (l) { return { value: l, label: w("flow.perm_" + l) }; }));
      var roles = draft.definition.roles || {};
      var cols = Object.keys(roles).map(function (k) { return { key: k, label: Kit.text(roles[k].name || roles[k]) || k }; })
        .concat([{ key: "*", label: w("flow.perm_everyone") }]);
      var head = E("tr", {}, [E("th", { text: w("flow.perm_field") })].concat(cols.map(function (col) {
        return E("th", { text: col.label, title: col.key, scope: "col" });
      })));
      var table = E("table", { class: "perm-table perm-grid" }, [E("thead", {}, [head])]);
      var body = E("tbody");
      var rows = [{ key: "*", label: w("flow.perm_all_others") }].concat(c.fields.map(function (f) { return { key: f.key, label: Kit.text(f.label) || f.key }; }));
      rows.forEach(function (r) {
        var value = perms[r.key];
        var cells = cols.map(function (col) {
          var cur = typeof value === "string" ? (col.key === "*" ? value : "") : ((value || {})[col.key] || "");
          return E("td", {}, [Kit.select(levels, cur, function (v) { setPermission(n.id, r.key, col.key, v); }, {
            "aria-label": r.label + " · " + col.label, "data-field": r.key, "data-perm-role": col.key
          })]);
        });
        body.appendChild(E("tr", { "data-field": r.key }, [E("th", { text: r.label, title: r.key, scope: "row" })].concat(cells)));
      });
      table.appendChild(body);
      return section(w("flow.section_permissions"), [
        E("p", { class: "muted", text: w("flow.perm_hint") + " " + w("flow.perm_role_hint") }),
        E("div", { class: "perm-scroll" }, [table])
      ], { "data-section": "permissions" });
    },
    // 退回: tick the earlier people's steps this node's assignee may send the ticket back to.
    returns: function (n) {
      var f = flow();
      var chosen = (f.returns || {})[n.id] || [];
      var targets = f.nodes.filter(function (x) { return x.id !== n.id && (nodeType(x.type).people || chosen.indexOf(x.id) >= 0); });
      var list = E("div", { class: "return-list" });
      targets.forEach(function (x) {
        list.appendChild(E("label", { class: "return-choice" }, [
          Kit.check(chosen.indexOf(x.id) >= 0, function (v) { setReturn(n.id, x.id, v); }, { "data-return-to": x.id }),
          E("span", { text: " " + nodeLabel(x) + " (" + x.id + ")" })
        ]));
      });
      return section(w("flow.section_returns"), [
        E("p", { class: "muted", text: targets.length ? w("flow.returns_pick") : w("flow.returns_none") }), list
      ], { "data-section": "returns" });
    },
    wait: function (n, c) {
      var wait = n.wait || {};
      var dates = c.fields.filter(function (f) { return f.type === "date" || f.type === "datetime"; }).map(function (f) { return { value: f.key, label: Kit.text(f.label) }; });
      return section(w("flow.section_wait"), [
        Kit.field(w("flow.wait_duration"), Kit.input(wait.duration, function (v) { setNode(n.id, function (x) { x.wait = v ? { duration: v } : x.wait; }); }, { placeholder: "1d" })),
        Kit.field(w("flow.wait_until"), Kit.select([{ value: "", label: "—" }].concat(dates), wait.until || "", function (v) { setNode(n.id, function (x) { if (v) x.wait = { until: v }; }); }))
      ]);
    },
    subprocess: function (n) {
      var types = Object.keys(draft.definition.ticket_types).map(function (k) { return { value: k, label: Kit.text(draft.definition.ticket_types[k].name) || k }; });
      return section(w("flow.section_subprocess"), [
        Kit.field(w("flow.subprocess_type"), Kit.select([{ value: "", label: "—" }].concat(types), n.ticket_type || "", function (v) { setNode(n.id, function (x) { setOrDrop(x, "ticket_type", v); }); }))
      ]);
    },
    actions: function (n) {
      return section(w("flow.section_actions"), [
        E("p", { class: "muted", text: w("flow.actions_hint") }),
        Kit.actions(n.actions, actionCtx(), function (v) {
          setNode(n.id, function (x) { setOrDrop(x, "actions", v); }, w("flow.actions_edited", { id: n.id }));
        })
      ], { "data-section": "actions" });
    },
    connections: function (n) {
      var list = E("ul", { class: "connections" });
      flow().edges.forEach(function (e, i) {
        var p = ends(e);
        if (p[0] !== n.id) return;
        var target = findNode(flow(), p[1]);
        var li = E("li", {}, [E("a", { href: "#", text: "→ " + (target ? nodeLabel(target) : p[1]) + (edgeText(e) ? " · " + edgeText(e) : "") })]);
        if (!Array.isArray(e) && (e.requires || []).length) li.firstChild.title = w("flow.edge_requires_mark", { fields: e.requires.join(", ") });
        li.firstChild.addEventListener("click", function (ev) { ev.preventDefault(); if (edgeOrder[i].indexOf("x:") !== 0) select("edge", edgeOrder[i]); });
        list.appendChild(li);
      });
      var others = nodeSelectOptions(w("flow.connect_pick")).filter(function (o) { return o.value !== n.id; });
      var pick = Kit.select(others, "", function () { /* chosen on click */ }, { "data-role": "connect-target", "aria-label": w("flow.connect_to") });
      var go = Kit.button(w("flow.connect"), function () { if (pick.value) { connect(n.id, pick.value); showPanel(); } }, { "data-action": "connect" });
      return section(w("flow.section_connections"), [list, E("div", { class: "connect-row" }, [pick, go])], { "data-section": "connections" });
    },
    advanced: function (n) {
      return E("details", { class: "panel-section advanced" }, [
        E("summary", { text: w("flow.section_advanced") }),
        E("p", { class: "muted", text: w("flow.advanced_hint") }),
        Kit.json(n, function (v) {
          if (!v || typeof v !== "object") return;
          if (v.id !== n.id) { Draft.say(w("flow.advanced_keep_id"), "bad"); return; }
          setNode(n.id, function (x) { Object.keys(x).forEach(function (k) { delete x[k]; }); Object.assign(x, v); });
          render(false);
          showPanel();
        }, { rows: "10", "data-prop": "json" })
      ]);
    }
  };

  function nodePanel(n) {
    var c = ctx();
    var nt = nodeType(n.type);
    var parts = [E("h2", { text: nodeLabel(n) }), E("div", { id: "flow-panel-problems" })];
    (nt.sections || ["basics", "connections", "advanced"]).forEach(function (name) {
      if (SECTIONS[name]) parts.push(SECTIONS[name](n, c));
    });
    parts.push(E("p", { class: "panel-actions" }, [Kit.button(w("flow.delete_node"), removeSelected, { class: "button small danger", "data-action": "delete" })]));
    return parts;
  }

  function edgePanel(lfId) {
    var i = edgeOrder.indexOf(lfId);
    var e = flow().edges[i];
    if (e === undefined) return [E("p", { text: w("flow.nothing_selected") })];
    var p = ends(e);
    var src = findNode(flow(), p[0]), dst = findNode(flow(), p[1]);
    var o = Array.isArray(e) ? {} : e;
    var gateway = src && (src.type === "exclusive" || src.type === "inclusive");
    var people = src && (src.type === "task" || src.type === "approval");
    var parts = [E("h2", { text: (src ? nodeLabel(src) : p[0]) + " → " + (dst ? nodeLabel(dst) : p[1]) }), E("div", { id: "flow-panel-problems" })];
    var children = [Kit.field(w("flow.edge_name"), Kit.i18n(o.name, function (v) { setEdge(lfId, function (x) { setOrDrop(x, "name", v); }); }))];
    if (people || o.action) {
      children.push(Kit.field(w("flow.edge_action"), Kit.input(o.action, function (v) { setEdge(lfId, function (x) { setOrDrop(x, "action", v.trim()); }); }, { placeholder: "resolve", "data-prop": "action" }), w("flow.edge_action_hint")));
    }
    if (gateway || o.if) {
      children.push(Kit.field(w("flow.edge_if"), Kit.expression(draft, type, "condition", o.if, function (v) { setEdge(lfId, function (x) { setOrDrop(x, "if", v); }); }, { "data-prop": "if" }), w("flow.edge_if_hint")));
    }
    if (gateway || o.default) {
      children.push(Kit.field(w("flow.edge_default"), Kit.check(o.default, function (v) { setEdge(lfId, function (x) { setOrDrop(x, "default", v || undefined); }); })));
    }
    if (people || (o.requires || []).length) children.push(requiresControl(lfId, o));
    parts.push(section(w("flow.section_edge"), children, { "data-section": "edge" }));
    parts.push(E("p", { class: "panel-actions" }, [Kit.button(w("flow.delete_edge"), removeSelected, { class: "button small danger", "data-action": "delete" })]));
    return parts;
  }

  // "此操作需要填写": tick the form's fields that must hold a value before a person takes this
  // edge's action (the edge's requires; none ticked → the key is dropped). A ticked key the form no
  // longer has stays listed, marked, so it can be unticked; the checks' problems at
  // edges[i].requires[j] are shown on the row they name (showProblems, from panelProblems).
  var COMPUTED = { formula: true, autonumber: true };
  function requiresControl(lfId, o) {
    var chosen = Array.isArray(o.requires) ? o.requires.slice() : [];
    var fields = ctx().fields;
    var known = {};
    fields.forEach(function (f) { known[f.key] = true; });
    var rows = fields.filter(function (f) { return !COMPUTED[f.type] || chosen.indexOf(f.key) >= 0; })
      .map(function (f) { return { key: f.key, label: (Kit.text(f.label) || f.key) + " (" + f.key + ")" }; })
      .concat(chosen.filter(function (k) { return typeof k !== "string" || !known[k]; }).map(function (k) {
        return { key: String(k), label: String(k) + " " + w("flow.edge_requires_unknown"), unknown: true };
      }));
    var list = E("div", { class: "return-list requires-list" });
    rows.forEach(function (r) {
      list.appendChild(E("label", { class: "return-choice" + (r.unknown ? " unknown" : ""), "data-requires-row": r.key }, [
        Kit.check(chosen.indexOf(r.key) >= 0, function (on) {
          chosen = chosen.filter(function (k) { return k !== r.key; });
          if (on) chosen.push(r.key);
          var value = chosen.length ? chosen.slice() : undefined;
          setEdge(lfId, function (x) { setOrDrop(x, "requires", value); });
        }, { "data-requires": r.key }),
        E("span", { text: " " + r.label })
      ]));
    });
    if (!rows.length) list.appendChild(E("p", { class: "muted", text: w("flow.edge_requires_none") }));
    var note = E("small", { class: "kit-expr-note", "aria-live": "polite" });
    var box = E("div", { class: "kit-field requires-field", role: "group", "aria-label": w("flow.edge_requires"), "data-prop": "requires" }, [
      E("span", { class: "kit-label", text: w("flow.edge_requires") }), list, note,
      E("small", { class: "muted", text: w("flow.edge_requires_hint") })
    ]);
    // problems: [{at: ".requires[1]" | ".requires" | …, message}] of this edge
    box.showProblems = function (problems) {
      var mine = (problems || []).filter(function (p) { return /^\.requires(\[|$)/.test(p.at); });
      var current = flow().edges[edgeOrder.indexOf(lfId)];
      var stored = current && !Array.isArray(current) && Array.isArray(current.requires) ? current.requires : [];
      Array.prototype.forEach.call(list.querySelectorAll("[data-requires-row]"), function (row) {
        row.classList.remove("bad");
        row.removeAttribute("title");
      });
      mine.forEach(function (p) {
        var m = /^\.requires\[(\d+)\]/.exec(p.at);
        var key = m ? stored[+m[1]] : undefined;
        Array.prototype.forEach.call(list.querySelectorAll("[data-requires-row]"), function (row) {
          if (key !== undefined && row.getAttribute("data-requires-row") === String(key)) { row.classList.add("bad"); row.title = p.message; }
        });
      });
      box.classList.toggle("bad", mine.length > 0);
      note.className = "kit-expr-note" + (mine.length ? " error" : "");
      note.textContent = mine.map(function (p) { return p.message; }).join(" ");
    };
    return box;
  }

  function flowPanel() {
    var f = flow();
    var parts = [E("h2", { text: w("flow.settings") }), E("p", { class: "muted", text: w("flow.settings_hint") })];
    parts.push(section(w("flow.section_flow"), [
      Kit.field(w("flow.reopen_to"), Kit.select(nodeSelectOptions(w("flow.reopen_default")), f.reopen_to || "", function (v) {
        draft.change(function (def) { setOrDrop(flowOf(def), "reopen_to", v); }, w("flow.settings"));
      })),
      returnsSummary(f)
    ]));
    parts.push(section(w("flow.escalation"), [E("p", { class: "muted", text: w("flow.escalation_hint") }), escalationEditor()], { "data-section": "escalation" }));
    var dangling = edgeOrder.filter(function (id) { return id.indexOf("x:") === 0; });
    if (dangling.length) {
      var ul = E("ul", { class: "problems" });
      dangling.forEach(function (id) {
        var e = f.edges[edgeOrder.indexOf(id)];
        var li = E("li", { class: "error" }, [E("code", { text: ends(e).join(" → ") }), Kit.button(w("flow.delete_edge"), function () {
          var i = edgeOrder.indexOf(id);
          draft.change(function (def) { flowOf(def).edges.splice(i, 1); }, w("flow.deleted"));
          edgeOrder.splice(i, 1);
          showPanel();
        })]);
        ul.appendChild(li);
      });
      parts.push(section(w("flow.dangling"), [ul]));
    }
    return parts;
  }

  // Where each node may send back to, as links to the node (edited in the node's "Send back").
  function returnsSummary(f) {
    var box = E("div", { class: "returns-summary", "data-role": "returns-summary" }, [E("span", { class: "kit-label", text: w("flow.returns") })]);
    var r = f.returns || {};
    if (!Object.keys(r).length) { box.appendChild(E("p", { class: "muted", text: w("flow.returns_summary_none") })); return box; }
    var ul = E("ul", { class: "connections" });
    Object.keys(r).forEach(function (src) {
      var node = findNode(f, src);
      var names = (r[src] || []).map(function (t) { var x = findNode(f, t); return x ? nodeLabel(x) : t; });
      var a = E("a", { href: "#", "data-return-from": src, text: (node ? nodeLabel(node) : src) + " ↩ " + names.join(", ") });
      a.addEventListener("click", function (ev) { ev.preventDefault(); if (node) select("node", src); });
      ul.appendChild(E("li", {}, [a]));
    });
    box.appendChild(ul);
    return box;
  }

  // The escalation chain: levels at a share of the SLA time, each running actions (the rule
  // editor's action forms). One undo step per committed edit; a bad share is refused in place.
  function escalationEditor() {
    var steps = Draft.clone(flow().escalation || []);
    var box = E("div", { class: "escalation" });
    function store() {
      var value = steps.length ? Draft.clone(steps) : undefined;
      draft.change(function (def) { setOrDrop(flowOf(def), "escalation", value); }, w("flow.esc_edited"));
    }
    function draw() {
      box.innerHTML = "";
      if (!steps.length) box.appendChild(E("p", { class: "muted", text: w("flow.esc_none") }));
      var ol = E("ol", { class: "esc-steps" });
      steps.forEach(function (step, i) {
        var note = E("small", { class: "kit-expr-note" });
        var at = Kit.input(String(step.at || "").replace(/%$/, ""), function (v) {
          var t = v.trim().replace(/%$/, "");
          if (!/^\d{1,3}$/.test(t) || +t < 1) {
            at.classList.add("bad");
            note.className = "kit-expr-note error";
            note.textContent = w("flow.esc_bad_at");
            return;
          }
          at.classList.remove("bad");
          note.textContent = "";
          steps[i].at = String(+t) + "%";
          store();
        }, { type: "number", min: "1", max: "999", step: "1", "data-prop": "esc-at", "aria-label": w("flow.esc_at") });
        var actions = Kit.actions(step.do, actionCtx(), function (v) {
          if (v) steps[i].do = v; else delete steps[i].do;
          store();
        });
        ol.appendChild(E("li", { class: "esc-step", "data-level": String(i) }, [
          E("div", { class: "action-head" }, [
            E("strong", { text: w("flow.esc_level", { n: i + 1 }) }),
            Kit.button(w("flow.esc_remove"), function () { steps.splice(i, 1); store(); draw(); }, { class: "button small secondary", "data-action": "remove-level" })
          ]),
          Kit.field(w("flow.esc_at"), E("span", { class: "esc-at" }, [at, E("span", { text: " %" })]), w("flow.esc_at_hint")),
          note,
          E("div", { class: "esc-do" }, [E("span", { class: "kit-label", text: w("flow.esc_do") }), actions])
        ]));
      });
      box.appendChild(ol);
      box.appendChild(Kit.button(w("flow.esc_add"), function () {
        var last = steps.length ? parseInt(steps[steps.length - 1].at, 10) || 0 : 0;
        steps.push({ at: (last ? last + 50 : 100) + "%", do: [{ notify: { channel: "email", to: "assignee" } }] });
        store();
        draw();
      }, { "data-action": "add-level" }));
    }
    draw();
    return box;
  }

  function showPanel() {
    var panel = document.getElementById("flow-panel");
    panel.innerHTML = "";
    var parts;
    if (selection && selection.kind === "node" && findNode(flow(), selection.id)) parts = nodePanel(findNode(flow(), selection.id));
    else if (selection && selection.kind === "edge" && edgeOrder.indexOf(selection.id) >= 0) parts = edgePanel(selection.id);
    else { selection = { kind: "flow" }; parts = flowPanel(); }
    panel.dataset.selected = selection.id || "";
    panel.dataset.kind = selection.kind;
    parts.forEach(function (p) { panel.appendChild(p); });
    panelProblems();
  }

  // A small flow fits the view; a big one opens at full size on its start (drawing all of it small
  // would draw every node).
  function showAll() {
    var f = flow();
    if (f.nodes.length <= BIG_FLOW) { lf.fitView(40, 40); if (lf.getTransform().SCALE_X > 1) lf.resetZoom(); return; }
    lf.resetZoom();
    var first = f.nodes.filter(function (n) { return n.type === "start"; })[0] || f.nodes[0];
    if (first) lf.focusOn({ id: first.id });
  }

  // ------------------------------------------------------------------ palette and toolbar
  function buildPalette() {
    var box = document.getElementById("flow-palette");
    palette.node_types.forEach(function (nt) {
      var item = E("button", { type: "button", class: "palette-item shape-" + nt.shape, "data-node-type": nt.type, title: nt.hint }, [
        E("span", { class: "palette-icon" }), E("span", { text: nt.label })
      ]);
      item.addEventListener("pointerdown", function (ev) {
        if (ev.button !== 0) return;
        pendingDrag = nt.type;
        lf.dnd.startDrag({ type: lfType(nt.type), text: nt.label, properties: { kind: nt.type, problems: [] } });
      });
      item.addEventListener("click", function () { addNode(nt.type); });
      box.appendChild(item);
    });
  }
  var pendingDrag = null;

  function toolbar() {
    var bar = document.getElementById("flow-toolbar");
    function btn(action, label, fn, cls) {
      var b = E("button", { type: "button", class: "button small " + (cls || ""), "data-action": action, text: label });
      b.addEventListener("click", fn);
      bar.appendChild(b);
      return b;
    }
    btn("save", w("ed.save"), function () { draft.save(); }, "primary");
    btn("undo", w("ed.undo"), function () { draft.undo(); });
    btn("redo", w("ed.redo"), function () { draft.redo(); });
    btn("layout", w("flow.auto_layout"), function () { render(true); });
    btn("fit", w("flow.fit"), function () { lf.fitView(40, 40); });
    btn("start", w("flow.to_start"), showAll);
    btn("zoom-in", "+", function () { lf.zoom(true); });
    btn("zoom-out", "−", function () { lf.zoom(false); });
  }

  // ------------------------------------------------------------------ start
  function start() {
    shell = document.querySelector(".designer-shell");
    root = document.getElementById("flow-designer");
    if (!shell || !root || !window.Core) return;
    Kit = window.Kit;
    E = Kit.E;
    w = Kit.w;
    Kit.words(document.getElementById("editor-words"));
    palette = JSON.parse(root.getAttribute("data-palette"));
    appKey = shell.dataset.app;
    type = shell.dataset.ticketType;
    loadPositions();
    var Core = window.Core;
    lf = new Core.LogicFlow({
      container: document.getElementById("flow-canvas"),
      grid: { size: 10, visible: true, type: "dot", config: { color: "#d7dde5" } },
      textEdit: false, keyboard: { enabled: false }, history: false, snapline: true,
      edgeType: "gd_edge", adjustEdgeStartAndEnd: false,
      idGenerator: function (t) {
        var kind = typeof t === "string" && t.indexOf("gd_") === 0 && t !== "gd_edge" ? t.slice(3) : null;
        return kind ? freshId(kind) : "edge_" + (++seq);
      }
    });
    registerTypes(Core);
    lf.on("node:click", function (ev) { select("node", ev.data.id); });
    lf.on("edge:click", function (ev) { select("edge", ev.data.id); });
    lf.on("blank:click", function () { select("flow"); });
    lf.on("node:drop", function (ev) {
      lf.getSelectElements(true).nodes.forEach(function (n) { positions[n.id] = { x: n.x, y: n.y }; });
      positions[ev.data.id] = { x: ev.data.x, y: ev.data.y };
      keepPositions();
    });
    lf.on("node:dnd-add", function (ev) {
      var kind = (ev.data.properties && ev.data.properties.kind) || pendingDrag || "task";
      var fresh = {};
      fresh[ev.data.id] = freshNode(kind, ev.data.id);
      quiet++;
      lf.updateText(ev.data.id, nodeLabel(fresh[ev.data.id]));
      quiet--;
      syncFromCanvas(w("flow.added", { name: nodeLabel(fresh[ev.data.id]) }), fresh);
      select("node", ev.data.id);
    });
    lf.on("edge:add", function () { if (!quiet) syncFromCanvas(w("flow.connected_any")); });
    document.addEventListener("keydown", function (e) {
      var t = e.target && e.target.tagName;
      if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT" || (e.target && e.target.isContentEditable)) return;
      if ((e.key === "Delete" || e.key === "Backspace") && selection && selection.kind !== "flow") { e.preventDefault(); removeSelected(); }
    });
    buildPalette();
    toolbar();
    checkSoon = Draft.debounce(runCheck, 400);
    Draft.load(appKey).then(function (d) {
      draft = d;
      if (!draft.typeDef(type)) return;
      render(false);
      showAll();
      select("flow");
      draft.on("change", function (detail) {
        var label = detail && detail.label;
        if (label === "undo" || label === "redo" || label === "reload") { render(false); showPanel(); }
        checkSoon();
      });
      draft.on("saved", function () { root.dataset.saved = String(draft.revision); });
      root.dataset.ready = "1";
      runCheck();
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
