// The import page: upload a sheet, follow its check on the job queue ("checking… n / total"), map
// its columns, show each row's problems, run the import and let htmx poll its progress bar
// (server/pages/imports.py, server/api/imports.py).
(function () {
  var root = document.getElementById("importer");
  if (!root) return;
  var base = "/api/v1/imports/" + root.dataset.app + "/" + root.dataset.type;
  var targets = [];
  var job = null;
  var checking = null;  // the id of the job whose check this page waits for (a newer upload replaces it)
  var $ = function (id) { return document.getElementById(id); };

  function showError(data) {
    var box = $("import-error");
    box.textContent = "";
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = (data && data.message) || "Error";
    box.appendChild(p);
    var problems = (data && data.problems) || [];
    if (problems.length) {
      var ul = document.createElement("ul");
      problems.forEach(function (x) {
        var li = document.createElement("li");
        li.textContent = (x.path ? x.path + ": " : "") + x.message;
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    box.hidden = false;
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function render(j) {
    job = j;
    root.dataset.job = String(j.id);
    $("import-error").hidden = true;
    $("import-result").hidden = false;
    $("import-summary").textContent = j.summary;
    var rows = $("mapping-rows");
    rows.textContent = "";
    (j.header || Object.keys(j.columns)).forEach(function (column) {
      var tr = document.createElement("tr");
      cell(tr, column);
      var select = document.createElement("select");
      select.dataset.column = column;
      select.setAttribute("aria-label", column);
      var none = document.createElement("option");
      none.value = "";
      none.textContent = root.dataset.skip;
      select.appendChild(none);
      targets.forEach(function (t) {
        var o = document.createElement("option");
        o.value = t.key;
        o.textContent = t.label + (t.required ? " *" : "");
        if (j.columns[column] === t.key) o.selected = true;
        select.appendChild(o);
      });
      var td = document.createElement("td");
      td.appendChild(select);
      tr.appendChild(td);
      rows.appendChild(tr);
    });
    var errors = $("error-rows");
    errors.textContent = "";
    j.errors.forEach(function (e) {
      var tr = document.createElement("tr");
      cell(tr, String(e.row));
      cell(tr, e.column);
      cell(tr, e.message);
      errors.appendChild(tr);
    });
    $("no-errors").hidden = j.errors.length > 0;
    $("error-table").hidden = j.errors.length === 0;
    $("run-button").disabled = !(j.valid_rows > 0);
  }

  function showChecking(j) {
    var box = $("import-checking");
    box.hidden = false;
    box.querySelector("progress").max = j.total_rows || 1;
    box.querySelector("progress").value = j.done_rows;
    $("checking-summary").textContent = j.summary;
  }

  function checked(j) {
    checking = null;
    $("import-checking").hidden = true;
    $("check-button").disabled = false;
    $("recheck-button").disabled = false;
    if (j.status !== "failed") return render(j);
    // the sheet or the mapping could not be used: the reasons are the problems of row 0
    var reasons = j.errors.filter(function (e) { return e.row === 0; });
    showError({
      message: j.summary,
      problems: reasons.map(function (e) { return { path: e.column, message: e.message }; })
    });
  }

  function follow(j) {
    if (checking !== j.id) return;  // a newer upload took over
    if (j.status !== "checking") return checked(j);
    showChecking(j);
    setTimeout(function () {
      window.gongdan.api("GET", "/api/v1/imports/jobs/" + j.id).then(function (r) {
        if (checking !== j.id) return;
        if (r.ok) return follow(r.data);
        checking = null;
        $("import-checking").hidden = true;
        $("check-button").disabled = false;
        $("recheck-button").disabled = false;
        showError(r.data);
      });
    }, 1000);
  }

  function mapping() {
    var columns = {};
    document.querySelectorAll("#mapping-rows select").forEach(function (s) {
      if (s.value) columns[s.dataset.column] = s.value;
    });
    return { columns: columns };
  }

  function upload(withMapping) {
    var file = $("import-file").files[0];
    if (!file) return;
    var form = new FormData();
    form.append("file", file);
    if (withMapping) {
      form.append("mapping", JSON.stringify(mapping()));
      if ($("save-as").value.trim()) form.append("save_as", $("save-as").value.trim());
    } else if ($("mapping-name").value) {
      form.append("mapping_name", $("mapping-name").value);
    }
    $("progress-slot").textContent = "";
    $("import-result").hidden = true;  // nothing of the previous check can be acted on meanwhile
    $("import-error").hidden = true;
    $("check-button").disabled = true;
    $("recheck-button").disabled = true;
    checking = null;
    fetch(base, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRF-Token": window.gongdan.csrf(), "Accept": "application/json" }
    }).then(function (r) {
      return r.json().then(function (data) {
        if (r.ok) {  // 202: the check is queued (or, on a small site, already done)
          checking = data.id;
          return follow(data);
        }
        $("check-button").disabled = false;
        $("recheck-button").disabled = false;
        showError(data);
      });
    }).catch(function () {
      $("check-button").disabled = false;
      $("recheck-button").disabled = false;
    });
  }

  window.gongdan.api("GET", base + "/targets").then(function (r) {
    if (!r.ok) return showError(r.data);
    targets = r.data.targets;
    r.data.mappings.forEach(function (m) {
      var o = document.createElement("option");
      o.value = m.name;
      o.textContent = m.name;
      $("mapping-name").appendChild(o);
    });
  });

  $("upload-form").addEventListener("submit", function (e) { e.preventDefault(); upload(false); });
  $("recheck-button").addEventListener("click", function () { upload(true); });
  $("run-button").addEventListener("click", function () {
    if (!job) return;
    var id = job.id;  // the job this press is for, whatever a later check shows meanwhile
    $("run-button").disabled = true;
    window.gongdan.api("POST", "/api/v1/imports/jobs/" + id + "/run").then(function (r) {
      if (!r.ok) { $("run-button").disabled = false; return showError(r.data); }
      var slot = $("progress-slot");
      slot.innerHTML = "";
      var poll = document.createElement("div");
      poll.setAttribute("hx-get", "/admin/imports/jobs/" + id + "/progress");
      poll.setAttribute("hx-trigger", "load");
      poll.setAttribute("hx-swap", "outerHTML");
      slot.appendChild(poll);
      window.htmx.process(poll);
    });
  });
})();
