/* Gongdan forms: tabs, sub-table rows, cascading selects, file uploads, the live state, and
 * counters of text with a maximum length.
 *
 * The engine decides what is visible, required and read-only and computes the formulas: on
 * every change (debounced) this posts the form's fields to the form's data-state-url and shows
 * the answer. Nothing here evaluates a condition or checks a value: the same answer lists what
 * a submission would refuse (``invalid``: path → the server's message), shown for the fields
 * the person has changed and left, so a malformed e-mail is said at once, in the server's words. Files are uploaded as soon as they are chosen
 * (to data-upload-url); the form then posts the file references the upload returned, one hidden
 * input each. Forms that htmx swaps in are set up too. No libraries. */
(function () {
  "use strict";

  var DELAY_MS = 250;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* Tabs: click or arrow keys select a tab and show its panel. */
  function setupTabs(root) {
    root.querySelectorAll("[data-tabs]").forEach(function (box) {
      if (box.dataset.gdReady) return;
      box.dataset.gdReady = "1";
      var tabs = Array.prototype.slice.call(box.querySelectorAll('[role="tab"]'));
      function select(tab) {
        tabs.forEach(function (other) {
          var on = other === tab;
          other.setAttribute("aria-selected", on ? "true" : "false");
          other.tabIndex = on ? 0 : -1;
          document.getElementById(other.getAttribute("aria-controls")).hidden = !on;
        });
      }
      tabs.forEach(function (tab, i) {
        tab.addEventListener("click", function () { select(tab); });
        tab.addEventListener("keydown", function (event) {
          var step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
          if (!step) return;
          var next = tabs[(i + step + tabs.length) % tabs.length];
          select(next);
          next.focus();
          event.preventDefault();
        });
      });
    });
  }

  /* Cascade: after a level changes, the next level offers the chosen option's children. */
  function refillCascade(select) {
    var box = select.closest(".gd-cascade");
    if (!box) return;
    var selects = Array.prototype.slice.call(box.querySelectorAll("select"));
    var level = selects.indexOf(select);
    var options = JSON.parse(box.dataset.tree);
    for (var i = 0; i <= level; i++) {
      var chosen = options.find(function (o) { return o.value === selects[i].value; });
      options = chosen && chosen.children ? chosen.children : [];
    }
    for (var j = level + 1; j < selects.length; j++) {
      selects[j].length = 1; // keep "choose…"
      (j === level + 1 ? options : []).forEach(function (o) {
        selects[j].add(new Option(o.label, o.value));
      });
    }
  }

  /* The browser's UTC offset (+08:00), so a date-time typed here keeps its zone. */
  function utcOffset() {
    var minutes = -new Date().getTimezoneOffset();
    var abs = Math.abs(minutes);
    var two = function (n) { return String(n).padStart(2, "0"); };
    return (minutes < 0 ? "-" : "+") + two(Math.floor(abs / 60)) + ":" + two(abs % 60);
  }

  /* "12 / 200" under a text field with a maximum length, as it is typed. */
  function updateCount(control) {
    if (!control.id) return;
    var counter = document.getElementById(control.id + "-count");
    if (!counter || counter.dataset.countFor !== control.id) return;
    var used = control.value.length; // what maxlength counts
    counter.querySelector("[data-count]").textContent = String(used);
    counter.classList.toggle("gd-full", used >= Number(control.getAttribute("maxlength")));
  }

  /* The path the engine names a posted control by: "email", or "items[0].qty" for a cell. */
  function pathOf(name) {
    return name ? name.replace(/\[(\d+)\]\[([a-z0-9_]+)\]$/, "[$1].$2") : "";
  }

  /* One problem message beside a field (or a sub-table cell); none when message is empty. */
  function showProblem(form, path, message) {
    var cell = path.indexOf("[") !== -1;
    var controlId = "f-" + path.replace(/\[(\d+)\]\./, "-$1-");
    var control = document.getElementById(controlId);
    var box = cell
      ? control && control.closest("td")
      : form.querySelector('.gd-field[data-field="' + path + '"]');
    if (!box) return;
    var errorId = controlId + "-error";
    var shown = document.getElementById(errorId);
    if (control) {
      var described = (control.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id !== errorId;
      });
      if (message) described.push(errorId);
      if (described.length) control.setAttribute("aria-describedby", described.join(" "));
      else control.removeAttribute("aria-describedby");
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
    if (!message) {
      if (shown) shown.remove();
      return;
    }
    if (!shown) {
      shown = document.createElement("div");
      shown.className = "gd-error";
      shown.id = errorId;
      shown.setAttribute("role", "alert");
      box.appendChild(shown);
    }
    if (shown.textContent !== message) {
      shown.innerHTML = "";
      var line = document.createElement("p");
      line.textContent = message;
      shown.appendChild(line);
    }
  }

  /* Show the engine's answer: hide/show fields, required marks, read-only, formula values. */
  function showState(form, state, touched) {
    form.querySelectorAll(".gd-field[data-field]").forEach(function (box) {
      var key = box.dataset.field;
      if (!(key in state.visible)) return;
      box.hidden = !state.visible[key];
      var mark = box.querySelector(".gd-label .gd-req");
      if (mark) mark.hidden = !state.required[key];
      var control = document.getElementById("f-" + key);
      if (control && control.tagName !== "OUTPUT") {
        if (state.required[key]) control.setAttribute("aria-required", "true");
        else control.removeAttribute("aria-required");
      }
      // Only a readonly_if can change after the page was drawn; locked fields never open.
      if (box.hasAttribute("data-readonly-if") && box.dataset.locked !== "true") {
        box.querySelectorAll("input, select, textarea, button").forEach(function (el) {
          el.disabled = Boolean(state.readonly[key]);
        });
      }
      var output = box.querySelector("output[data-formula]");
      if (output && key in state.values) {
        var value = state.values[key];
        output.textContent = value === null || value === undefined ? "" : String(value);
      }
      // Options offered only under a condition: hide the others (and let go of a choice no longer offered).
      if (state.options && key in state.options) {
        var offered = state.options[key];
        box.querySelectorAll("option[value]").forEach(function (option) {
          if (option.value === "") return;
          var shown = offered.indexOf(option.value) !== -1;
          option.hidden = !shown;
          option.disabled = !shown;
          if (!shown && option.selected) option.selected = false;
        });
      }
    });
    // What a submission would refuse, beside each field the person has changed (only those:
    // an untouched empty field is not yet "missing").
    var invalid = state.invalid || {};
    Object.keys(touched || {}).forEach(function (path) {
      var key = path.split("[")[0];
      var shown = !(key in state.visible) || state.visible[key];
      showProblem(form, path, shown ? invalid[path] || "" : "");
    });
  }

  function setupForm(form) {
    var url = form.dataset.stateUrl;
    var lang = document.documentElement.lang; // the state's messages in the page's language
    if (lang && !/[?&]lang=/.test(url)) url += (url.indexOf("?") === -1 ? "?" : "&") + "lang=" + encodeURIComponent(lang);
    var timer = null;
    var latest = 0;
    var touched = {}; // paths of the fields the person has changed
    var zone = form.querySelector('input[name="_tz"]');
    if (zone) zone.value = utcOffset();

    function askState() {
      var asked = ++latest;
      var pairs = [];
      new FormData(form).forEach(function (value, name) {
        if (typeof value === "string") pairs.push([name, value]); // files are not sent
      });
      var body = { form: pairs };
      if (form.dataset.ticket) body.ticket = Number(form.dataset.ticket);
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify(body),
      })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (state) { if (state && asked === latest) showState(form, state, touched); })
        .catch(function () { /* offline: the server still checks everything on submit */ });
    }

    function changed() {
      clearTimeout(timer);
      timer = setTimeout(askState, DELAY_MS);
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", function (event) {
      if (event.target.tagName === "SELECT") refillCascade(event.target);
      var path = pathOf(event.target.getAttribute("name"));
      if (path && event.target.type !== "file") touched[path] = true;
      changed();
    });
    form.addEventListener("click", function (event) {
      var add = event.target.closest("[data-add-row]");
      var remove = event.target.closest("[data-remove-row]");
      if (add) {
        var table = add.closest(".gd-subtable");
        var index = Number(table.dataset.nextIndex || 0);
        table.dataset.nextIndex = String(index + 1);
        var row = table.querySelector("template").innerHTML.split("__index__").join(String(index));
        table.querySelector("tbody").insertAdjacentHTML("beforeend", row);
        changed();
      } else if (remove) {
        remove.closest("tr").remove();
        changed();
      }
    });
  }

  /* Uploads: each chosen file goes to the upload endpoint at once; what it answers (the file's
   * reference) is kept in a hidden input named like the field, shown with a remove button. */
  function fileItem(list, hidden, label, removeText) {
    var item = document.createElement("li");
    var name = document.createElement("span");
    name.textContent = label;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = removeText;
    remove.addEventListener("click", function () { item.remove(); });
    item.appendChild(name);
    item.appendChild(remove);
    item.appendChild(hidden);
    list.appendChild(item);
    return item;
  }

  function setupUploads(form) {
    var url = form.dataset.uploadUrl;
    var removeText = form.dataset.textRemove || "×";
    form.querySelectorAll('input[type="file"]').forEach(function (input) {
      var key = input.getAttribute("name") || input.dataset.name;
      if (!key) return;
      input.dataset.name = key;
      input.removeAttribute("name"); // the references are posted, not the files
      var box = input.closest(".gd-field") || input.parentNode;
      var shown = box.querySelector("ul.gd-files");
      if (shown) shown.remove();
      var list = document.createElement("ul");
      list.className = "gd-upload-list";
      var problem = document.createElement("p");
      problem.className = "gd-upload-error";
      problem.setAttribute("role", "alert");
      problem.hidden = true;
      input.insertAdjacentElement("afterend", problem);
      input.insertAdjacentElement("afterend", list);
      form.querySelectorAll("input.gd-file-ref").forEach(function (hidden) {
        if (hidden.dataset.field !== key) return;
        var ref = {};
        try { ref = JSON.parse(hidden.value); } catch (e) { /* shown by its value */ }
        fileItem(list, hidden, ref.name || hidden.value, removeText);
      });
      input.addEventListener("change", function () {
        problem.hidden = true;
        var files = Array.prototype.slice.call(input.files);
        if (!input.multiple) list.innerHTML = "";
        files.forEach(function (file) {
          var hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = key;
          var item = fileItem(list, hidden, file.name + " · " + (form.dataset.textUploading || "…"), removeText);
          hidden.disabled = true;
          var body = new FormData();
          body.append("file", file, file.name);
          fetch(url, {
            method: "POST",
            credentials: "same-origin",
            headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
            body: body,
          })
            .then(function (answer) {
              return answer.json().then(function (data) { return { ok: answer.ok, data: data }; });
            })
            .then(function (result) {
              if (!result.ok) throw new Error((result.data && result.data.message) || "");
              var d = result.data;
              hidden.value = JSON.stringify({ id: d.id, name: d.name, size: d.size, mime: d.mime });
              hidden.disabled = false;
              item.firstChild.textContent = d.name;
            })
            .catch(function (error) {
              item.remove();
              problem.textContent = (form.dataset.textFailed || "") + " " + file.name + " " + (error.message || "");
              problem.hidden = false;
            });
        });
        input.value = "";
      });
    });
  }

  function setupCounters(root) {
    root.querySelectorAll(".gd-count[data-count-for]").forEach(function (counter) {
      var control = document.getElementById(counter.dataset.countFor);
      if (control) updateCount(control); // the browser may have restored a value
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("maxlength")) updateCount(event.target);
  });

  function setup(root) {
    setupTabs(root);
    setupCounters(root);
    var forms = Array.prototype.slice.call(root.querySelectorAll("form[data-state-url], form[data-upload-url]"));
    if (root.matches && root.matches("form[data-state-url], form[data-upload-url]")) forms.push(root);
    forms.forEach(function (form) {
      if (form.dataset.gdReady) return;
      form.dataset.gdReady = "1";
      if (form.dataset.stateUrl) setupForm(form);
      if (form.dataset.uploadUrl) setupUploads(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setup(document); });
  document.addEventListener("htmx:load", function (event) { setup(event.detail.elt); });
})();
