"""Case writes for external systems (JSON API under /api/v1) and the CSV import (JSON and its upload page).

Thin: each route parses, calls one service function with the actor, and answers. External systems
authenticate with ``Authorization: Bearer <key>`` (see ``portal.accounts.api_keys``); a POST may carry an
``Idempotency-Key`` header so that a retry returns the first response instead of doing the work twice.
Errors are ``{status_code, detail, field?, code}`` with a Dutch ``detail``; ``code`` tells apart the kinds
of 409 (``illegal_transition``, ``stale_version``, ``idempotency_in_progress``).
"""

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Template

from portal.accounts import api_keys, auth, policy
from portal.accounts.rules import Actor, Role
from portal.cases import imports, service
from portal.cases.rules import NOWHERE, CaseStatus, TransitionInput
from portal.cases.schemas import CaseCommand, NewCase
from portal.lib.csv_import import MAX_BYTES, MAX_ROWS
from portal.lib.errors import Conflict, DomainError, IllegalTransition, InvalidInput, NotFound, NotPermitted
from portal.lib.openapi import WRITE_ERRORS

REGISTER_GUARD = auth.requires_roles([Role.COORDINATOR], "het registreren van meldingen")
ACT_GUARD = auth.requires_roles(policy.CASE_ACTOR_ROLES, "het wijzigen van casussen")
IMPORT_GUARD = auth.requires_roles(imports.IMPORT_ROLES, "het importeren van casussen")


def _d(text: str, **bounds: int) -> msgspec.Meta:
    return msgspec.Meta(description=text, **bounds)


# Ids and versions are integer columns (32 bits on PostgreSQL): a larger number is refused as input (400),
# never passed to the database.
_ID = {"ge": 1, "le": 2**31 - 1}


# --- bodies ------------------------------------------------------------------------------------------


class NewCaseBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new melding. The BSN is used once for the pseudonym and never stored or returned."""

    contract_id: Annotated[int, _d("Id van het contract; u moet er de coördinator van zijn.", **_ID)]
    bsn: Annotated[str, _d("BSN van de inwoner (9 cijfers, elfproef). Alleen gebruikt voor het pseudoniem.")]
    neighbourhood: Annotated[str, _d("Wijk (maximaal 100 tekens).")]
    domain: Annotated[str, _d("Domein: wmo of jeugd.")]
    product_category: Annotated[str, _d("Productcategorie, code uit iWmo WMO020 (01-18).")]
    urgency: Annotated[str, _d("Urgentie: normal of urgent.")] = "normal"
    provision_type: Annotated[str, _d("Soort voorziening: individual (maatwerk) of collective.")] = "individual"
    melding_date: Annotated[date | None, _d("Datum van de melding (JJJJ-MM-DD); standaard vandaag.")] = None
    aanvraag_date: Annotated[date | None, _d("Datum van de aanvraag (JJJJ-MM-DD), als die er is.")] = None
    note: Annotated[str | None, _d("Toelichting.")] = None

    def __repr__(self) -> str:  # never let a BSN reach a log line or a traceback
        return f"NewCaseBody(contract_id={self.contract_id})"


class CaseEventBody(msgspec.Struct, forbid_unknown_fields=True):
    """One lifecycle step on a case (the fields an action needs follow the lifecycle table)."""

    action: Annotated[str, _d("Actie, bijvoorbeeld start_assessment, request_allocation, accept, decline, "
                              "start_care, end_care, reject, refer_collective, withdraw, hold, resume, close, "
                              "reopen.")]
    version: Annotated[int, _d("De versie van de casus waarop deze stap voortbouwt (optimistic locking); een "
                               "verouderde versie geeft 409 met code stale_version.", **_ID)]
    subcontractor_id: Annotated[int, _d("Onderaannemer (organisatie-id), bij request_allocation.",
                                        **_ID)] | None = None
    reason_code: Annotated[str | None, _d("Reden (iWmo WJ759 1-9 of lokaal L1-L7), bij decline, reject en "
                                          "withdraw.")] = None
    end_reason: Annotated[str | None, _d("Reden van beëindiging (iWmo WMO588), bij end_care.")] = None
    beschikking_issued: Annotated[bool | None, _d("Is er een beschikking afgegeven? Bij reject.")] = None
    objection_info_given: Annotated[bool | None, _d("Is de inwoner gewezen op het recht een beschikking te vragen "
                                                    "en bezwaar te maken? Bij reject, refer_collective en "
                                                    "withdraw.")] = None
    referred_to: Annotated[str | None, _d("Waarnaar de inwoner is doorverwezen (tekst), of null.")] = None
    referred_nowhere: Annotated[bool, _d("true: uitdrukkelijk nergens naar doorverwezen.")] = False
    note: Annotated[str | None, _d("Toelichting (verplicht bij hold en reopen).")] = None
    occurred_on: Annotated[date | None, _d("Dag waarop de stap plaatsvond (JJJJ-MM-DD); standaard nu.")] = None
    aanvraag_date: Annotated[date | None, _d("Datum van de aanvraag, als die nu bekend wordt.")] = None


class CaseCreated(msgspec.Struct):
    id: Annotated[int, _d("Id van de casus.")]
    case_number: Annotated[str, _d("Publiek casusnummer.")]
    version: Annotated[int, _d("Versie; geef die mee bij de volgende stap.")]
    status: Annotated[str, _d("Status (code).")]


class EventRecorded(msgspec.Struct):
    id: Annotated[int, _d("Id van de casus.")]
    case_number: Annotated[str, _d("Publiek casusnummer.")]
    status: Annotated[str, _d("Nieuwe status (code).")]
    status_label: Annotated[str, _d("Nieuwe status in het Nederlands.")]
    version: Annotated[int, _d("Nieuwe versie; geef die mee bij de volgende stap.")]


class RowErrorBody(msgspec.Struct):
    line: Annotated[int, _d("Regelnummer in het bestand (de kopregel is regel 1).")]
    column: Annotated[str | None, _d("Kolom.")]
    message: Annotated[str, _d("Wat er mis is (Nederlands).")]


class ImportCounts(msgspec.Struct):
    cases: int
    events: int


class ImportResultBody(msgspec.Struct):
    ok: Annotated[bool, _d("true: geen fouten.")]
    dry_run: Annotated[bool, _d("true: alleen gecontroleerd, niets opgeslagen.")]
    rows: Annotated[int, _d("Aantal regels onder de kopregel.")]
    errors: Annotated[list[RowErrorBody], _d("Elke foute regel: regel, kolom en reden.")]
    imported: Annotated[ImportCounts, _d("Wat is (of bij een proefimport: zou worden) geïmporteerd.")]
    created: Annotated[list[dict], _d("Aangemaakte casussen: regel, referentie, id en casusnummer.")]


ERROR_RESPONSES = WRITE_ERRORS

_CODES: list[tuple[type[DomainError], str]] = [
    (InvalidInput, "invalid_input"), (NotPermitted, "forbidden"), (NotFound, "not_found"),
    (IllegalTransition, "illegal_transition"), (Conflict, "stale_version"),
]


def api_error_handler(request: Request, exc: DomainError) -> Response:
    code = getattr(exc, "code", None) or next((c for kind, c in _CODES if isinstance(exc, kind)), "error")
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.message, "code": code}
    if exc.field:
        body["field"] = exc.field
    return Response(body, status_code=exc.status_code)


_TYPES = {"int": "een geheel getal", "str": "tekst", "bool": "true of false", "object": "een JSON-object",
          "array": "een lijst", "null": "null", "float": "een getal", "date": "een datum (JJJJ-MM-DD)"}


def _dutch(message: str) -> str:
    """msgspec's explanation of a body error, in Dutch (unknown phrasings get a general sentence)."""
    if match := re.match(r"Expected `([^`]+)`, got `(\w+)`", message):
        expected = " of ".join(_TYPES.get(kind.strip(), kind.strip()) for kind in match.group(1).split("|"))
        return f"verwacht {expected}, niet {_TYPES.get(match.group(2), match.group(2))}"
    if match := re.match(r"Object contains unknown field `([^`]+)`", message):
        return f"onbekend veld '{match.group(1)}'"
    if match := re.match(r"Expected `int` (>=|<=) (-?\d+)", message):
        bound = "van minstens" if match.group(1) == ">=" else "van hoogstens"
        return f"verwacht een geheel getal {bound} {match.group(2)}"
    if match := re.match(r"Object missing required field `([^`]+)`", message):
        return f"verplicht veld '{match.group(1)}' ontbreekt"
    if "date" in message.lower():
        return "verwacht een datum (JJJJ-MM-DD)"
    return "ongeldige waarde"


def api_client_error_handler(request: Request, exc: ClientException) -> Response:
    """Malformed JSON and wrong types: 400 with a Dutch explanation, never a 500. Other client errors (401 from
    the authentication, 403 from CSRF) go to the app's own handlers."""
    if exc.status_code != 400:
        for kind in type(exc).__mro__:
            if kind is not ClientException and kind in request.app.exception_handlers:
                return request.app.exception_handlers[kind](request, exc)
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        parts = []
        for item in exc.extra:
            if isinstance(item, dict):
                key = str(item.get("key") or "")
                where = "" if key in ("", "data") else f"{key}: "
                parts.append(where + _dutch(str(item.get("message", ""))))
        detail = "De invoer is niet geldig: " + "; ".join(parts) + "." if parts else "De invoer is niet geldig."
    elif "JSON" in (exc.detail or ""):
        detail = "De body is geen geldige JSON. Stuur een JSON-object met Content-Type: application/json."
    else:
        detail = "Het verzoek is niet geldig."
    return Response({"status_code": 400, "detail": detail, "code": "bad_request"}, status_code=400)


API_ERRORS = {DomainError: api_error_handler, ClientException: api_client_error_handler,
              ValidationException: api_client_error_handler}
IdempotencyKey = Annotated[str | None, HeaderParameter(
    name="Idempotency-Key", required=False,
    description="Optioneel. Zelfde sleutel + zelfde verzoek binnen 24 uur: het eerste antwoord komt terug en er "
                "verandert niets. Zelfde sleutel met een ander verzoek: 422.")]


def _answer(stored: api_keys.StoredResponse) -> Response:
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
    return Response(stored.body, status_code=stored.status_code, headers=headers)


async def _idempotent(request: Request, key: str | None, body: bytes, work) -> Response:
    key = api_keys.check_idempotency_key(key)
    request_fingerprint = api_keys.fingerprint(request.method, f"{request.url.path}?{request.url.query or ''}", body)
    return _answer(await api_keys.run_idempotent(request.user, key, request_fingerprint, work))


# --- routes ------------------------------------------------------------------------------------------


@post("/api/v1/cases", guards=[REGISTER_GUARD], tags=["cases"], status_code=201, exception_handlers=API_ERRORS,
      summary="Een melding registreren", responses=ERROR_RESPONSES,
      description="Registreert een nieuwe melding (coördinator van het contract). Het BSN wordt alleen gebruikt "
                  "voor het pseudoniem. Authenticatie: Authorization: Bearer <API-sleutel>.")
async def register_case_api(request: Request[Actor, Any, Any], data: JSONBody[NewCaseBody],
                            idempotency_key: IdempotencyKey = None) -> Response[CaseCreated]:
    command = NewCase(contract_id=data.contract_id, bsn=data.bsn, neighbourhood=data.neighbourhood,
                      domain=data.domain, product_category=data.product_category, urgency=data.urgency,
                      provision_type=data.provision_type, melding_date=data.melding_date,
                      aanvraag_date=data.aanvraag_date, note=data.note)

    async def work() -> tuple[int, dict]:
        created = await service.register_case(request.user, command)
        return 201, msgspec.to_builtins(CaseCreated(created["id"], created["case_number"], created["version"],
                                                    created["status"]))

    return await _idempotent(request, idempotency_key, api_keys.canonical_json(data), work)


def _transition_input(data: CaseEventBody) -> TransitionInput:
    if data.referred_nowhere and data.referred_to:
        raise InvalidInput("Vul óf referred_to in, óf referred_nowhere: true, niet allebei.", field="referred_to")
    return TransitionInput(
        subcontractor_id=data.subcontractor_id, reason_code=data.reason_code, end_reason=data.end_reason,
        beschikking_issued=data.beschikking_issued, objection_info_given=data.objection_info_given,
        referred_to=NOWHERE if data.referred_nowhere else data.referred_to, note=data.note)


@post("/api/v1/cases/{case_id:int}/events", guards=[ACT_GUARD], tags=["cases"], status_code=201,
      exception_handlers=API_ERRORS, summary="Een stap op een casus vastleggen", responses=ERROR_RESPONSES,
      description="Legt één stap in de levenscyclus vast, met optimistic locking op version. 409 met code "
                  "illegal_transition: de stap kan niet vanuit de huidige status; code stale_version: de casus is "
                  "intussen gewijzigd (haal hem opnieuw op).")
async def case_event_api(request: Request[Actor, Any, Any], case_id: FromPath[int], data: JSONBody[CaseEventBody],
                         idempotency_key: IdempotencyKey = None) -> Response[EventRecorded]:
    command = CaseCommand(action=data.action, expected_version=data.version, payload=_transition_input(data),
                          occurred_on=data.occurred_on, aanvraag_date=data.aanvraag_date)

    async def work() -> tuple[int, dict]:
        done = await service.act_on_case(request.user, case_id, command)
        return 201, msgspec.to_builtins(EventRecorded(done["id"], done["case_number"], done["status"],
                                                      CaseStatus(done["status"]).label, done["version"]))

    return await _idempotent(request, idempotency_key, api_keys.canonical_json(data), work)


async def _uploaded(request: Request) -> bytes:
    """The CSV: a text/csv (or any non-form) body, or the file field ``bestand`` of a multipart form."""
    content_type, _ = request.content_type
    if content_type.startswith("multipart/"):
        form = await request.form()
        upload = form.get("bestand")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Kies een CSV-bestand om te importeren.", field="bestand")
        return await upload.read()
    return await request.body()


DryRun = Annotated[bool, QueryParameter(name="dry_run", description="true: alleen controleren, niets opslaan.")]


@dataclass
class CsvUploadOperation(Operation):
    """The import reads its body itself (CSV, or a multipart form): declare that body in the schema."""

    def __post_init__(self) -> None:
        upload = Schema(type=OpenAPIType.OBJECT, required=["bestand"],
                        properties={"bestand": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)})
        self.request_body = RequestBody(required=True, description="Het CSV-bestand (UTF-8, kopregel eerst).", content={
            "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
            "multipart/form-data": OpenAPIMediaType(schema=upload),
        })


@post("/api/v1/imports", guards=[IMPORT_GUARD], tags=["cases"], status_code=200, exception_handlers=API_ERRORS,
      summary="Meldingen en stappen importeren uit CSV", responses=ERROR_RESPONSES, operation_class=CsvUploadOperation,
      description="Body: text/csv, of multipart met het bestand in veld 'bestand' (maximaal 5 MB, 20.000 regels). "
                  "dry_run=true (standaard) controleert alles en slaat niets op (200). dry_run=false importeert alles "
                  "in één transactie (201), of niets als er één regel fout is (422, met dezelfde foutenlijst).")
async def import_api(request: Request[Actor, Any, Any], idempotency_key: IdempotencyKey = None,
                     dry_run: DryRun = True) -> Response[ImportResultBody]:
    data = await _uploaded(request)

    async def work() -> tuple[int, dict]:
        result = await imports.import_cases(request.user, data, dry_run=dry_run)
        status = 200 if dry_run else (201 if result.ok else 422)
        return status, result.as_dict()

    return await _idempotent(request, idempotency_key, data, work)


# --- the upload page (HTML) --------------------------------------------------------------------------


def _import_page(result: dict | None = None, errors: list[dict] | None = None, dry_run: bool = True,
                 status_code: int = 200) -> Template:
    return Template("cases/import.html", status_code=status_code, context={
        "result": result, "errors": errors or [], "dry_run": dry_run, "columns": imports.COLUMNS,
        "max_rows": MAX_ROWS, "max_megabytes": MAX_BYTES // (1024 * 1024),
    })


@get("/casussen/import", guards=[IMPORT_GUARD], include_in_schema=False)
async def import_form() -> Template:
    return _import_page()


@get("/casussen/import/voorbeeld.csv", guards=[IMPORT_GUARD], include_in_schema=False, media_type="text/csv")
async def import_example(request: Request[Actor, Any, Any]) -> Response[str]:
    return Response(await imports.example_csv(request.user), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="voorbeeld-import.csv"'})


@post("/casussen/import", guards=[IMPORT_GUARD], include_in_schema=False, status_code=200)
async def import_upload(request: Request[Actor, Any, Any]) -> Template:
    form = await request.form()
    dry_run = form.get("proefimport") == "ja"
    upload = form.get("bestand")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(errors=[{"field": "bestand", "message": "Kies een CSV-bestand om te importeren."}],
                            dry_run=dry_run, status_code=422)
    try:
        result = await imports.import_cases(request.user, await upload.read(), dry_run=dry_run)
    except InvalidInput as exc:
        return _import_page(errors=[{"field": "bestand", "message": exc.message}], dry_run=dry_run, status_code=422)
    status = 422 if not result.ok and not dry_run else 200
    return _import_page(result=result.as_dict(), dry_run=dry_run, status_code=status)


ROUTES = [register_case_api, case_event_api, import_api, import_form, import_example, import_upload]
