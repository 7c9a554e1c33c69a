"""Pure privacy rules: the retention term and its cut-off, the access request's input, and the files of an
access export. No I/O."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from portal.cases.rules import TERMINAL_STATUSES
from portal.lib.errors import InvalidInput
from portal.lib.pseudonym import contains_bsn, validate_bsn

# Retention of Wmo case files after closing: 15 years, the term of the VNG selection list for municipal archives
# (Selectielijst gemeenten en intergemeentelijke organen) that this portal takes for Wmo files, and the default of
# Contract.retention_years since the first schema. A contract manager sets another term per contract (Beheer,
# Bewaartermijnen) when the municipality's own archive decision or another law (Jeugdwet art. 7.3.8: 20 years)
# asks for it.
WMO_RETENTION_YEARS = 15
MIN_RETENTION_YEARS = 1
MAX_RETENTION_YEARS = 115  # the Archiefwet's 'permanent' is not a term this portal keeps case data for

# Statuses in which a case has come to rest; the term runs from the moment it got there (status_since).
RETENTION_STATUSES = frozenset(status.value for status in TERMINAL_STATUSES)

# What stands where free text was removed, in columns that cannot be empty.
REMOVED_TEXT = "(verwijderd: bewaartermijn verstreken)"
NOWHERE_TEXT = "nergens"  # a referral "to nowhere" is a code, not free text: it stays for the figures


def retention_cutoff(today: date, years: int) -> date:
    """Cases that came to rest before this day have passed a term of ``years`` years on ``today``.
    29 February counts back to 28 February in a year without it."""
    if years < 0:
        raise ValueError("a retention term is never negative")
    year = today.year - years
    try:
        return today.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def parse_retention_years(text: str | None) -> int:
    cleaned = (text or "").strip()
    if not (cleaned.isascii() and cleaned.isdigit()):
        raise InvalidInput("Vul de bewaartermijn in als een heel aantal jaren, bijvoorbeeld 15.", field="jaren")
    years = int(cleaned)
    if not MIN_RETENTION_YEARS <= years <= MAX_RETENTION_YEARS:
        raise InvalidInput(f"Een bewaartermijn ligt tussen {MIN_RETENTION_YEARS} en {MAX_RETENTION_YEARS} jaar.",
                           field="jaren")
    return years


# --- the access request (AVG art. 15) -------------------------------------------------------------------

MIN_PURPOSE = 3
MAX_PURPOSE = 200


@dataclass(frozen=True)
class AccessRequest:
    """What the privacy officer typed. ``bsn`` is the normalised BSN: used once for the pseudonym, then gone."""

    bsn: str
    purpose: str

    def __repr__(self) -> str:  # never the BSN in a log line or a traceback
        return f"AccessRequest(bsn=<verborgen>, purpose={self.purpose!r})"

    __str__ = __repr__


def parse_access_request(bsn: str | None, purpose: str | None) -> AccessRequest:
    """The typed request, or :class:`InvalidInput` (Dutch, never repeating the BSN)."""
    cleaned_purpose = " ".join((purpose or "").split())
    if not (bsn or "").strip():
        raise InvalidInput("Vul het BSN van de inwoner in.", field="bsn")
    try:
        normalised = validate_bsn(bsn or "")
    except InvalidInput as exc:
        raise InvalidInput(exc.message + " Controleer het nummer op het verzoek van de inwoner.",
                           field="bsn") from None
    if len(cleaned_purpose) < MIN_PURPOSE:
        raise InvalidInput("Vul het kenmerk of de aanleiding van het verzoek in (bijvoorbeeld het zaaknummer van "
                           "het inzageverzoek).", field="kenmerk")
    if len(cleaned_purpose) > MAX_PURPOSE:
        raise InvalidInput(f"Het kenmerk heeft hooguit {MAX_PURPOSE} tekens.", field="kenmerk")
    if contains_bsn(cleaned_purpose):
        raise InvalidInput("Het kenmerk wordt vastgelegd in de audittrail: zet er geen BSN in.", field="kenmerk")
    return AccessRequest(bsn=normalised, purpose=cleaned_purpose)


@dataclass(frozen=True)
class ExportTable:
    """One table of the export: a file name, its column headers and its rows."""

    name: str
    title: str
    headers: Sequence[str]
    rows: list[list]


CASE_HEADERS = ("casusnummer", "contract", "wijk", "domein", "productcategorie", "soort voorziening", "urgentie",
                "status", "status sinds", "meldingsdatum", "aanvraagdatum", "besluitdatum", "beschikking afgegeven",
                "reden einde", "volgende herindicatie", "onderaannemer", "geregistreerd op")
EVENT_HEADERS = ("casusnummer", "moment", "handeling", "van status", "naar status", "door (persoon)",
                 "door (organisatie)", "onderaannemer", "reden", "reden einde", "beschikking afgegeven",
                 "bezwaarinformatie gegeven", "doorverwezen naar", "notitie", "uitkomst", "termijn of volgende datum")
SIGNAL_HEADERS = ("signaal", "casusnummer", "soort", "ernst", "status", "titel", "toelichting", "afhandeling",
                  "aangemaakt", "gesloten")
COMMENT_HEADERS = ("signaal", "moment", "organisatie", "persoon", "handeling", "tekst")
AUDIT_HEADERS = ("moment", "persoon", "organisatie", "rol", "handeling", "object", "casusnummer", "doel", "resultaat")


def export_tables(data: dict) -> list[ExportTable]:
    """The export's tables from the collected rows (``portal.privacy.service.collect_access``)."""
    numbers = {case["id"]: case["case_number"] for case in data["cases"]}
    return [
        ExportTable("casussen", "Casussen", CASE_HEADERS, [[
            c["case_number"], c["contract_name"], c["neighbourhood"], c["domain"], c["product_category"],
            c["provision_type"], c["urgency"], c["status"], c["status_since"], c["melding_date"], c["aanvraag_date"],
            c["decision_date"], c["beschikking_issued"], c["end_reason"], c["reassessment_due"],
            c["subcontractor_name"], c["created_at"],
        ] for c in data["cases"]]),
        ExportTable("gebeurtenissen", "Tijdlijn van de casussen", EVENT_HEADERS, [[
            numbers.get(e["case"]), e["occurred_at"], e["action"], e["from_status"], e["to_status"], e["actor_name"],
            e["actor_organisation_name"], e["subcontractor_name"], e["reason_code"], e["end_reason"],
            e["beschikking_issued"], e["objection_info_given"], e["referred_to"], e["note"], e["outcome"],
            e["due_date"],
        ] for e in data["events"]]),
        ExportTable("signalen", "Signalen over de casussen", SIGNAL_HEADERS, [[
            s["id"], numbers.get(s["case"]), s["rule"], s["severity"], s["status"], s["title"], s["detail"],
            s["resolution"], s["created_at"], s["closed_at"],
        ] for s in data["signals"]]),
        ExportTable("signaalreacties", "Reacties op die signalen", COMMENT_HEADERS, [[
            c["signal"], c["created_at"], c["organisation_name"], c["author_name"], c["action"], c["body"],
        ] for c in data["comments"]]),
        ExportTable("inzage-log", "Wie de gegevens heeft ingezien of gewijzigd (audittrail)", AUDIT_HEADERS, [[
            a["occurred_at"], a["user_name"], a["organisation_name"], a["role"], a["action"], a["object_type"],
            numbers.get(int(a["object_id"])) if a["object_type"] == "case" and str(a["object_id"]).isdigit() else "",
            a["purpose"], a["result"],
        ] for a in data["audit"]]),
    ]


README = """Inzage in persoonsgegevens (AVG artikel 15)

Dit bestand bevat alles wat het portaal Inzicht over deze inwoner vastlegt binnen de contracten van de gemeente:
- casussen.csv: de hulpvragen (zonder naam, adres of BSN: het portaal kent alleen een pseudoniem);
- gebeurtenissen.csv: elke stap in die hulpvragen, met wie hem zette en de notities;
- signalen.csv en signaalreacties.csv: signalen over die hulpvragen en de reacties erop;
- inzage-log.csv: wie de gegevens heeft ingezien, doorzocht of gewijzigd (audittrail, NEN 7513);
- overzicht.pdf: dezelfde gegevens als leesbaar overzicht;
- gegevens.json: dezelfde gegevens in een machineleesbaar formaat.

Het BSN waarmee dit verzoek is gedaan, staat nergens in dit bestand en is niet bewaard.
CSV-bestanden: puntkomma als scheidingsteken, UTF-8 (opent direct in Excel).
"""
