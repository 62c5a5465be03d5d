// Admin pages: forms with data-confirm ask before they are sent (delete, reset password, roll back).
(function () {
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
    }
  }, true);
  // A password shown once: a click selects it for copying.
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-password]");
    if (!el) return;
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  });
})();
