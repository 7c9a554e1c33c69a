/* Progress of a large export without a meta refresh (WCAG 2.2.1): while the job runs, ask the page again every
 * 2 seconds and put the new status into the live region (role="status") in place. The region changes when the
 * status changes (in de wachtrij, bezig, klaar) and otherwise at most every 10 seconds, so a screen reader is
 * not interrupted every 2 seconds. Progressive enhancement: without this script the Vernieuwen button works. */
(function () {
  "use strict";
  var region = document.getElementById("export-status");
  if (!region || !region.hasAttribute("data-poll") || !window.fetch || !window.DOMParser) { return; }
  var url = region.getAttribute("data-poll");
  var shownAt = Date.now();

  function statusOf(element) {
    var label = element.querySelector("strong");
    return label ? label.textContent : "";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("export-status");
        if (!next) { return; }
        var running = next.hasAttribute("data-poll");
        var due = !running || statusOf(next) !== statusOf(region) || Date.now() - shownAt >= 10000;
        if (due && next.innerHTML !== region.innerHTML) {
          region.innerHTML = next.innerHTML;
          shownAt = Date.now();
        }
        if (running) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { /* leave the page as it is: the Vernieuwen button still works */ });
  }

  window.setTimeout(poll, 2000);
})();
