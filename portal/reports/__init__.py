"""Learning-cycle reports (leercyclus): templates per contract (versioned), subcontractor reports with
validated indicators and narrative, computed figures from the cases, the lifecycle draft -> submitted ->
returned -> submitted -> accepted with an immutable version per submission, comments, consolidation into
the contract report, and exports (PDF, XLSX, CSV).

Nothing typed is lost, within one documented limit:
- "Concept opslaan" and a refused "Indienen" both store the draft exactly as typed (invalid numbers too).
- With JavaScript, ``portal/static/js/autosave.js`` posts the form every ~20 seconds when it changed, on
  every change event and once more (``sendBeacon``) when the page is left.
- The limit: when the session has expired (8 hours), the server cannot store anything. The autosave then
  answers 401; the text stays on the page and the person is told to log in again in another tab, after
  which the next autosave stores it. Without JavaScript, a form posted after the session expired leads to
  the login page and what was typed since the last save (at most one working session) is lost; with the
  script that is at most the last ~20 seconds before the expiry.
"""
