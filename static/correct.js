// Correcting the reading (templates/_correct.html, web/workspace.py): each line's text can be
// edited in place with the keyboard alone (Tab to a line, Enter to edit, Enter or leaving the
// field keeps the change, Escape undoes it), the line is outlined on the image while it is
// edited, and "Save corrections" stores the page in the workspace: the first save creates it
// (with its image), later ones name the version they were made from and a page saved meanwhile
// elsewhere gets a clear message instead of being overwritten.
(function () {
  "use strict";
  if (window.htrCorrect) return; // the partial (and so this script) comes once per page read
  window.htrCorrect = true;

  // Exports on the page, told apart by the media type of their data: URL, and the format the
  // workspace API gives them in once the page is saved.
  var FORMATS = { "text/plain": "text", "application/json": "json",
                  "application/vnd.prima.page+xml": "page", "application/alto+xml": "alto",
                  "text/html": "hocr", "application/pdf": "pdf" };

  function bytesOf(base64) {
    var raw = atob(base64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function init(box) {
    var data = JSON.parse(box.querySelector(".correct-data").textContent);
    var section = box.closest(".result");
    var button = box.querySelector(".save-corrections");
    var status = box.querySelector(".correct-status");
    var items = Array.prototype.slice.call(section.querySelectorAll("li.line-text"));
    // The text as the model read it, and as it is now (a saved page's lines may differ).
    var originals = data.page.lines.map(function (l) {
      return typeof l.original === "string" ? l.original : l.text;
    });
    var texts = data.page.lines.map(function (l) { return l.text; });
    var saved = data.saved; // {id, version, url, view_url, texts} once the page is in the workspace
    var dirty = false;

    function say(message, bad) {
      status.textContent = message;
      status.classList.toggle("bad", !!bad);
      status.setAttribute("role", bad ? "alert" : "status");
    }

    function overlay(index) {
      return section.querySelector(".overlay g[data-line='" + index + "']");
    }

    function show(li, index) {
      // The corrected text, one span per word (as the page shows words it read).
      li.textContent = "";
      texts[index].split(" ").forEach(function (word, k) {
        if (k) li.appendChild(document.createTextNode(" "));
        var span = document.createElement("span");
        span.className = "w";
        span.textContent = word;
        li.appendChild(span);
      });
      li.classList.add("corrected");
      li.setAttribute("aria-label", "Line " + (index + 1) + ", corrected");
    }

    function copyText() {
      var copy = section.querySelector("button.copy");
      if (copy) copy.setAttribute("data-text", texts.join("\n"));
    }

    function edit(li) {
      if (li.querySelector("input")) return;
      var index = Number(li.getAttribute("data-line"));
      var before = li.innerHTML, label = li.getAttribute("aria-label"), wasCorrected =
        li.classList.contains("corrected");
      var input = document.createElement("input");
      input.type = "text";
      input.className = "line-edit";
      input.value = texts[index];
      input.setAttribute("aria-label", "Correct line " + (index + 1));
      li.classList.add("editing");
      var shape = overlay(index);
      if (shape) shape.classList.add("editing");
      li.textContent = "";
      li.appendChild(input);
      input.focus();
      input.select();
      var finished = false;
      function finish(keep) {
        if (finished) return;
        finished = true;
        li.classList.remove("editing");
        if (shape) shape.classList.remove("editing");
        var text = input.value.split(/\s+/).filter(Boolean).join(" ");
        if (keep && text !== texts[index]) {
          texts[index] = text;
          show(li, index);
          dirty = true;
          copyText();
          say("Not saved yet: press “Save corrections” to keep them (downloads hold the "
              + "corrected text once saved).");
        } else {
          li.innerHTML = before;
          li.classList.toggle("corrected", wasCorrected);
          if (label) li.setAttribute("aria-label", label);
        }
      }
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          finish(e.key === "Enter");
          li.focus();
        }
      });
      input.addEventListener("blur", function () { finish(true); });
      input.addEventListener("click", function (e) { e.stopPropagation(); });
    }

    items.forEach(function (li) {
      li.addEventListener("keydown", function (e) {
        if ((e.key === "Enter" || e.key === "F2") && e.target === li) {
          e.preventDefault();
          edit(li);
        }
      });
      li.addEventListener("dblclick", function () { edit(li); });
    });

    function pointDownloads() {
      // Once saved, every download of this page is the workspace's: it carries the corrections.
      section.querySelectorAll(".reading .tools a[download]").forEach(function (a) {
        var href = a.getAttribute("href") || "";
        var type = href.indexOf("data:") === 0 ? href.slice(5).split(/[;,]/)[0] : null;
        var fmt = type ? FORMATS[type] : new URLSearchParams(href.split("?")[1] || "").get("format");
        if (fmt) a.setAttribute("href", saved.url + "?format=" + fmt);
      });
    }

    // A page saved before (a document's page, coming back to it): its corrections are shown.
    if (saved && saved.texts && saved.texts.length === items.length) {
      texts = saved.texts.slice();
      copyText();
      pointDownloads();
    }
    items.forEach(function (li, index) {
      if (texts[index] !== originals[index]) show(li, index);
    });

    function page() {
      var p = JSON.parse(JSON.stringify(data.page));
      p.lines.forEach(function (line, i) { line.original = originals[i]; line.text = texts[i]; });
      return p;
    }

    function request() {
      if (saved) {
        return fetch(saved.url, {
          method: "PUT", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ version: saved.version, lines: texts }) });
      }
      var form = new FormData();
      form.append("result", JSON.stringify(page()));
      form.append("name", data.name);
      if (data.job) {
        form.append("job", data.job);
        form.append("page", String(data.number));
      } else {
        form.append("file", new Blob([bytesOf(data.image)]), data.name);
      }
      return fetch(data.create_url, { method: "POST", body: form });
    }

    button.addEventListener("click", function () {
      var active = document.activeElement;
      if (active && active.classList.contains("line-edit")) active.blur(); // keep what is typed
      button.disabled = true;
      box.setAttribute("aria-busy", "true");
      say("Saving…");
      var first = !saved;
      request().then(function (response) {
        return response.json().then(function (body) { return [response.status, body]; });
      }).then(function (answer) {
        var code = answer[0], body = answer[1];
        if (code === 409) {
          say("This page was saved elsewhere (version " + body.version + ") after the version "
              + saved.version + " you corrected here: reload the page to see that version, then "
              + "make your corrections again. Nothing here was saved.", true);
          return;
        }
        if (code !== 200 && code !== 201) {
          say("Not saved: " + (body.message || "the server answered " + code + "."), true);
          return;
        }
        saved = { id: body.id, version: body.version, url: body.url, view_url: body.view_url };
        dirty = false;
        pointDownloads();
        say("Saved in the workspace (version " + body.version + ", " + body.corrected + " of "
            + body.lines + " lines corrected).");
        var link = document.createElement("a");
        link.href = body.view_url;
        link.textContent = "Open it in the workspace";
        status.appendChild(document.createTextNode(" "));
        status.appendChild(link);
        // A single upload's results cannot be shown again (the image is not kept): from now
        // on this address is the saved page, so reloading shows it with its corrections.
        if (first && !data.job && document.querySelectorAll(".correct").length === 1) {
          history.replaceState(null, "", body.view_url);
        }
      }).catch(function () {
        say("Not saved: the server could not be reached. Try again.", true);
      }).then(function () {
        button.disabled = false;
        box.removeAttribute("aria-busy");
      });
    });

    window.addEventListener("beforeunload", function (e) {
      if (dirty) { e.preventDefault(); e.returnValue = ""; }
    });
  }

  document.querySelectorAll(".correct").forEach(init);
})();
