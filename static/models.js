// The /models page: follow a "Learn my handwriting" run until it ends, then show the new list.
(function () {
  "use strict";
  var run = document.getElementById("learn-run");
  if (!run) return;
  var bar = document.getElementById("learn-progress");
  var text = document.getElementById("learn-text");
  var url = run.getAttribute("data-status-url");
  function poll() {
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.value = s.progress || 0;
        if (s.state === "done" || s.state === "failed") {
          // The page again, with the run's id: the list then holds the new model.
          window.location.replace(window.location.pathname + "?run=" + encodeURIComponent(s.id));
          return;
        }
        text.textContent = Math.round((s.progress || 0) * 100) + "% — " + s.message;
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  var state = run.getAttribute("data-state");
  if (state === "queued" || state === "running") window.setTimeout(poll, 1000);
})();
