"""Realistic demo data: organisations, people, a contract with its money, and cases with histories.

Every case history is driven through the real lifecycle (``decide_transition``), so the demo can never
hold a history the portal itself would refuse. Most cases flow normally; some stall, some are rejected
(a few without a beschikking), some bounce between subcontractors, some return as a re-report.
The same seed gives the same data.
"""

import contextlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

from portal.accounts.passwords import hash_password
from portal.accounts.tables import Organisation, User
from portal.cases.rules import NOWHERE, CaseAction, CaseState, CaseStatus, TransitionInput, decide_transition
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, ContractYear, StatusNorm, Subcontract
from portal.db import empty_all_tables, engine, write_transaction
from portal.demo.scenarios import SCENARIOS, Scenario
from portal.lib.calendar_nl import add_working_days
from portal.lib.formatting import today_nl
from portal.lib.pseudonym import pseudonymise
from portal.reports.tables import Report, ReportPeriod, ReportTemplate, ReportVersion
from portal.rights.rules import ObjectionOutcome, ReassessmentOutcome, first_reassessment_due, objection_deadline
from portal.savings.tables import Investment, SavingsActual, SavingsTarget
from portal.settings import get_settings

DEMO_PASSWORD = "inzicht-demo-2026"  # noqa: S105 - a published demo password, printed by `portal demo`
BATCH = 400

# Product category (WMO020) mix of new requests, and what subcontractors deliver.
CATEGORY_WEIGHTS = {"02": 35, "01": 25, "07": 15, "03": 8, "06": 7, "09": 5, "08": 5}
END_REASON_WEIGHTS = {"19": 60, "23": 12, "21": 7, "31": 5, "02": 4, "38": 6, "39": 3, "20": 3}
REJECTION_REASON_WEIGHTS = {"L1": 25, "L2": 25, "4": 15, "7": 10, "L7": 10, "5": 5, "2": 5, "6": 5}
DECLINE_REASONS = ("L3", "L3", "L4", "L6")
WITHDRAWAL_REASON_WEIGHTS = {"L2": 35, "L5": 25, "5": 15, "L7": 15, "L1": 10}
OBJECTION_SHARE = 0.15  # of the rejections with a beschikking, this share is objected to
OBJECTION_OUTCOME_WEIGHTS = {"ongegrond": 50, "gegrond": 15, "deels_gegrond": 10, "ingetrokken": 15,
                             "niet_ontvankelijk": 10}
NON_STATUS_ACTIONS = frozenset({"reassessment", "objection_filed", "objection_decided", "progress_note"})
REFERRALS = ("Buurtcentrum (inloop)", "Vrijwillige thuishulp", "Mantelzorgsteunpunt", "Wijkrestaurant",
             "Schuldhulpmaatje", "Huisarts en POH-GGZ", "Zorgverzekeraar (Zvw)", "CIZ (Wlz)")
COLLECTIVE = ("Buurtcentrum (inloop)", "Wijkrestaurant", "Ontmoetingsgroep ouderen", "Boodschappendienst",
              "Jongerenwerk", "Opvoedspreekuur")
SUBCONTRACTOR_NAMES = (
    "Thuiszorg Spaarne", "Dagbesteding De Kas", "Begeleiding Op Maat", "Stichting Buurtkracht",
    "Zorgboerderij Zuiderpolder", "Huishoudelijke Hulp Kennemerland", "Stichting De Brug", "Jeugdpunt Noord",
    "Wijkzorg Schalkwijk", "Vervoer Samen", "Het Ontmoetingshuis", "Stichting Present", "Ambulant Team Oost",
    "Zorgcoöperatie Molenwijk", "Dagcentrum Het Anker", "Stichting Thuis in de Wijk", "Hulp aan Huis Haarlem",
    "Kind en Gezin Kennemerland", "Stichting Wijkwerk", "Begeleid Wonen Delftwijk", "Activiteitencentrum Zuid",
    "Stichting Mantelkracht", "Persoonlijke Zorg Spaarnwoude", "Stichting Leefkracht", "Zorg aan Zee",
    "Jongerenbegeleiding Haarlem", "Ontmoetingscentrum Boerhaave", "Stichting Samen Thuis", "Dagbesteding Groen",
    "Thuisbegeleiding Zuid-West", "Zorgpunt Parkwijk", "Stichting Ouderen Actief", "Beweegcentrum Oost",
    "Stichting Zelfregie", "Buurtzorg Kennemerland", "Huishoudservice Schoon", "Stichting Buitenkans",
    "Gezinscoaching Spaarne", "Dagactiviteiten Het Atelier", "Stichting Eigen Kracht", "Werkplaats De Schakel",
    "Thuiszorg Noord", "Stichting Wijkmaatje", "Ambulante Hulp Centrum", "Zorgcollectief Meerwijk",
    "Stichting Rondom Thuis", "Jeugdhulp Licht", "Vervoersdienst Regio", "Stichting Naast", "Dagbesteding Oost",
)
WORK_START = time(8, 0)


@dataclass
class DemoSummary:
    scenario: str
    loaded: bool
    organisations: int = 0
    users: int = 0
    cases: int = 0
    re_reports: int = 0
    events: int = 0
    reassessments: int = 0
    password: str = DEMO_PASSWORD
    logins: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        return (f"{_nl(self.organisations)} organisaties, {_nl(self.users)} gebruikers, {_nl(self.cases)} "
                f"hulpvragen (waarvan {_nl(self.re_reports)} heraanmeldingen), {_nl(self.events)} gebeurtenissen"
                + (f", {_nl(self.reassessments)} herindicatiegesprekken" if self.reassessments else ""))


def _nl(number: int) -> str:
    return f"{number:,}".replace(",", ".")


# --------------------------------------------------------------------------------------------------
# Pure simulation of one case's history


@dataclass(frozen=True)
class SimEvent:
    on: date
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus
    actor_org: int
    subcontractor_id: int | None = None
    reason_code: str | None = None
    end_reason: str | None = None
    beschikking_issued: bool | None = None
    objection_info_given: bool | None = None
    referred_to: str | None = None
    note: str | None = None
    outcome: str | None = None  # objection_decided, reassessment
    due_date: date | None = None  # objection_filed: last day of the term; reassessment: the next one due


@dataclass
class SimCase:
    melding: date
    category: str
    events: list[SimEvent]
    state: CaseState
    provision_type: str = "individual"
    aanvraag: date | None = None
    decision: date | None = None
    beschikking: bool | None = None
    end_reason: str | None = None
    reassessment_due: date | None = None


class _Stop(Exception):
    """The simulated history has reached today."""


class CaseSimulator:
    """Drives one case through the lifecycle with plausible timings, stopping at ``today``."""

    def __init__(self, rng: random.Random, today: date, coordinator_org: int,
                 providers: dict[str, list[int]], decline_rate: dict[int, float], *,
                 waiting_lists: tuple[tuple[str, float, int, int], ...] = (("01", 0.35, 10, 90),),
                 care_days: tuple[int, int] = (20, 300), local: frozenset[int] = frozenset(),
                 local_share: float = 0.0) -> None:
        self.rng = rng
        self.today = today
        self.coordinator_org = coordinator_org
        self.providers = providers
        self.decline_rate = decline_rate
        # per category: the share of granted cases placed on the waiting list, and for how many days
        self.waiting = {category: (share, low, high) for category, share, low, high in waiting_lists}
        self.care_days = care_days
        self.local = local  # providers that get ``local_share`` of the allocations (Zaltbommel)
        self.local_share = local_share
        # Draws added later (what a turn-away records about the resident's rights) come from a second generator
        # seeded from the first, so the main sequence, and every history it drives, stays what it was.
        self.side = random.Random(repr(rng.getstate()))

    def simulate(self, melding: date, category: str) -> SimCase:
        case = SimCase(melding, category, [SimEvent(melding, "register", None, CaseStatus.REGISTERED,
                                                    self.coordinator_org)], CaseState(CaseStatus.REGISTERED))
        self._on = melding
        with contextlib.suppress(_Stop):
            self._run(case)
        return case

    # one helper per move keeps the flow below readable
    def _move(self, case: SimCase, after_days: int, action: CaseAction, org: int, role: str = "coordinator",
              **payload: object) -> None:
        on = self._on + timedelta(days=after_days)
        if on > self.today:
            raise _Stop
        transition = decide_transition(case.state, action, role, org, TransitionInput(**payload))
        referred = transition.referred_to
        case.events.append(SimEvent(
            on, action.value, transition.from_status, transition.to_status, org,
            subcontractor_id=payload.get("subcontractor_id") or (org if role == "subcontractor" else None),
            reason_code=transition.reason_code and transition.reason_code.value,
            end_reason=transition.end_reason and transition.end_reason.value,
            beschikking_issued=transition.beschikking_issued,
            objection_info_given=transition.objection_info_given,
            referred_to="nergens" if referred is NOWHERE else referred,
            note=transition.note,
        ))
        case.state = transition.new_state
        self._on = on

    def _working_days(self, n: int) -> int:
        return (add_working_days(self._on, n) - self._on).days

    def _run(self, case: SimCase) -> None:
        rng = self.rng
        coordinator = self.coordinator_org
        self._move(case, rng.randint(0, 3), CaseAction.START_ASSESSMENT, coordinator)
        # Most assessments finish well within six weeks; some exceed the term, a few stall for months.
        roll = rng.random()
        assessment_days = rng.randint(5, 35) if roll < 0.85 else rng.randint(36, 60) if roll < 0.95 else \
            rng.randint(61, 150)
        if rng.random() < 0.03:
            self._move(case, rng.randint(2, 10), CaseAction.HOLD, coordinator,
                       note="Inwoner tijdelijk opgenomen in het ziekenhuis")
            self._move(case, rng.randint(7, 30), CaseAction.RESUME, coordinator)
        outcome = rng.random()
        if outcome < 0.03:
            self._move(case, assessment_days, CaseAction.WITHDRAW, coordinator, note="Inwoner ziet af van hulp",
                       reason_code=_weighted(self.side, WITHDRAWAL_REASON_WEIGHTS),
                       objection_info_given=self.side.random() < 0.75)
            return self._close(case)
        if outcome < 0.15:
            case.provision_type = "collective"
            self._move(case, assessment_days, CaseAction.REFER_COLLECTIVE, coordinator,
                       referred_to=rng.choice(COLLECTIVE), objection_info_given=self.side.random() < 0.85)
            return self._close(case)
        # an aanvraag follows the assessment for individual provisions; the decision within ~2 weeks
        case.aanvraag = self._on + timedelta(days=assessment_days)
        if case.aanvraag > self.today:
            case.aanvraag = None
            raise _Stop
        decision_after = assessment_days + (rng.randint(1, 12) if rng.random() < 0.92 else rng.randint(15, 30))
        if outcome < 0.23:
            beschikking = rng.random() < 0.8
            self._move(case, decision_after, CaseAction.REJECT, coordinator,
                       reason_code=_weighted(rng, REJECTION_REASON_WEIGHTS), beschikking_issued=beschikking,
                       objection_info_given=beschikking and rng.random() < 0.9 or rng.random() < 0.2,
                       referred_to=rng.choice(REFERRALS) if rng.random() < 0.7 else NOWHERE)
            case.decision, case.beschikking = self._on, beschikking
            return self._close(case)
        case.decision, case.beschikking = self._on + timedelta(days=decision_after), True
        waiting = self.waiting.get(case.category)
        if waiting and rng.random() < waiting[0]:  # e.g. the central waiting list for household help
            self._move(case, decision_after, CaseAction.PLACE_ON_WAITING_LIST, coordinator)
            self._move(case, rng.randint(waiting[1], waiting[2]), CaseAction.REQUEST_ALLOCATION, coordinator,
                       subcontractor_id=self._pick_provider(case, set()))
        else:
            self._move(case, decision_after, CaseAction.REQUEST_ALLOCATION, coordinator,
                       subcontractor_id=self._pick_provider(case, set()))
        self._allocate(case)

    def _allocate(self, case: SimCase) -> None:
        rng = self.rng
        tried: set[int] = set()
        while True:
            provider = case.state.subcontractor_id
            assert provider is not None
            tried.add(provider)
            answer_after = self._working_days(rng.randint(0, 4) if rng.random() < 0.85 else rng.randint(6, 15))
            if rng.random() < self.decline_rate[provider] and len(tried) < 4:
                self._move(case, answer_after, CaseAction.DECLINE, provider, "subcontractor",
                           reason_code=rng.choice(DECLINE_REASONS))
                self._move(case, rng.randint(1, 5), CaseAction.REQUEST_ALLOCATION, self.coordinator_org,
                           subcontractor_id=self._pick_provider(case, tried))
                continue
            self._move(case, answer_after, CaseAction.ACCEPT, provider, "subcontractor")
            break
        self._move(case, rng.randint(1, 15), CaseAction.START_CARE, provider, "subcontractor")
        if case.provision_type == "individual":
            case.reassessment_due = first_reassessment_due(self._on)
        self._move(case, rng.randint(*self.care_days), CaseAction.END_CARE, provider, "subcontractor",
                   end_reason=_weighted(rng, END_REASON_WEIGHTS))
        case.end_reason, case.reassessment_due = case.events[-1].end_reason, None
        self._close(case)

    def _close(self, case: SimCase) -> None:
        self._move(case, self.rng.randint(1, 10), CaseAction.CLOSE, self.coordinator_org)

    def _pick_provider(self, case: SimCase, tried: set[int]) -> int:
        candidates = [p for p in self.providers[case.category] if p not in tried] or self.providers[case.category]
        if self.local:  # prefer local providers for the agreed share of the volume
            wanted = self.rng.random() < self.local_share
            candidates = [p for p in candidates if (p in self.local) is wanted] or candidates
        return self.rng.choice(candidates)

    def reassess(self, case: SimCase, on: date, stop: bool) -> None:
        """A re-assessment talk on a running indication (an event that keeps the status); a stopped
        provision then ends through the lifecycle (end reason 36, by the municipality) and is closed."""
        assert case.state.status is CaseStatus.IN_CARE and on > case.events[-1].on
        note = ("Herindicatie: maatwerkvoorziening stopt, inwoner kan verder met een algemene voorziening" if stop
                else "Herindicatie: voortgezet voor onbepaalde tijd")
        outcome = ReassessmentOutcome.STOPPED if stop else ReassessmentOutcome.CONTINUED_INDEFINITELY
        case.events.append(SimEvent(on, "reassessment", CaseStatus.IN_CARE, CaseStatus.IN_CARE,
                                    self.coordinator_org, subcontractor_id=case.state.subcontractor_id, note=note,
                                    outcome=outcome.value))
        case.reassessment_due = None  # indefinite term, or stopping: no next re-assessment
        if stop:
            self._on = on
            self._move(case, self.rng.randint(14, 42), CaseAction.END_CARE, self.coordinator_org, end_reason="36")
            case.end_reason = case.events[-1].end_reason
            self._close(case)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def random_bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the 11-proof (used only to compute a pseudonym)."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        if digits[0] == 0 and digits[1] == 0:
            continue
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def melding_dates(rng: random.Random, start: date, today: date, count: int) -> Iterator[date]:
    """Dates of new requests between the contract start and today, on working days, slowly growing."""
    span = (today - start).days
    for _ in range(count):
        # a triangular draw leans towards recent months: the contract's reach grows over time
        on = start + timedelta(days=int(rng.triangular(0, span, span)))
        while on.weekday() >= 5:
            on -= timedelta(days=1)
        yield max(on, start)


# --------------------------------------------------------------------------------------------------
# Writing a scenario to the database


async def load_demo(scenario: str = "haarlem", cases: int = 3000, seed: int = 2026, reset: bool = False,
                    force: bool = False, today: date | None = None) -> DemoSummary:
    """Load a scenario. Without ``reset`` or ``force`` an already loaded database is left alone."""
    if scenario not in SCENARIOS:
        raise ValueError(f"Onbekend scenario {scenario!r}; kies uit: {', '.join(sorted(SCENARIOS))}")
    spec = SCENARIOS[scenario]
    if reset:
        await empty_all_tables()
    elif not force and await Contract.count() > 0:
        return DemoSummary(scenario, loaded=False, organisations=await Organisation.count(),
                           users=await User.count(), cases=await Case.count(), events=await CaseEvent.count(),
                           logins=await _logins_for(spec))
    rng = random.Random(seed)
    today = today or today_nl()
    async with write_transaction():
        summary = await _write_scenario(spec, rng, cases, today)
    # Fresh statistics after a bulk load: without them PostgreSQL plans the dashboard's joins as if the
    # tables were empty (seconds instead of milliseconds until autovacuum gets round to it).
    await engine().run_ddl("ANALYZE" if engine().engine_type == "postgres" else "PRAGMA optimize")
    summary.logins = await _logins_for(spec)
    return summary


async def _write_scenario(spec: Scenario, rng: random.Random, case_count: int, today: date) -> DemoSummary:
    summary = DemoSummary(spec.key, loaded=True)
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for all demo users: argon2 is slow on purpose

    municipality = await _org(spec.municipality, "municipality")
    platform = await _org("Inzicht platformbeheer", "platform")
    main = await _org(spec.main_contractor, "main_contractor") if spec.main_contractor else None
    coordinator_org = main or municipality
    subcontractors = [await _org(name, "subcontractor") for name in _subcontractor_names(spec)]
    summary.organisations = 2 + bool(main) + len(subcontractors)

    people = [
        (platform, "admin", f"beheer@{spec.mail_domain}.demo", "Bea Beheer", False),
        (municipality, "contract_manager", f"contractmanager@{spec.mail_domain}.demo", "Carla de Vries", True),
        (municipality, "contract_manager", f"beleid@{spec.mail_domain}.demo", "Ruben Jansen", False),
        (coordinator_org, "coordinator", f"coordinator@{spec.mail_domain}.demo", "Kees Bakker", False),
        (coordinator_org, "coordinator", f"intake@{spec.mail_domain}.demo", "Fatima El Amrani", False),
    ]
    for index, sub in enumerate(subcontractors, start=1):
        people.append((sub, "subcontractor", f"onderaannemer{index}@{spec.mail_domain}.demo",
                       f"Medewerker {sub['name']}", False))
    users = await User.insert(*[
        User(email=email, display_name=name, organisation=org["id"], role=role, password_hash=password_hash,
             is_privacy_officer=privacy)
        for org, role, email, name, privacy in people
    ]).returning(User.id)
    summary.users = len(users)

    contract = Contract(
        municipality=municipality["id"], main_contractor=main["id"] if main else None, name=spec.contract_name,
        case_prefix=spec.case_prefix,
        covers_wmo=True, covers_jeugd=spec.covers_jeugd, start_date=spec.start, end_date=spec.end,
        missed_target_terms=spec.missed_target_terms,
    )
    await contract.save()
    await _money(spec, contract.id, today, rng)
    # the assessment norm is stricter than the default: the municipality wants a decision within 5 weeks
    await StatusNorm(contract=contract.id, status="assessment", max_working_days=25).save()
    await _report_calendar(contract.id, spec, today)

    providers, decline_rate = await _subcontracts(contract, subcontractors, rng)
    local = frozenset(sub["id"] for sub in subcontractors[: spec.local_providers])
    simulator = CaseSimulator(rng, today, coordinator_org["id"], providers, decline_rate,
                              waiting_lists=spec.waiting_lists, care_days=spec.care_days, local=local,
                              local_share=spec.local_share)
    summary.cases, summary.re_reports, summary.events, summary.reassessments = await _cases(
        spec, contract.id, simulator, rng, case_count, today)
    await _demo_reports(contract.id, subcontractors, [row["id"] for row in users[5:]], users[3]["id"],
                        coordinator_org["id"], rng, today, contract_reports=main is not None)
    return summary


def _subcontractor_names(spec: Scenario) -> tuple[str, ...]:
    return (spec.subcontractor_names or SUBCONTRACTOR_NAMES)[: spec.subcontractor_count]


DEMO_STORIES = ("Meer inwoners vonden de weg naar de buurtkamer.", "Samen met de huisarts korter gewacht.",
                "Vrijwilligers hielden de inloop drie dagen per week open.")


async def _demo_reports(contract_id: int, subcontractors: list[dict], writers: list[int], coordinator: int,
                        coordinator_org: int, rng: random.Random, today: date, contract_reports: bool = True) -> None:
    """Learning-cycle reports for every quarter past its deadline: most accepted, a few missing (more in the
    latest two quarters), one returned; the main contractor's contract report for each quarter, the latest
    one waiting for the municipality's review (not where the municipality coordinates itself). Two bulk inserts; no
    computed figures (the pages compute those)."""
    template = await ReportTemplate.select(ReportTemplate.id).where(ReportTemplate.contract == contract_id).first()
    periods = await ReportPeriod.select(ReportPeriod.id, ReportPeriod.deadline).where(
        ReportPeriod.contract == contract_id, ReportPeriod.deadline < today).order_by(
        ReportPeriod.starts_on, ascending=False)
    if template is None:
        return
    reports, contents = [], []
    for age, period in enumerate(periods):
        for index, (sub, writer) in enumerate(zip(subcontractors, writers, strict=True)):
            if rng.random() < (0.1 if age < 2 else 0.02) and index != 1:
                continue  # missing: never started
            status = "returned" if age == 0 and index == 1 else "accepted"
            submitted = datetime.combine(period["deadline"] - timedelta(days=rng.randint(1, 20)), WORK_START,
                                         tzinfo=UTC)
            reports.append(Report(period=period["id"], contract=contract_id, template=template["id"],
                                  organisation=sub["id"], kind="subcontractor", status=status, current_version=1,
                                  draft=json.dumps({"values": {}, "sections": {}}), submitted_at=submitted,
                                  updated_at=submitted, accepted_at=submitted + timedelta(days=3)
                                  if status == "accepted" else None,
                                  returned_reason="Graag de uren collectief per wijk toelichten."
                                  if status == "returned" else None))
            contents.append((writer, submitted, {
                "template_version": 1, "computed": {},
                "indicators": {"inwoners_ondersteund": rng.randint(20, 400), "nieuwe_hulpvragen": rng.randint(5, 80),
                               "uren_collectief": str(rng.randint(100, 4000)), "vrijwilligers": rng.randint(0, 40),
                               "clienttevredenheid": str(rng.randint(70, 95))},
                "sections": {"goed": rng.choice(DEMO_STORIES),
                             "geleerd": "- eerst samen het gesprek\n- dan pas indiceren"},
            }))
        if not contract_reports:
            continue
        submitted = datetime.combine(period["deadline"] + timedelta(days=rng.randint(3, 12)), WORK_START, tzinfo=UTC)
        status = "submitted" if age == 0 else "accepted"
        reports.append(Report(period=period["id"], contract=contract_id, template=template["id"],
                              organisation=coordinator_org, kind="contract", status=status, current_version=1,
                              draft=json.dumps({"values": {}, "sections": {}}), submitted_at=submitted,
                              updated_at=submitted,
                              accepted_at=submitted + timedelta(days=10) if status == "accepted" else None))
        contents.append((coordinator, submitted, {
            "template_version": 1, "computed": {}, "indicators": {},
            "sections": {"goed": "De wijkteams werken met één werkvoorraad; de doorlooptijd daalt.",
                         "nodig": "Van de gemeente: snellere besluiten over maatwerk boven de EUR 10.000."},
        }))
    if not reports:
        return
    ids = [row["id"] for row in await Report.insert(*reports).returning(Report.id)]
    await ReportVersion.insert(*[
        ReportVersion(report=report_id, number=1, content=json.dumps(content, ensure_ascii=False),
                      submitted_by=writer, submitted_at=submitted)
        for report_id, (writer, submitted, content) in zip(ids, contents, strict=True)])




async def _org(name: str, kind: str) -> dict:
    row = Organisation(name=name, kind=kind)
    await row.save()
    return {"id": row.id, "name": name}


async def _money(spec: Scenario, contract_id: int, today: date, rng: random.Random) -> None:
    years = range(spec.start.year, spec.end.year + 1)
    rows, targets = [], []
    for index, year in enumerate(years):
        target = spec.savings_target_cents_per_year[min(index, len(spec.savings_target_cents_per_year) - 1)]
        lump_sum = spec.baseline_cents_per_year - target
        indexation = int(lump_sum * spec.indexation_pct_per_year / 100) * (index + 1)
        rows.append(ContractYear(contract=contract_id, year=year, lump_sum_cents=lump_sum,
                                 indexation_cents=indexation, baseline_cents=spec.baseline_cents_per_year))
        targets.append(SavingsTarget(contract=contract_id, year=year, level=spec.target_level, amount_cents=target))
        for level, amounts in spec.extra_target_levels:  # e.g. Hengelo's whole-transformation level
            targets.append(SavingsTarget(contract=contract_id, year=year, level=level,
                                         amount_cents=amounts[min(index, len(amounts) - 1)]))
    await ContractYear.insert(*rows)
    await SavingsTarget.insert(*targets)
    for invested_on, amount, description in spec.investments:
        await Investment(contract=contract_id, invested_on=invested_on, amount_cents=amount,
                         description=description).save()
    # Quarterly spend from the ledger up to the last full quarter: the year's lump sum plus the CAO indexation
    # the municipality pays on top, give or take a little, so the agreed savings are roughly reached. The first
    # quarter's ledger held a double-booked invoice (EUR 45.000) that a correction later took out.
    by_year = {row.year: row for row in rows}
    quarter_start, first = spec.start, None
    while (quarter_end := _quarter_end(quarter_start)) < today:
        year = by_year[quarter_start.year]
        # budgets run per day, as the savings maths does: Q1 has 90 days, Q3 92
        share = Fraction((quarter_end - quarter_start).days + 1, (date(quarter_start.year + 1, 1, 1)
                                                                   - date(quarter_start.year, 1, 1)).days)
        planned = int((year.lump_sum_cents + year.indexation_cents) * share)
        wobble = (year.baseline_cents - year.lump_sum_cents) // 400  # 0,25% of the year's target, per quarter
        spend = planned + rng.randint(-wobble, wobble)
        actual = SavingsActual(contract=contract_id, period_start=quarter_start, period_end=quarter_end,
                               spend_cents=spend + (DOUBLE_BOOKING if first is None else 0), source="ledger",
                               note="Grootboek gemeente")
        await actual.save()
        first = first or (actual, spend)
        quarter_start = quarter_end + timedelta(days=1)
    if first:
        actual, spend = first
        await SavingsActual(contract=contract_id, period_start=actual.period_start, period_end=actual.period_end,
                            spend_cents=spend, source="ledger", corrects=actual.id,
                            note="Correctie: dubbel geboekte factuur vervoer teruggedraaid").save()


DOUBLE_BOOKING = 4_500_000


def _quarter_end(start: date) -> date:
    month = start.month + 3
    year = start.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1) - timedelta(days=1)


async def _report_calendar(contract_id: int, spec: Scenario, today: date) -> None:
    template = ReportTemplate(contract=contract_id, version=1, period_kind="quarter", deadline_days=30,
                              definition=DEFAULT_REPORT_TEMPLATE)
    await template.save()
    periods = []
    start = spec.start
    while start <= today:
        end = _quarter_end(start)
        periods.append(ReportPeriod(contract=contract_id, kind="quarter", starts_on=start, ends_on=end,
                                    deadline=end + timedelta(days=30)))
        start = end + timedelta(days=1)
    await ReportPeriod.insert(*periods)


DEFAULT_REPORT_TEMPLATE = {
    "indicators": [
        {"key": "inwoners_ondersteund", "name": "Inwoners ondersteund", "unit": "82", "type": "integer",
         "required": True, "min": 0, "max": 100000},
        {"key": "nieuwe_hulpvragen", "name": "Nieuwe hulpvragen", "unit": "82", "type": "integer",
         "required": True, "min": 0, "max": 100000},
        {"key": "uren_collectief", "name": "Uren collectieve ondersteuning", "unit": "04", "type": "decimal",
         "required": False, "min": 0, "max": 1000000},
        {"key": "uren_individueel", "name": "Uren individuele ondersteuning", "unit": "04", "type": "decimal",
         "required": False, "min": 0, "max": 1000000},
        {"key": "vrijwilligers", "name": "Ingezette vrijwilligers", "unit": "82", "type": "integer",
         "required": False, "min": 0, "max": 10000},
        {"key": "clienttevredenheid", "name": "Cliënttevredenheid", "unit": None, "type": "percentage",
         "required": False, "min": 0, "max": 100},
    ],
    "sections": [
        {"key": "goed", "title": "Wat ging goed"},
        {"key": "geleerd", "title": "Wat hebben we geleerd"},
        {"key": "dilemmas", "title": "Dilemma's"},
        {"key": "nodig", "title": "Wat hebben we nodig van de andere partijen"},
        {"key": "plannen", "title": "Plannen voor het volgende kwartaal"},
    ],
}


async def _subcontracts(contract: Contract, subcontractors: list[dict],
                        rng: random.Random) -> tuple[dict[str, list[int]], dict[int, float]]:
    providers: dict[str, list[int]] = {category: [] for category in CATEGORY_WEIGHTS}
    decline_rate: dict[int, float] = {}
    rows = []
    for index, sub in enumerate(subcontractors):
        # every category has several providers; each provider delivers one to three categories
        own = {list(CATEGORY_WEIGHTS)[index % len(CATEGORY_WEIGHTS)]}
        own |= set(rng.sample(list(CATEGORY_WEIGHTS), rng.randint(0, 2)))
        for category in own:
            providers[category].append(sub["id"])
        # two providers turn many requests away: the outlier the dashboard should show
        decline_rate[sub["id"]] = 0.45 if index in (3, 17) else rng.uniform(0.03, 0.15)
        rows.append(Subcontract(contract=contract.id, subcontractor=sub["id"], start_date=contract.start_date,
                                end_date=contract.end_date, product_categories=",".join(sorted(own)),
                                capacity=rng.choice((20, 30, 40, 60, 80)),
                                lump_sum_share_cents=rng.randint(20, 120) * 1_000_000))
    await Subcontract.insert(*rows)
    return providers, decline_rate


async def _cases(spec: Scenario, contract_id: int, simulator: CaseSimulator, rng: random.Random,
                 count: int, today: date) -> tuple[int, int, int, int]:
    key = get_settings().pseudonym_keys
    simulated: list[tuple[str, SimCase]] = []
    re_reports = 0
    weights = dict(spec.category_weights) or CATEGORY_WEIGHTS
    for melding in sorted(melding_dates(rng, spec.cases_from or spec.start, today, count)):
        if len(simulated) >= count:
            break
        pseudonym = pseudonymise(random_bsn(rng), key)
        case = simulator.simulate(melding, _weighted(rng, weights))
        simulated.append((pseudonym, case))
        # a few residents come back soon after their case was closed: the re_report signal's material
        if case.state.status is CaseStatus.CLOSED and rng.random() < 0.05 and len(simulated) < count:
            again = case.events[-1].on + timedelta(days=rng.randint(10, 80))
            if again <= today:
                simulated.append((pseudonym, simulator.simulate(again, case.category)))
                re_reports += 1
    reassessed = _reassessments(spec, simulator, [case for _, case in simulated], rng, today)
    side = random.Random(repr(rng.getstate()))
    _objections([case for _, case in simulated], side, today)
    _plan_reassessments([case for _, case in simulated], side, today)
    domain = ("wmo", "jeugd") if spec.covers_jeugd else ("wmo",)
    events = 0
    for offset in range(0, len(simulated), BATCH):
        chunk = simulated[offset: offset + BATCH]
        rows = []
        for number, (pseudonym, case) in enumerate(chunk, start=offset + 1):
            # the status started with the last lifecycle step (a later talk or objection keeps the status)
            index, last = max((i, event) for i, event in enumerate(case.events)
                              if event.action not in NON_STATUS_ACTIONS)
            rows.append(Case(
                contract=contract_id, case_number=f"{spec.case_prefix}-{case.melding.year}-{number:06d}",
                pseudonym=pseudonym, neighbourhood=rng.choice(spec.neighbourhoods),
                domain=rng.choices(domain, weights=(7, 3)[: len(domain)])[0], product_category=case.category,
                provision_type=case.provision_type, urgency=rng.choices(("normal", "high", "crisis"), (90, 8, 2))[0],
                status=case.state.status.value, status_since=_at(last.on, index),
                status_before_hold=case.state.status_before_hold and case.state.status_before_hold.value,
                subcontractor=case.state.subcontractor_id, version=len(case.events), melding_date=case.melding,
                aanvraag_date=case.aanvraag, decision_date=case.decision if case.decision and case.decision <= today
                else None, beschikking_issued=case.beschikking, end_reason=case.end_reason,
                reassessment_due=case.reassessment_due, created_at=_at(case.melding, 0),
            ))
        ids = [row["id"] for row in await Case.insert(*rows).returning(Case.id)]
        event_rows = [
            CaseEvent(case=case_id, contract=contract_id, occurred_at=_at(event.on, index),
                      recorded_at=_at(event.on, index), actor_organisation=event.actor_org, action=event.action,
                      from_status=event.from_status and event.from_status.value, to_status=event.to_status.value,
                      subcontractor=event.subcontractor_id, reason_code=event.reason_code,
                      end_reason=event.end_reason, beschikking_issued=event.beschikking_issued,
                      objection_info_given=event.objection_info_given, referred_to=event.referred_to,
                      note=event.note, outcome=event.outcome, due_date=event.due_date)
            for case_id, (_, case) in zip(ids, chunk, strict=True)
            for index, event in enumerate(case.events)
        ]
        for start in range(0, len(event_rows), BATCH):
            await CaseEvent.insert(*event_rows[start: start + BATCH])
        events += len(event_rows)
    return len(simulated), re_reports, events, reassessed


def _reassessments(spec: Scenario, simulator: CaseSimulator, cases: list[SimCase], rng: random.Random,
                   today: date) -> int:
    """Stichtse Vecht: re-assessment talks on long-running indications (in care for at least half a year at the
    talk), held over the last ten months; the agreed share stops, the rest continues for an indefinite term.
    Returns the count."""
    if not spec.reassessments:
        return 0
    latest = today - timedelta(days=60)  # a stopped provision ends (and closes) well before today
    eligible = [case for case in cases if case.state.status is CaseStatus.IN_CARE
                and case.events[-1].on + timedelta(days=180) <= latest]
    chosen = rng.sample(eligible, min(spec.reassessments, len(eligible)))
    stopped = set(map(id, rng.sample(chosen, round(len(chosen) * spec.reassessment_stopped_pct / 100))))
    for case in chosen:
        earliest = max(case.events[-1].on + timedelta(days=180), today - timedelta(days=300))
        on = earliest + timedelta(days=rng.randint(0, (latest - earliest).days))
        while on.weekday() >= 5:
            on -= timedelta(days=1)
        simulator.reassess(case, max(on, case.events[-1].on + timedelta(days=1)), id(case) in stopped)
    return len(chosen)


def _objections(cases: list[SimCase], rng: random.Random, today: date) -> None:
    """Some residents object to the beschikking that turned them away: most within the six weeks of Awb art.
    6:7, a few too late (mostly declared inadmissible); the municipality decides some weeks later, so the
    latest ones are still pending. Non-status events, placed in the timeline on their day."""
    for case in cases:
        rejection = next((event for event in case.events if event.action == CaseAction.REJECT.value), None)
        if rejection is None or not rejection.beschikking_issued or rng.random() >= OBJECTION_SHARE:
            continue
        deadline = objection_deadline(rejection.on)
        filed_on = rejection.on + timedelta(days=rng.randint(3, 49))
        if filed_on > today:
            continue
        _insert(case, SimEvent(filed_on, "objection_filed", None, CaseStatus.REJECTED, case.events[0].actor_org,
                               due_date=deadline, note="Bezwaarschrift ontvangen door de gemeente"))
        decided_on = filed_on + timedelta(days=rng.randint(30, 100))
        if decided_on > today:
            continue  # still pending
        late = filed_on > deadline
        outcome = (ObjectionOutcome.INADMISSIBLE.value if late and rng.random() < 0.8
                   else _weighted(rng, OBJECTION_OUTCOME_WEIGHTS))
        _insert(case, SimEvent(decided_on, "objection_decided", None, CaseStatus.REJECTED, case.events[0].actor_org,
                               outcome=outcome))


def _plan_reassessments(cases: list[SimCase], rng: random.Random, today: date) -> None:
    """A provision that has run for years without a talk is on the re-assessment planning: due somewhere between
    two months ago (overdue) and eight months ahead, instead of a year after its start."""
    for case in cases:
        if case.reassessment_due is not None and case.reassessment_due < today - timedelta(days=60):
            case.reassessment_due = today + timedelta(days=rng.randint(-60, 240))


def _insert(case: SimCase, event: SimEvent) -> None:
    """A non-status event after every event of its day or earlier, in the status the case had then."""
    position = sum(1 for existing in case.events if existing.on <= event.on)
    status = case.events[position - 1].to_status
    case.events.insert(position, SimEvent(event.on, event.action, status, status, event.actor_org,
                                          note=event.note, outcome=event.outcome, due_date=event.due_date))


def _at(on: date, index: int) -> datetime:
    """A moment during office hours; later events of the same day come later."""
    return datetime.combine(on, WORK_START, tzinfo=UTC) + timedelta(minutes=7 * index)


async def _logins_for(spec: Scenario) -> list[tuple[str, str]]:
    domain = spec.mail_domain
    names = _subcontractor_names(spec)
    wanted = [
        (f"contractmanager@{domain}.demo", "contractmanager, " + spec.municipality),
        (f"coordinator@{domain}.demo", "coördinator, " + (spec.main_contractor or spec.municipality)),
        (f"onderaannemer1@{domain}.demo", "onderaannemer, " + names[0]),
        (f"onderaannemer2@{domain}.demo", "onderaannemer, " + names[1]),
        (f"beheer@{domain}.demo", "beheerder van het platform"),
    ]
    existing = {row["email"] for row in await User.select(User.email).where(User.email.is_in([w[0] for w in wanted]))}
    return [item for item in wanted if item[0] in existing]
