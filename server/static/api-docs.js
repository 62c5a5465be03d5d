// Swagger UI for /api/docs: the spec URL comes from the script tag (no inline script).
(function () {
  var spec = document.currentScript.getAttribute("data-spec");
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({ url: spec, dom_id: "#swagger-ui" });
  });
})();
