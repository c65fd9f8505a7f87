// Listen and Translate (templates/_listen_translate.html, _listen_document.html, _listen_all.html;
// web/language_tools.py). Listen speaks a page line by line (each line's audio fetched from
// POST /api/v1/speak while the line before is playing), highlighting the line being spoken in
// the text and on the image; every line has its own button; a document (a job's, or the images
// read together on the results page) is spoken page after page. Translate asks
// POST /api/v1/translate and shows the translation line by line, marked as a machine
// translation. The lines spoken and translated are those shown, corrections included.
(function () {
  "use strict";
  if (window.htrLanguageTools) return; // the partial (and so this script) comes once per page read
  window.htrLanguageTools = true;

  // --- one player for the whole page: starting anything stops what was playing --------------
  var audio = new Audio();
  var current = null; // {stop: function} of what is playing

  function speech(url, text, language) {
    return fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: text, language: language })
    }).then(function (r) {
      if (r.ok) return r.blob();
      return r.json().then(function (e) { throw new Error(e.message); },
                           function () { throw new Error("The server could not speak it (" + r.status + ")."); });
    });
  }

  function stopAll() {
    if (current) current.stop();
    current = null;
  }

  // Speak ``items`` ({text, language, start(), end()}) one after the other; the next one's audio
  // is fetched while one plays. ``done(error)`` once all were spoken, stopped or failed.
  function play(url, items, done) {
    stopAll();
    var stopped = false, index = -1, nextAudio = null, active = null, objectUrl = null;
    var run = {
      stop: function () {
        if (stopped) return;
        stopped = true;
        audio.pause();
        audio.onended = audio.onerror = null;
        if (active && active.end) active.end();
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        done(null, true);
      }
    };
    current = run;
    function fetchItem(i) { return i < items.length ? speech(url, items[i].text, items[i].language) : null; }
    function finish(error) {
      if (stopped) return;
      stopped = true;
      if (current === run) current = null;
      if (active && active.end) active.end();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      done(error, false);
    }
    function next(pending) {
      if (stopped) return;
      index += 1;
      if (index >= items.length) { finish(null); return; }
      pending.then(function (blob) {
        if (stopped) return;
        nextAudio = fetchItem(index + 1);
        if (nextAudio) nextAudio.catch(function () {}); // reported when its turn comes
        if (active && active.end) active.end();
        active = items[index];
        if (active.start) active.start();
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = URL.createObjectURL(blob);
        audio.src = objectUrl;
        audio.onended = function () { next(nextAudio || Promise.resolve(null)); };
        audio.onerror = function () { finish(new Error("The browser could not play the speech.")); };
        var played = audio.play();
        if (played && played.catch) played.catch(function (e) {
          if (!stopped) finish(new Error("The browser did not play the speech: " + e.message));
        });
      }, finish);
    }
    if (!items.length) { finish(null); return run; }
    next(fetchItem(0));
    return run;
  }

  // --- a page read ------------------------------------------------------------------------------
  // The text of line ``li`` as it is shown now (a correction included), without the marks that
  // are there for screen readers and without our button.
  function lineText(li) {
    var input = li.querySelector("input");
    if (input) return input.value;
    var copy = li.cloneNode(true);
    copy.querySelectorAll("button, .sr-only").forEach(function (el) { el.remove(); });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  var readPages = []; // every page read shown here, in order: {name, language, texts(), highlight()}

  function initPage(box) {
    var section = box.closest(".result") || document;
    var language = box.getAttribute("data-language") || "en";
    var speakUrl = box.getAttribute("data-speak-url");
    var served = JSON.parse(box.getAttribute("data-lines") || "[]");
    var list = section.querySelector("ol.lines");
    function items() { return list ? Array.prototype.slice.call(list.querySelectorAll("li.line-text")) : []; }
    function texts() {
      var lis = items();
      return lis.length ? lis.map(lineText) : served;
    }
    function highlight(index, on) {
      section.querySelectorAll("[data-line='" + index + "']").forEach(function (el) {
        el.classList.toggle("speaking", on);
      });
    }
    var heading = section.querySelector("h2");
    readPages.push({ name: heading ? heading.textContent.trim() : "", language: language,
                     texts: texts, highlight: highlight });
    if (speakUrl) initListen(box, section, list, language, speakUrl, items, texts, highlight);
    if (box.querySelector(".translate-go")) initTranslate(box, language, speakUrl, texts);
  }

  function initListen(box, section, list, language, speakUrl, items, texts, highlight) {
    var pageButton = box.querySelector(".listen-page");
    var status = box.querySelector(".speech-status");
    var playing = null; // the button whose speech is playing

    function lineItems(indexes, all) {
      return indexes.filter(function (i) { return all[i]; }).map(function (i) {
        return { text: all[i], language: language,
                 start: function () {
                   highlight(i, true);
                   status.textContent = "Speaking line " + (i + 1) + " of " + all.length + ".";
                 },
                 end: function () { highlight(i, false); } };
      });
    }
    function reset() {
      pageButton.textContent = "Listen to the page";
      pageButton.classList.remove("playing");
      items().forEach(function (li) {
        var b = li.querySelector("button.listen-line");
        if (b) b.setAttribute("aria-pressed", "false");
      });
      playing = null;
    }
    function start(button, indexes) {
      if (playing === button) { stopAll(); return; } // the same button again: stop
      stopAll(); // (its end resets the buttons: before this one is marked as playing)
      var all = texts();
      playing = button;
      if (button === pageButton) {
        pageButton.textContent = "Stop listening"; // (its name says what it does now)
        pageButton.classList.add("playing");
      } else {
        button.setAttribute("aria-pressed", "true");
      }
      status.textContent = "Getting the speech…";
      play(speakUrl, lineItems(indexes, all), function (error, stopped) {
        reset();
        status.textContent = error ? error.message : stopped ? "Stopped." : "Done.";
      });
    }
    pageButton.addEventListener("click", function () {
      start(pageButton, texts().map(function (_, i) { return i; }));
    });

    // A button on every line ("Listen to line 3"). The lines may be rewritten by other scripts
    // (a correction): a line that lost its button gets it back, and clicks are caught on the
    // way down so that the line itself (highlight, edit) does not take them too.
    function addButtons() {
      items().forEach(function (li) {
        if (li.querySelector("button.listen-line, input")) return;
        var index = Number(li.getAttribute("data-line"));
        var b = document.createElement("button");
        b.type = "button";
        b.className = "listen-line";
        b.textContent = "▶";
        b.setAttribute("aria-label", "Listen to line " + (index + 1));
        b.setAttribute("title", "Listen to line " + (index + 1));
        b.setAttribute("aria-pressed", "false");
        li.insertBefore(b, li.firstChild);
      });
    }
    addButtons();
    if (list && window.MutationObserver) {
      new MutationObserver(addButtons).observe(list, { childList: true, subtree: true });
    }
    ["click", "dblclick"].forEach(function (type) {
      section.addEventListener(type, function (e) {
        var b = e.target.closest && e.target.closest("button.listen-line");
        if (!b) return;
        e.stopPropagation();
        if (type === "click") start(b, [Number(b.closest("li").getAttribute("data-line"))]);
      }, true);
    });
  }

  function initTranslate(box, language, speakUrl, texts) {
    var go = box.querySelector(".translate-go");
    var select = box.querySelector(".translate-to");
    var status = box.querySelector(".translate-status");
    var out = box.querySelector(".translation");
    var title = out.querySelector("h4");
    var list = out.querySelector(".translated-lines");
    var listen = out.querySelector(".listen-translation");
    var translated = null; // {lines, target}

    go.addEventListener("click", function () {
      var target = select.value, name = select.options[select.selectedIndex].text;
      go.disabled = true;
      status.textContent = "Translating…";
      fetch(box.getAttribute("data-translate-url"), {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: texts().join("\n"), source: language, target: target })
      }).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.message);
          return body;
        });
      }).then(function (body) {
        translated = body;
        title.textContent = name + " translation";
        list.textContent = "";
        list.setAttribute("lang", body.target);
        body.lines.forEach(function (line) {
          var li = document.createElement("li");
          li.textContent = line;
          list.appendChild(li);
        });
        out.hidden = false;
        status.textContent = "Translated into " + name + " (machine translation).";
      }).catch(function (e) {
        status.textContent = e.message || "The translation failed.";
      }).then(function () { go.disabled = false; });
    });

    if (listen) {
      listen.addEventListener("click", function () {
        if (!translated) return;
        if (listen.classList.contains("playing")) { stopAll(); return; }
        var lis = list.querySelectorAll("li");
        listen.classList.add("playing");
        listen.textContent = "Stop listening";
        var items = translated.lines.map(function (text, i) {
          return { text: text, language: translated.target,
                   start: function () { lis[i].classList.add("speaking"); },
                   end: function () { lis[i].classList.remove("speaking"); } };
        }).filter(function (item) { return item.text; });
        play(speakUrl, items, function (error) {
          listen.classList.remove("playing");
          listen.textContent = "Listen to the translation";
          if (error) status.textContent = error.message;
        });
      });
    }
  }

  // --- a whole document (a job): its pages one after the other ---------------------------------
  function initDocument(box) {
    var button = box.querySelector(".listen-document-go");
    var status = box.querySelector(".speech-status");
    var shown = Number(box.getAttribute("data-page"));
    var speakUrl = box.getAttribute("data-speak-url");
    function reset() {
      button.textContent = "Listen to the whole document";
      button.classList.remove("playing");
    }
    reset();
    button.addEventListener("click", function () {
      if (button.classList.contains("playing")) { stopAll(); return; }
      button.classList.add("playing");
      button.textContent = "Stop listening";
      status.textContent = "Getting the document…";
      fetch(box.getAttribute("data-result-url")).then(function (r) {
        if (!r.ok) throw new Error("The document could not be fetched (" + r.status + ").");
        return r.json();
      }).then(function (doc) {
        var items = [];
        (doc.pages || []).forEach(function (page) {
          (page.lines || []).forEach(function (line, i) {
            if (!line.text) return;
            items.push({ text: line.text, language: page.language || "en",
                         start: function () {
                           status.textContent = "Speaking page " + page.page + ", line " + (i + 1) + ".";
                           if (page.page === shown) mark(i, true);
                         },
                         end: function () { if (page.page === shown) mark(i, false); } });
          });
        });
        play(speakUrl, items, function (error, stopped) {
          reset();
          status.textContent = error ? error.message : stopped ? "Stopped." : "Done.";
        });
      }).catch(function (e) { reset(); status.textContent = e.message; });
    });
  }
  // --- every image read on the results page, one after the other ---------------------------
  function initAll(box) {
    var button = box.querySelector(".listen-all-go");
    var status = box.querySelector(".speech-status");
    function reset() {
      button.textContent = "Listen to the whole document";
      button.classList.remove("playing");
    }
    button.addEventListener("click", function () {
      if (button.classList.contains("playing")) { stopAll(); return; }
      var items = [];
      readPages.forEach(function (page) {
        var all = page.texts();
        all.forEach(function (text, i) {
          if (!text) return;
          items.push({ text: text, language: page.language,
                       start: function () {
                         page.highlight(i, true);
                         status.textContent = "Speaking " + page.name + ", line " + (i + 1) + ".";
                       },
                       end: function () { page.highlight(i, false); } });
        });
      });
      button.classList.add("playing");
      button.textContent = "Stop listening";
      status.textContent = "Getting the speech…";
      play(box.getAttribute("data-speak-url"), items, function (error, stopped) {
        reset();
        status.textContent = error ? error.message : stopped ? "Stopped." : "Done.";
      });
    });
  }

  function mark(index, on) {
    document.querySelectorAll(".result [data-line='" + index + "']").forEach(function (el) {
      el.classList.toggle("speaking", on);
    });
  }

  function init() {
    document.querySelectorAll(".language-tools").forEach(initPage);
    document.querySelectorAll(".listen-document").forEach(initDocument);
    document.querySelectorAll(".listen-all").forEach(initAll);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
