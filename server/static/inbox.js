// The agent inbox: keys (j/k move, Enter opens, c claims, x selects), SLA countdowns refreshed
// every minute from each row's due time, "select all", and saving the filters shown as a view.
(function () {
  "use strict";
  var current = -1;

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#inbox-list .inbox-row")); }

  function select(i, focus) {
    var all = rows();
    if (!all.length) { current = -1; return; }
    current = Math.max(0, Math.min(i, all.length - 1));
    all.forEach(function (r, k) { r.classList.toggle("current", k === current); });
    if (focus !== false) { all[current].focus(); }
  }

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName));
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) { return; }
    var all = rows();
    if (!all.length) { return; }
    var row = all[current] || null;
    var inRow = e.target.closest && e.target.closest(".inbox-row");
    if (inRow) { current = all.indexOf(inRow); row = inRow; }
    switch (e.key) {
      case "j": select(current + 1); break;
      case "k": select(current < 0 ? 0 : current - 1); break;
      case "Enter":
        if (row && (e.target === row || !inRow)) { window.location.href = row.dataset.href; } else { return; }
        break;
      case "c":
        var claim = row && row.querySelector("button.claim");
        if (claim) { claim.click(); } else { return; }
        break;
      case "x":
        var box = row && row.querySelector('input[name="task"]');
        if (box) { box.checked = !box.checked; } else { return; }
        break;
      default: return;
    }
    e.preventDefault();
  });

  document.addEventListener("focusin", function (e) {
    var row = e.target.closest && e.target.closest(".inbox-row");
    if (row) { select(rows().indexOf(row), false); }
  });

  document.addEventListener("change", function (e) {
    if (e.target.classList.contains("select-all")) {
      document.querySelectorAll('#inbox-list input[name="task"]').forEach(function (b) { b.checked = e.target.checked; });
    }
  });

  // Saving a view takes the filters as they are now (they may have changed without a reload).
  document.addEventListener("submit", function (e) {
    if (e.target.id !== "inbox-save-view") { return; }
    var form = e.target, filters = document.getElementById("inbox-filters");
    form.querySelectorAll("input[data-filter]").forEach(function (i) { i.remove(); });
    new FormData(filters).forEach(function (value, name) {
      if (name === "tab" || value === "") { return; }
      var input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = value; input.setAttribute("data-filter", "");
      form.appendChild(input);
    });
  }, true);

  function fill(template, key, value) { return template.split("{" + key + "}").join(value); }

  function countdowns() {
    var box = document.getElementById("inbox-list");
    if (!box) { return; }
    var d = box.dataset, now = Date.now();
    box.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) { return; }
      var seconds = Math.trunc((due - now) / 1000), minutes = Math.floor(Math.abs(seconds) / 60);
      var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
      var parts = days ? [["d", days], ["h", hours]] : hours ? [["h", hours], ["m", mins]] : [["m", mins]];
      var last = parts[parts.length - 1][0];
      var text = parts.filter(function (p) { return p[1] || p[0] === last; })
        .map(function (p) { return fill(d["unit" + p[0].toUpperCase()], "n", p[1]); }).join(d.sep);
      el.textContent = fill(seconds >= 0 ? d.left : d.overdue, "time", text);
      if (seconds < 0) { el.classList.add("breached"); }
    });
  }

  document.addEventListener("htmx:afterSwap", function () { current = -1; countdowns(); });
  document.addEventListener("DOMContentLoaded", countdowns);
  window.setInterval(countdowns, 60 * 1000);
})();
