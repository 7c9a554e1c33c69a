/* Autosave for report drafts (progressive enhancement: the form works fully without this script).
 * Posts the whole form to the form's data-autosave URL every 20 seconds when something changed, on every
 * change event, and once more when the page is left. The server stores the draft exactly as typed.
 * Limit: when the session has expired the server refuses the save (401); the text stays on the page and
 * the person is told to log in again in another tab, after which the next autosave stores it. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }
  var url = form.getAttribute("data-autosave");
  var status = document.getElementById("autosave-status");
  var busy = false;
  var submitting = false;

  function body() { return new URLSearchParams(new FormData(form)); }
  var last = body().toString();

  function show(text, problem) {
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle("autosave-problem", !!problem);
  }

  function save() {
    if (busy || submitting) { return; }
    var data = body();
    var text = data.toString();
    if (text === last) { return; }
    busy = true;
    fetch(url, { method: "POST", body: data, credentials: "same-origin",
                 headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          show("Uw sessie is verlopen: de laatste wijzigingen zijn nog niet opgeslagen. Laat deze pagina open, " +
               "log in een ander tabblad opnieuw in; daarna wordt uw tekst hier vanzelf opgeslagen.", true);
          return;
        }
        return response.json().then(function (answer) {
          if (response.ok) {
            last = text;
            show("Concept automatisch opgeslagen om " + answer.tijd + ".", false);
          } else {
            show("Automatisch opslaan lukte niet: " + (answer.detail || response.status), true);
          }
        });
      })
      .catch(function () { show("Automatisch opslaan lukte niet (geen verbinding). Het wordt zo opnieuw geprobeerd.", true); })
      .then(function () { busy = false; });
  }

  form.addEventListener("change", save);
  form.addEventListener("submit", function () { submitting = true; });
  window.setInterval(save, 20000);
  window.addEventListener("pagehide", function () {
    if (submitting || !navigator.sendBeacon) { return; }
    var data = body();
    if (data.toString() !== last) { navigator.sendBeacon(url, data); }
  });
  show("Uw concept wordt automatisch opgeslagen terwijl u typt.", false);
}());
