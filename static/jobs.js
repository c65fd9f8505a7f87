// A document being read as a job: ask how far it has got every second, move the progress bar
// ("page 3 of 12 read"), and show the document once every page has been read.
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job) { return; }
  var bar = document.getElementById("job-progress");
  var text = document.getElementById("progress-text");
  var FINAL = ["done", "failed", "cancelled"];

  function poll() {
    fetch(job.dataset.statusUrl, { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.max = s.pages_total;
        bar.value = s.pages_done;
        text.textContent = (s.state === "queued" ? "Waiting for a reader… " : "") +
          "page " + s.pages_done + " of " + s.pages_total + " read";
        if (FINAL.indexOf(s.state) >= 0) {
          window.setTimeout(function () { window.location.assign(job.dataset.pageUrl); }, 400);
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
