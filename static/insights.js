/* Entities found in a page's text (dates, amounts, phones...: htr.insights) marked in the text
   read, from their character offsets into the page's text (its lines joined by newlines). Each
   mark says what it is and its value to everyone: a visible label after it, a title, and the
   same words for screen readers; the list beside the text links to the marks. Runs once per
   panel, however many times the script is included. */
(function () {
  "use strict";
  var LABELS = {date: "date", time: "time", money: "amount", phone: "phone", email: "e-mail",
                url: "web address"};

  function valueText(value) {
    if (value && typeof value === "object") {
      var amount = value.amount;
      var cents = Math.round(amount * 100);
      var text = Math.abs(amount * 100 - cents) < 1e-6 && cents % 100 ? amount.toFixed(2) : String(amount);
      return text + " " + value.currency;
    }
    return String(value);
  }

  /* The text nodes of a line as it reads on the page: not screen-reader notes nor buttons. */
  function textNodes(li) {
    var nodes = [];
    var walker = document.createTreeWalker(li, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return node.parentNode.closest(".sr-only, button, [aria-hidden='true']")
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      }
    });
    while (walker.nextNode()) nodes.push(walker.currentNode);
    return nodes;
  }

  /* A boundary at the edge of its node moved up to its parent, as far as the line. */
  function lift(node, offset, atStart, li) {
    while (node !== li) {
      var size = node.nodeType === Node.TEXT_NODE ? node.data.length : node.childNodes.length;
      if (atStart ? offset !== 0 : offset !== size) break;
      var parent = node.parentNode;
      var index = Array.prototype.indexOf.call(parent.childNodes, node);
      offset = atStart ? index : index + 1;
      node = parent;
    }
    return [node, offset];
  }

  /* Where character ``at`` of the line's shown text is: a text node and an offset in it. */
  function locate(nodes, at, atStart) {
    var offset = 0;
    for (var k = 0; k < nodes.length; k++) {
      var end = offset + nodes[k].data.length;
      if (atStart ? at < end : at <= end) return [nodes[k], at - offset];
      offset = end;
    }
    return null;
  }

  /* Wrap characters [a, b) of the line's shown text in one mark when they are whole words
     (whole elements of the line), else in one mark per text node crossed. */
  function wrap(li, a, b, make) {
    var nodes = textNodes(li), first = locate(nodes, a, true), last = locate(nodes, b, false);
    if (first && last) {
      var start = lift(first[0], first[1], true, li), end = lift(last[0], last[1], false, li);
      if (start[0] === end[0]) {
        var range = document.createRange();
        range.setStart(start[0], start[1]);
        range.setEnd(end[0], end[1]);
        var one = make();
        range.surroundContents(one);
        return [one];
      }
    }
    var offset = 0, marks = [];
    nodes.forEach(function (node) {
      var start = offset, end = offset + node.data.length;
      offset = end;
      if (end <= a || start >= b) return;
      var from = Math.max(a, start) - start, to = Math.min(b, end) - start;
      var middle = node.splitText(from);
      middle.splitText(to - from);
      var mark = make();
      middle.parentNode.insertBefore(mark, middle);
      mark.appendChild(middle);
      marks.push(mark);
    });
    return marks;
  }

  function markPanel(panel) {
    if (panel.dataset.marked) return;
    panel.dataset.marked = "1";
    var section = panel.closest(".result") || document;
    var lines = JSON.parse(panel.dataset.lines || "[]");
    var entities = JSON.parse(panel.dataset.entities || "[]");
    var starts = [], at = 0;
    lines.forEach(function (text) { starts.push(at); at += text.length + 1; });
    var usable = lines.map(function (text, k) {  // a line shown exactly as its text: marks fit
      var li = section.querySelector("li.line-text[data-line='" + k + "']");
      return li && textNodes(li).map(function (n) { return n.data; }).join("") === text ? li : null;
    });
    entities.forEach(function (entity, n) {
      var label = LABELS[entity.kind] || entity.kind;
      var value = valueText(entity.value);
      var all = [];
      lines.forEach(function (text, k) {
        var a = Math.max(entity.start, starts[k]) - starts[k];
        var b = Math.min(entity.end, starts[k] + text.length) - starts[k];
        if (b <= a || !usable[k]) return;
        all = all.concat(wrap(usable[k], a, b, function () {
          var mark = document.createElement("mark");
          mark.className = "entity";
          mark.dataset.kind = entity.kind;
          mark.title = label + ": " + value;
          return mark;
        }));
      });
      if (!all.length) return;
      all[0].id = "r" + panel.dataset.result + "-e" + n;
      all[0].tabIndex = -1;  // the list's links move the focus here
      var last = all[all.length - 1];
      var tag = document.createElement("span");
      tag.className = "entity-label";
      tag.setAttribute("aria-hidden", "true");
      tag.textContent = label;
      var note = document.createElement("span");
      note.className = "sr-only entity-note";
      note.textContent = " (" + label + ": " + value + ")";
      last.appendChild(tag);
      last.appendChild(note);
    });
  }

  function run() { document.querySelectorAll(".insights[data-entities]").forEach(markPanel); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
