"""Bulk import of meldingen and case events from a CSV file: one row per step, in file order.

A dry run validates everything and changes nothing: every field, and the lifecycle of every case across its
rows (simulated with the pure rules in ``portal.cases.rules``, starting from the case's current state for
existing cases), including the importing actor's authorization per case, the date order and the version
chain. The real import runs the same validation and then either imports every row in ONE transaction
(through ``register_case`` and ``act_on_case``, which join it) or nothing at all.

BSNs in the file are used only for pseudonyms: never stored, logged or repeated in an error (an error about a
BSN names its line and column, never the value).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from portal.accounts import audit, policy
from portal.accounts.policy import CaseFacts, ContractFacts
from portal.accounts.rules import Actor, Role
from portal.cases import service
from portal.cases.rules import (
    MAX_NOTE,
    NOWHERE,
    CaseAction,
    CaseState,
    TransitionInput,
    allocation_refusal,
    check_melding,
    decide_transition,
    delivered_categories,
)
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case
from portal.contracts.tables import Contract, Subcontract
from portal.db import read_transaction, write_transaction
from portal.lib.codelists import ProductCategory
from portal.lib.csv_import import CsvRow, RowError, read_csv
from portal.lib.errors import DomainError, InvalidInput
from portal.lib.formatting import AMSTERDAM, format_date, parse_date
from portal.lib.pseudonym import BSN_IN_TEXT_MESSAGE, contains_bsn, validate_bsn

IMPORT_ROLES = frozenset({Role.COORDINATOR, Role.SUBCONTRACTOR})
MELDING, EVENT = "melding", "gebeurtenis"

MELDING_COLUMNS = ("contract", "bsn", "wijk", "domein", "productcategorie", "urgentie", "soort_voorziening",
                   "meldingsdatum", "aanvraagdatum")
EVENT_COLUMNS = ("actie", "datum", "onderaannemer", "reden", "reden_einde", "beschikking", "bezwaarinformatie",
                 "doorverwezen_naar", "toelichting")
REQUIRED_COLUMNS = ("regel_type",)
OPTIONAL_COLUMNS = ("referentie", "zaaknummer", *MELDING_COLUMNS, *EVENT_COLUMNS)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# The service's field names, as the file's columns (for errors raised by the rules and the service).
COLUMN_OF_FIELD = {
    "contract_id": "contract", "bsn": "bsn", "neighbourhood": "wijk", "domain": "domein",
    "product_category": "productcategorie", "urgency": "urgentie", "provision_type": "soort_voorziening",
    "melding_date": "meldingsdatum", "aanvraag_date": "aanvraagdatum", "action": "actie", "datum": "datum",
    "subcontractor_id": "onderaannemer", "reason_code": "reden", "end_reason": "reden_einde",
    "beschikking_issued": "beschikking", "objection_info_given": "bezwaarinformatie",
    "referred_to": "doorverwezen_naar", "note": "toelichting",
}
YES, NO = frozenset({"ja", "j", "yes", "true", "1"}), frozenset({"nee", "n", "no", "false", "0"})


@dataclass
class _Case:
    """A case as the simulation sees it: its state after the file's rows so far."""

    case_id: int | None  # None: a melding in this file, created during the import
    contract: dict
    facts: CaseFacts
    state: CaseState
    version: int
    last_date: date  # the day of the latest step (a step may not lie before it)
    melding_date: date
    product_category: str


@dataclass(frozen=True)
class _Step:
    line: int
    reference: str | None
    case_id: int | None = None
    new_case: NewCase | None = None
    command: CaseCommand | None = None


@dataclass
class ImportResult:
    dry_run: bool
    rows: int
    errors: list[RowError] = field(default_factory=list)
    cases: int = 0
    events: int = 0
    created: list[dict] = field(default_factory=list)  # real import: {line, referentie, id, case_number}

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "ok": self.ok, "dry_run": self.dry_run, "rows": self.rows,
            "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in self.errors],
            "imported": {"cases": self.cases, "events": self.events},
            "created": self.created,
        }


class _RowErrors(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


def _column(exc: DomainError, default: str) -> str:
    return COLUMN_OF_FIELD.get(exc.field or "", exc.field if exc.field in COLUMNS else default)


class _Validator:
    """Walks the rows in file order, collecting every error and the steps to take."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.today = service.today_nl()
        self.errors: list[RowError] = []
        self.steps: list[_Step] = []
        self.references: dict[str, _Case | None] = {}  # referentie -> its new case (None: the melding is bad)
        self.reference_lines: dict[str, int] = {}
        self.existing: dict[str, _Case | DomainError] = {}
        self.contracts: dict[int, dict | None] = {}
        self.delivers: dict[tuple[int, int], frozenset[str] | None] = {}

    def error(self, line: int, column: str | None, message: str) -> None:
        self.errors.append(RowError(line, column, message))

    async def run(self, rows: Iterable[CsvRow]) -> None:
        for row in rows:
            kind = row.values.get("regel_type", "").strip().lower()
            if kind == MELDING:
                await self.melding(row)
            elif kind == EVENT:
                await self.event(row)
            else:
                self.error(row.line, "regel_type", "Vul 'melding' of 'gebeurtenis' in.")

    # --- meldingen -----------------------------------------------------------------------------------

    async def _contract(self, contract_id: int) -> dict | None:
        if contract_id not in self.contracts:
            self.contracts[contract_id] = await Contract.select().where(Contract.id == contract_id).first()
        return self.contracts[contract_id]

    async def melding(self, row: CsvRow) -> None:
        values, line = row.values, row.line
        errors: list[RowError] = []

        def fail(column: str, message: str) -> None:
            errors.append(RowError(line, column, message))

        reference = values.get("referentie") or None
        _refuse_bsn_in_free_text(values, fail)
        if values.get("zaaknummer"):
            fail("zaaknummer", "Een melding heeft geen zaaknummer: dat krijgt zij bij het importeren.")
        if reference is not None and reference in self.references:
            fail("referentie", f"Deze referentie is al gebruikt op regel {self.reference_lines[reference]}.")
        case = None
        if self.actor.role is not Role.COORDINATOR:
            fail("regel_type", f"Uw rol ({self.actor.role.label}) geeft geen toegang tot het registreren van "
                               "meldingen.")
            contract = None
        else:
            contract = await self._melding_contract(values.get("contract", ""), fail)
        fields = self._melding_fields(values, contract, fail)
        if contract is not None:
            facts = ContractFacts(contract["id"], contract["municipality"], contract["main_contractor"])
            melding = fields.get("melding_date") or self.today
            case = _Case(None, contract, CaseFacts(facts, None, frozenset()), CaseState("registered"), 1,
                         melding if melding < self.today else self.today, melding,
                         fields.get("product_category") or "")
        if reference is not None and reference not in self.references:
            # a bad melding whose contract and rights are fine still gets its events checked, from 'registered'
            self.references[reference] = case
            self.reference_lines[reference] = line
        self.errors.extend(errors)
        if not errors:
            assert contract is not None
            new_case = NewCase(contract_id=contract["id"], bsn=fields["bsn"], neighbourhood=fields["neighbourhood"],
                               domain=fields["domain"], product_category=fields["product_category"],
                               urgency=fields["urgency"], provision_type=fields["provision_type"],
                               melding_date=fields["melding_date"], aanvraag_date=fields["aanvraag_date"],
                               note=values.get("toelichting") or None)
            self.steps.append(_Step(line, reference, new_case=new_case))

    async def _melding_contract(self, text: str, fail) -> dict | None:
        if not text.strip().isdigit():
            fail("contract", "Vul het nummer (id) van het contract in.")
            return None
        contract = await self._contract(int(text))
        if contract is None or not policy.is_coordinator_of(
                self.actor, ContractFacts(contract["id"], contract["municipality"], contract["main_contractor"])):
            fail("contract", policy.NOT_FOUND_CONTRACT)
            return None
        return contract

    def _melding_fields(self, values: dict[str, str], contract: dict | None, fail) -> dict:
        fields: dict = {}

        def parse(column: str, parser, *args):
            try:
                return parser(*args)
            except InvalidInput as exc:
                fail(column, exc.message)
                return None

        bsn = values.get("bsn", "")
        fields["bsn"] = bsn if parse("bsn", validate_bsn, bsn) is not None else None  # the message never has it
        melding = parse("meldingsdatum", parse_date, values.get("meldingsdatum"))
        aanvraag = parse("aanvraagdatum", parse_date, values.get("aanvraagdatum"))
        checked, problems = check_melding(
            contract and service.contract_terms(contract), domain=values.get("domein", ""),
            product_category=values.get("productcategorie", ""), urgency=values.get("urgentie") or "normal",
            provision_type=values.get("soort_voorziening") or "individual", melding_date=melding,
            aanvraag_date=aanvraag, neighbourhood=values.get("wijk", ""), today=self.today)
        for problem in problems:
            fail(COLUMN_OF_FIELD[problem.field or ""], problem.message)
        if checked is not None:
            fields.update(domain=checked.domain.value, product_category=checked.product_category.value,
                          urgency=checked.urgency.value, provision_type=checked.provision_type.value,
                          melding_date=melding, aanvraag_date=checked.aanvraag_date,
                          neighbourhood=checked.neighbourhood)
        else:  # what a later row about this melding may still need
            try:
                category = ProductCategory.parse(values.get("productcategorie", "")).value
            except InvalidInput:
                category = None
            fields.update(product_category=category, melding_date=melding)
        return fields

    # --- events --------------------------------------------------------------------------------------

    async def _existing(self, case_number: str) -> _Case | DomainError:
        if case_number not in self.existing:
            self.existing[case_number] = await self._load_existing(case_number)
        return self.existing[case_number]

    async def _load_existing(self, case_number: str) -> _Case | DomainError:
        row = await Case.select().where(Case.case_number == case_number).first()
        facts = await service.case_facts(row["id"]) if row else None
        try:
            policy.authorize_case_change(self.actor, facts)
        except DomainError as exc:
            return exc
        assert row is not None and facts is not None
        contract = await self._contract(row["contract"])
        assert contract is not None
        return _Case(row["id"], contract, facts,
                     CaseState(row["status"], row["subcontractor"], row["status_before_hold"]), row["version"],
                     row["status_since"].astimezone(AMSTERDAM).date(), row["melding_date"], row["product_category"])

    async def _target(self, values: dict[str, str], fail) -> _Case | None:
        reference, case_number = values.get("referentie") or None, values.get("zaaknummer") or None
        if (reference is None) == (case_number is None):
            fail("referentie", "Vul óf de referentie van een melding in dit bestand in, óf het zaaknummer van een "
                               "bestaande casus.")
            return None
        if case_number is not None:
            found = await self._existing(case_number)
            if isinstance(found, DomainError):
                fail("zaaknummer", found.message)  # never the number itself: it may not be the actor's to know
                return None
            return found
        if reference not in self.references:
            fail("referentie", "Er staat geen melding met deze referentie boven deze regel.")
            return None
        case = self.references[reference]
        if case is None:
            fail("referentie", f"De melding met deze referentie (regel {self.reference_lines[reference]}) is niet "
                               "geldig; los die eerst op.")
        return case

    async def _subcontractor_delivers(self, case: _Case, subcontractor_id: int) -> str | None:
        key = (case.contract["id"], subcontractor_id)
        if key not in self.delivers:
            row = await Subcontract.select(Subcontract.product_categories).where(
                (Subcontract.contract == key[0]) & (Subcontract.subcontractor == subcontractor_id)).first()
            self.delivers[key] = row and delivered_categories(row["product_categories"])
        return allocation_refusal(self.delivers[key], case.product_category)

    async def event(self, row: CsvRow) -> None:
        values, line = row.values, row.line
        errors: list[RowError] = []

        def fail(column: str, message: str) -> None:
            errors.append(RowError(line, column, message))

        _refuse_bsn_in_free_text(values, fail)
        case = await self._target(values, fail)
        payload, occurred_on, aanvraag = self._event_fields(values, fail)
        action_text = values.get("actie", "")
        if not action_text:
            fail("actie", "Vul de actie in, bijvoorbeeld start_assessment of accept.")
        if case is None or errors:
            self.errors.extend(errors)
            return
        day = occurred_on or self.today
        if occurred_on is not None and occurred_on < case.last_date:
            fail("datum", f"De datum {format_date(occurred_on)} ligt vóór de vorige stap van deze casus "
                          f"({format_date(case.last_date)}).")
        if aanvraag is not None and aanvraag < case.melding_date:
            fail("aanvraagdatum", "De aanvraag kan niet vóór de melding liggen.")
        try:
            transition = decide_transition(case.state, action_text, self.actor.role, self.actor.organisation_id,
                                           payload)
        except DomainError as exc:
            fail(_column(exc, "actie"), exc.message)
            transition = None
        if transition is not None and transition.action is CaseAction.REQUEST_ALLOCATION:
            problem = await self._subcontractor_delivers(case, transition.subcontractor_id or 0)
            if problem:
                fail("onderaannemer", problem)
        if errors:
            self.errors.extend(errors)
            return  # the case stays where it was; the next rows are checked against that state
        assert transition is not None
        self.steps.append(_Step(line, values.get("referentie") or None, case_id=case.case_id, command=CaseCommand(
            action=transition.action.value, expected_version=case.version, payload=payload,
            occurred_on=occurred_on, aanvraag_date=aanvraag)))
        case.state = transition.new_state
        case.version += 1
        case.last_date = day
        if transition.subcontractor_id is not None:
            case.facts = CaseFacts(case.facts.contract, transition.subcontractor_id,
                                   case.facts.allocated_to | {transition.subcontractor_id})

    def _event_fields(self, values: dict[str, str], fail) -> tuple[TransitionInput, date | None, date | None]:
        def boolean(column: str) -> bool | None:
            text = values.get(column, "").strip().lower()
            if not text:
                return None
            if text in YES or text in NO:
                return text in YES
            fail(column, "Vul ja of nee in.")
            return None

        def day(column: str) -> date | None:
            try:
                moment = parse_date(values.get(column), field=column)
            except InvalidInput as exc:
                fail(column, exc.message)
                return None
            if moment is not None and moment > self.today:
                fail(column, f"De datum {format_date(moment)} ligt in de toekomst.")
            return moment

        subcontractor = values.get("onderaannemer", "").strip()
        subcontractor_id = None
        if subcontractor:
            if subcontractor.isdigit():
                subcontractor_id = int(subcontractor)
            else:
                fail("onderaannemer", "Vul het nummer (id) van de onderaannemer in.")
        referred_text = values.get("doorverwezen_naar", "").strip()
        referred = NOWHERE if referred_text.lower() == NOWHERE.value else (referred_text or None)
        if isinstance(referred, str) and len(referred) > 200:
            fail("doorverwezen_naar", "Houd de doorverwijzing kort (maximaal 200 tekens).")
        payload = TransitionInput(
            subcontractor_id=subcontractor_id, reason_code=values.get("reden") or None,
            end_reason=values.get("reden_einde") or None, beschikking_issued=boolean("beschikking"),
            objection_info_given=boolean("bezwaarinformatie"), referred_to=referred,
            note=values.get("toelichting") or None)
        return payload, day("datum"), day("aanvraagdatum")


FREE_TEXT_COLUMNS = ("toelichting", "doorverwezen_naar")


def _refuse_bsn_in_free_text(values: dict[str, str], fail) -> None:
    """The dry run already names the line and column of a BSN typed into free text (the message never repeats
    the number); the real run would be refused by the case service anyway."""
    for column in FREE_TEXT_COLUMNS:
        if contains_bsn(values.get(column)):
            fail(column, BSN_IN_TEXT_MESSAGE)
    if len(values.get("toelichting") or "") > MAX_NOTE:  # the dry run says what the real run would refuse
        fail("toelichting", f"Een toelichting heeft hoogstens {MAX_NOTE} tekens.")


async def _validate(actor: Actor, rows: list[CsvRow]) -> _Validator:
    validator = _Validator(actor)
    await validator.run(rows)
    validator.errors.sort(key=lambda error: error.line)
    return validator


def parse_file(data: bytes) -> list[CsvRow]:
    """The rows of an uploaded file; structural problems raise ``InvalidInput`` (a 422 for the whole file)."""
    return read_csv(data, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)


async def import_cases(actor: Actor, data: bytes, *, dry_run: bool) -> ImportResult:
    """Validate (dry run) or import (all or nothing) a CSV file of meldingen and events."""
    policy.require_role(actor, IMPORT_ROLES, "het importeren van casussen")
    rows = parse_file(data)
    if not rows:
        raise InvalidInput("Het bestand bevat geen regels onder de kopregel.", field="bestand")
    result = ImportResult(dry_run=dry_run, rows=len(rows))
    if dry_run:
        async with read_transaction():
            validator = await _validate(actor, rows)
        result.errors = validator.errors
        result.cases = sum(step.new_case is not None for step in validator.steps)
        result.events = sum(step.command is not None for step in validator.steps)
        return result
    line = None
    try:
        async with write_transaction():  # one transaction: the services' own transactions join it
            validator = await _validate(actor, rows)
            if validator.errors:
                raise _RowErrors(validator.errors)
            created: dict[str, int] = {}
            for step in validator.steps:
                line = step.line
                if step.new_case is not None:
                    case = await service.register_case(actor, step.new_case)
                    result.cases += 1
                    result.created.append({"line": step.line, "referentie": step.reference, "id": case["id"],
                                           "case_number": case["case_number"]})
                    if step.reference is not None:
                        created[step.reference] = case["id"]
                else:
                    assert step.command is not None
                    case_id = step.case_id if step.case_id is not None else created[step.reference or ""]
                    await service.act_on_case(actor, case_id, step.command)
                    result.events += 1
            line = None
            await audit.record(actor, "create", "case_import", None, purpose="import van casussen (CSV)",
                               new={"rows": result.rows, "cases": result.cases, "events": result.events})
    except _RowErrors as refused:
        result.errors, result.cases, result.events, result.created = refused.errors, 0, 0, []
    except DomainError as exc:
        # the service disagreed with the simulation (e.g. someone changed a case meanwhile): nothing is kept
        result.errors = [RowError(line or 0, _column(exc, "regel_type"), exc.message)]
        result.cases, result.events, result.created = 0, 0, []
    return result


def example_line(**values: str) -> str:
    """One row of a file in the import's column order (semicolons, as Excel in a Dutch locale writes)."""
    return ";".join(values.get(column, "") for column in COLUMNS)


async def example_csv(actor: Actor) -> str:
    """An example file, with a contract and a subcontractor of the actor's own where it has them."""
    policy.require_role(actor, IMPORT_ROLES, "het importeren van casussen")
    contract = await Contract.select(Contract.id).where(policy.contract_scope(actor)).order_by(Contract.id).first()
    contract_id = str(contract["id"] if contract else 1)
    sub = await Subcontract.select(Subcontract.subcontractor).where(
        Subcontract.contract == int(contract_id)).order_by(Subcontract.id).first()
    sub_id = str(sub["subcontractor"] if sub else 2)
    today = format_date(service.today_nl())
    melding = {"regel_type": MELDING, "contract": contract_id, "bsn": "111222333", "domein": "wmo",
               "urgentie": "normal", "soort_voorziening": "individual", "meldingsdatum": today}
    event = {"regel_type": EVENT, "datum": today}
    rows = [
        example_line(**melding, referentie="M1", wijk="Centrum", productcategorie="02", aanvraagdatum=today,
                     toelichting="Aangemeld via het wijkteam"),
        example_line(**event, referentie="M1", actie="start_assessment"),
        example_line(**event, referentie="M1", actie="request_allocation", onderaannemer=sub_id),
        example_line(**melding, referentie="M2", wijk="Noord", productcategorie="07"),
        example_line(**event, referentie="M2", actie="start_assessment"),
        example_line(**event, referentie="M2", actie="reject", reden="L1", beschikking="nee", bezwaarinformatie="ja",
                     doorverwezen_naar="Buurtkamer Noord", toelichting="Algemene voorziening volstaat"),
    ]
    return "\n".join([";".join(COLUMNS), *rows]) + "\n"
