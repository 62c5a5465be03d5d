/* The ticket page: htmx posts its forms and swaps the page in place (hx-boost). A refused command
 * (409 conflict, 422 problems, 403) comes back as the page with the reason, so those answers are
 * shown like any other; forms marked data-confirm ask first. Everything is delegated to the
 * document, so the page works the same after each swap. */
(function () {
  "use strict";
  if (window.gongdanTicketPage) return;
  window.gongdanTicketPage = true;

  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(403|409|422)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];
  }

  /* The flow drawing may be wider than its box: scroll it so the current stage is in view. */
  function showCurrentStage() {
    var box = document.querySelector(".tk-flow-scroll");
    var node = box && box.querySelector(".gd-node.current");
    if (!node) return;
    var outer = box.getBoundingClientRect();
    var inner = node.getBoundingClientRect();
    if (inner.left >= outer.left && inner.right <= outer.right) return;
    box.scrollLeft += inner.left - outer.left - (outer.width - inner.width) / 2;
  }
  showCurrentStage();
  document.addEventListener("htmx:afterSettle", showCurrentStage);

  document.addEventListener("submit", function (event) {
    var form = event.target.closest ? event.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
