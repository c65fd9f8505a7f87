// A little JavaScript where it helps; every page works without it.
(function () {
  "use strict";

  // Upload form: drag and drop, the chosen files, a visible working state.
  document.querySelectorAll("form.upload").forEach(function (form) {
    var input = form.querySelector("input[type=file]");
    var drop = form.querySelector(".drop");
    var chosen = form.querySelector(".chosen");
    var button = form.querySelector("button[type=submit]");
    var working = form.querySelector(".working");

    function show() {
      chosen.textContent = "";
      Array.prototype.forEach.call(input.files, function (f) {
        var li = document.createElement("li");
        li.textContent = f.name + " (" + Math.max(1, Math.round(f.size / 1024)) + " KB)";
        chosen.appendChild(li);
      });
    }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (type) {
      drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      drop.addEventListener(type, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        show();
      }
    });
    form.addEventListener("submit", function () {
      button.disabled = true;
      button.textContent = "Reading…";
      form.setAttribute("aria-busy", "true");
      working.hidden = false;
    });
    // Back from the results page (bfcache): the form is usable again.
    window.addEventListener("pageshow", function () {
      button.disabled = false;
      button.textContent = "Read";
      form.removeAttribute("aria-busy");
      working.hidden = true;
    });
  });

  // Results: a line in the image and its text highlight each other (hover, focus, tap).
  document.querySelectorAll(".result").forEach(function (section) {
    function mark(index, on) {
      section.querySelectorAll("[data-line]").forEach(function (el) {
        el.classList.toggle("active", on && el.getAttribute("data-line") === index);
      });
    }
    var pinned = null;
    section.querySelectorAll("[data-line]").forEach(function (el) {
      var index = el.getAttribute("data-line");
      el.addEventListener("mouseenter", function () { mark(index, true); });
      el.addEventListener("mouseleave", function () { mark(pinned, pinned !== null); });
      el.addEventListener("focus", function () { mark(index, true); });
      el.addEventListener("blur", function () { mark(pinned, pinned !== null); });
      el.addEventListener("click", function () {
        pinned = pinned === index ? null : index;
        mark(pinned, pinned !== null);
        if (pinned !== null && el.tagName.toLowerCase() === "g") {
          var text = section.querySelector("li[data-line='" + index + "']");
          if (text && text.scrollIntoView) text.scrollIntoView({ block: "nearest" });
        }
      });
    });
  });

  // Copy to clipboard.
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-text") || "";
      var status = button.parentNode.querySelector(".copied");
      function done(ok) { if (status) status.textContent = ok ? "Copied." : "Select the text and copy it."; }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      } else {
        var area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        document.body.removeChild(area);
        done(ok);
      }
    });
  });
})();
