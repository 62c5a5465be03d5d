// The sign-in inside the DingTalk workbench (H5 micro-app 免登): ask the DingTalk client for an
// auth code (JSAPI requestAuthCode with the company's corpId) and post it with the state; the
// server answers with the next page. Outside DingTalk, go to DingTalk's sign-in page instead.
(function () {
  "use strict";
  var form = document.getElementById("h5-signin");
  if (!form) return;
  var dd = window.dd;

  function failed(reason) {
    var box = document.getElementById("h5-failed");
    box.textContent = form.dataset.noCode.replace("{reason}", reason);
    box.hidden = false;
    document.getElementById("h5-status").hidden = true;
  }

  if (!dd || !dd.env || dd.env.platform === "notInDingTalk") {
    window.location.replace(form.dataset.fallback);
    return;
  }
  dd.ready(function () {
    dd.runtime.permission.requestAuthCode({
      corpId: form.dataset.corpId,
      onSuccess: function (answer) {
        if (!answer || !answer.code) {
          failed("no code");
          return;
        }
        form.elements.authCode.value = answer.code;
        form.submit();
      },
      onFail: function (error) {
        failed(String((error && (error.errorMessage || error.message)) || JSON.stringify(error)));
      },
    });
  });
})();
