// Shared page behaviour: CSRF header on every htmx request and every fetch() to our own site.
(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }
  window.gongdan = {
    csrf: csrf,
    // fetch() with JSON and the CSRF header; resolves to {ok, status, data}
    api: function (method, url, body) {
      var opts = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" } };
      if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
      return fetch(url, opts).then(function (r) {
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = { message: t }; }
          return { ok: r.ok, status: r.status, data: data };
        });
      });
    }
  };
  document.addEventListener("htmx:configRequest", function (e) { e.detail.headers["X-CSRF-Token"] = csrf(); });
})();
