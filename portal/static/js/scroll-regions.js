/* Wide tables scroll inside their own box (portal.css), never the page. A box that scrolls must be reachable
 * by keyboard (WCAG 2.1.1): while it actually scrolls it gets tabindex="0", so Tab reaches it and the arrow
 * keys scroll it; the table's caption or the panel's heading names it. Progressive enhancement: without this
 * script Chromium and Firefox make such a box focusable themselves. */
(function () {
  "use strict";
  var SELECTOR = "main table, .columns > .panel, .table-scroll";
  var MARK = "data-scroll-focus";

  function scrolls(box) {
    var overflow = window.getComputedStyle(box).overflowX;
    return (overflow === "auto" || overflow === "scroll") && box.scrollWidth > box.clientWidth + 1;
  }

  // A plain wrapper (div.table-scroll) becomes a named region: the caption of its table names it.
  function name(box) {
    if (box.tagName !== "DIV" || box.hasAttribute("role")) { return; }
    var caption = box.querySelector("caption");
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", caption ? caption.textContent.trim() : "Tabel");
  }

  function update() {
    var boxes = document.querySelectorAll(SELECTOR);
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      if (scrolls(box)) {
        if (!box.hasAttribute("tabindex")) {
          box.setAttribute("tabindex", "0");
          box.setAttribute(MARK, "");
          name(box);
        }
      } else if (box.hasAttribute(MARK)) {
        box.removeAttribute("tabindex");
        box.removeAttribute(MARK);
      }
    }
  }

  var timer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 150);
  });
  update();
})();
