"""Learning-cycle use cases. Each takes the actor explicitly, authorizes through ``portal.accounts.policy``
(a role check, then the object's facts; lists scoped in SQL with ``policy.report_scope``), runs in one
transaction and audits what it changes or exports.

Nothing typed is lost: every save stores the draft as typed (even text that is not a valid number yet);
a submission first saves the draft in its own transaction and only then validates, so a refused
submission keeps everything. Every submission is frozen as an immutable ``ReportVersion``.
"""

import json
import statistics
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from piccolo.query.functions.aggregate import Count

from portal.accounts import audit, policy
from portal.accounts.policy import ContractFacts, ReportFacts
from portal.accounts.rules import Actor, Role
from portal.cases.tables import CaseEvent
from portal.contracts.tables import Contract, Subcontract
from portal.db import read_transaction, write_transaction
from portal.lib import exports
from portal.lib.errors import Conflict, InvalidInput, NotFound
from portal.lib.formatting import AMSTERDAM, format_date, format_datetime, today_nl
from portal.lib.pseudonym import refuse_bsn_in_text
from portal.lib.tables_base import utc_now
from portal.reports import rules
from portal.reports.rules import (
    COMPUTED_FIGURES,
    EVENT_FIGURES,
    IndicatorType,
    PeriodKind,
    ReportAction,
    ReportKind,
    ReportParty,
    ReportStatus,
    TemplateDefinition,
)
from portal.reports.tables import Report, ReportComment, ReportPeriod, ReportTemplate, ReportVersion
from portal.signals.tables import Signal

AUTHOR_ROLES = frozenset({Role.COORDINATOR, Role.SUBCONTRACTOR})
REVIEWER_ROLES = frozenset({Role.COORDINATOR, Role.CONTRACT_MANAGER})
CONSOLIDATION_ROLES = REVIEWER_ROLES
TEMPLATE_ROLES = frozenset({Role.CONTRACT_MANAGER})
# The main contractor consolidates after the subcontractors' deadline: the contract report is due later.
CONSOLIDATION_DAYS = 14
OVERVIEW_PERIODS = 8
NO_TEMPLATE = "Voor dit contract is nog geen rapportagesjabloon vastgesteld. De contractmanager stelt het vast."


class ReportInvalid(InvalidInput):
    """A submission that failed validation; ``errors`` lists every indicator's problem (the draft is saved)."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(errors[0]["message"], field=errors[0].get("field"))
        self.errors = errors


@dataclass(frozen=True)
class ReportInput:
    """A report form as typed: raw indicator text per key and narrative per section key."""

    values: dict[str, str] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)


def _loads(value) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    return json.loads(value)


def _dumps(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=AMSTERDAM).astimezone(UTC)


# --- facts -----------------------------------------------------------------------------------------


async def _contract(contract_id: int) -> tuple[ContractFacts, dict] | None:
    row = await Contract.select(Contract.id, Contract.name, Contract.municipality, Contract.main_contractor,
                                Contract.start_date, Contract.end_date,
                                Contract.municipality_reads_subcontractor_reports).where(
        Contract.id == contract_id).first()
    if row is None:
        return None
    subs = await Subcontract.select(Subcontract.subcontractor).where(Subcontract.contract == contract_id).distinct()
    facts = ContractFacts(row["id"], row["municipality"], row["main_contractor"],
                          frozenset(sub["subcontractor"] for sub in subs),
                          bool(row["municipality_reads_subcontractor_reports"]))
    return facts, row


REPORT_COLUMNS = (
    Report.id, Report.period, Report.contract, Report.template, Report.organisation, Report.kind, Report.status,
    Report.draft, Report.current_version, Report.returned_reason, Report.updated_at, Report.submitted_at,
    Report.accepted_at, Report.organisation.name.as_alias("organisation_name"),
    Report.contract.name.as_alias("contract_name"), Report.period.kind.as_alias("period_kind"),
    Report.period.starts_on.as_alias("starts_on"), Report.period.ends_on.as_alias("ends_on"),
    Report.period.deadline.as_alias("period_deadline"), Report.template.version.as_alias("template_version"),
    Report.template.definition.as_alias("definition"),
)


async def _report(report_id: int) -> tuple[ReportFacts, dict, ContractFacts] | None:
    row = await Report.select(*REPORT_COLUMNS).where(Report.id == report_id).first()
    if row is None:
        return None
    found = await _contract(row["contract"])
    assert found is not None
    contract = found[0]
    row["draft"] = _loads(row["draft"])
    row["definition"] = _loads(row["definition"])
    return ReportFacts(contract, row["organisation"], row["kind"]), row, contract


async def _readable_report(actor: Actor, report_id: int) -> tuple[ReportFacts, dict]:
    found = await _report(report_id)
    policy.authorize_report_read(actor, found[0] if found else None)
    assert found is not None
    return found[0], found[1]


def _parties(actor: Actor, facts: ReportFacts) -> list[ReportParty]:
    parties = []
    if policy.can_change_report(actor, facts):
        parties.append(ReportParty.AUTHOR)
    if policy.can_review_report(actor, facts):
        parties.append(ReportParty.REVIEWER)
    return parties


def _deadline(kind: str, period_deadline: date) -> date:
    return period_deadline + timedelta(days=CONSOLIDATION_DAYS) if kind == ReportKind.CONTRACT else period_deadline


def _status_label(code: str | None) -> str:
    try:
        return ReportStatus(code).label
    except ValueError:
        return code or ""


def _ball_label(kind: str, status: str, organisation_name: str) -> str:
    party = rules.BALL.get(ReportStatus(status))
    if party is None:
        return "niemand: de rapportage is geaccepteerd"
    if party is ReportParty.AUTHOR:
        return organisation_name
    return "de gemeente (contractmanager)" if kind == ReportKind.CONTRACT else "de hoofdaannemer (coördinator)"


# --- computed figures: what the portal already knows ------------------------------------------------


async def computed_figures(contract_id: int, starts_on: date, ends_on: date,
                           organisation_id: int | None = None) -> dict:
    """Per subcontractor for one period, from the case events (grouped SQL): allocation requests received,
    accepted, declined, care started and ended, the median waiting time (calendar days from the allocation
    request to the start of care, for starts in the period) and, when the contract has signals at all,
    the signals about the subcontractor raised in the period. ``{org_id: {figure: value}}``."""
    start, end = _day_start(starts_on), _day_start(ends_on + timedelta(days=1))
    clauses = [CaseEvent.contract == contract_id, CaseEvent.occurred_at >= start, CaseEvent.occurred_at < end,
               CaseEvent.subcontractor.is_not_null()]
    if organisation_id is not None:
        clauses.append(CaseEvent.subcontractor == organisation_id)
    counts = await CaseEvent.select(CaseEvent.subcontractor, CaseEvent.action, Count(alias="n")).where(
        *clauses, CaseEvent.action.is_in(list(EVENT_FIGURES))).group_by(CaseEvent.subcontractor, CaseEvent.action)
    figures: dict[int, dict] = {}

    def entry(org: int) -> dict:
        return figures.setdefault(org, {key: 0 for key, _ in COMPUTED_FIGURES if key not in
                                        ("median_wait_days", "signals")} | {"median_wait_days": None})

    for row in counts:
        entry(row["subcontractor"])[EVENT_FIGURES[row["action"]]] = row["n"]
    starts = await CaseEvent.select(CaseEvent.case, CaseEvent.subcontractor, CaseEvent.occurred_at).where(
        *clauses, CaseEvent.action == "start_care")
    waits: dict[int, list[float]] = {}
    case_ids = sorted({row["case"] for row in starts})
    requested: dict[tuple[int, int], list[datetime]] = {}
    for offset in range(0, len(case_ids), 500):
        chunk = case_ids[offset: offset + 500]
        for row in await CaseEvent.select(CaseEvent.case, CaseEvent.subcontractor, CaseEvent.occurred_at).where(
                CaseEvent.case.is_in(chunk), CaseEvent.action == "request_allocation", CaseEvent.occurred_at < end):
            requested.setdefault((row["case"], row["subcontractor"]), []).append(row["occurred_at"])
    for row in starts:
        asked = [moment for moment in requested.get((row["case"], row["subcontractor"]), [])
                 if moment <= row["occurred_at"]]
        if asked:
            days = (row["occurred_at"].astimezone(AMSTERDAM).date() - max(asked).astimezone(AMSTERDAM).date()).days
            waits.setdefault(row["subcontractor"], []).append(days)
    for org, values in waits.items():
        entry(org)["median_wait_days"] = rules.median(values)
    if await Signal.count().where(Signal.contract == contract_id) > 0:
        signal_clauses = [Signal.contract == contract_id, Signal.created_at >= start, Signal.created_at < end,
                          Signal.subcontractor.is_not_null()]
        if organisation_id is not None:
            signal_clauses.append(Signal.subcontractor == organisation_id)
        for org in figures.values():
            org["signals"] = 0
        for row in await Signal.select(Signal.subcontractor, Count(alias="n")).where(*signal_clauses).group_by(
                Signal.subcontractor):
            entry(row["subcontractor"])["signals"] = row["n"]
        if organisation_id is not None:
            entry(organisation_id).setdefault("signals", 0)
    return figures


def _empty_figures(with_signals: bool = False) -> dict:
    base = {key: 0 for key, _ in COMPUTED_FIGURES if key not in ("median_wait_days", "signals")}
    base["median_wait_days"] = None
    if with_signals:
        base["signals"] = 0
    return base


def _total_figures(per_org: dict) -> dict:
    total = _empty_figures(any("signals" in figures for figures in per_org.values()))
    for figures in per_org.values():
        for key, value in figures.items():
            if key != "median_wait_days" and value is not None:
                total[key] = total.get(key, 0) + value
    medians = [f["median_wait_days"] for f in per_org.values() if f.get("median_wait_days") is not None]
    total["median_wait_days"] = statistics.median(medians) if medians else None
    return total


def figure_rows(figures: dict | None) -> list[dict]:
    """Computed figures for display, labelled and in Dutch notation."""
    rows = []
    for key, label in COMPUTED_FIGURES:
        if figures is None or key not in figures:
            continue
        value = figures[key]
        if key == "median_wait_days":
            shown = ("geen starts in deze periode" if value is None
                     else f"{rules.format_dutch(value, 1, trim=True)} dagen")
        else:
            shown = rules.format_dutch(value or 0)
        rows.append({"key": key, "label": label, "value": value, "display": shown})
    return rows


# --- starting a report -----------------------------------------------------------------------------


async def _latest_template(contract_id: int) -> dict | None:
    return await ReportTemplate.select().where(ReportTemplate.contract == contract_id).order_by(
        ReportTemplate.version, ascending=False).first()


async def _period(period_id: int) -> dict | None:
    return await ReportPeriod.select().where(ReportPeriod.id == period_id).first()


async def start_report(actor: Actor, period_id: int) -> dict:
    """The actor's own report for a period, created on first use against the contract's latest template:
    a subcontractor's report, or (coordinator) the consolidated contract report."""
    policy.require_role(actor, AUTHOR_ROLES, "het schrijven van rapportages")
    async with write_transaction():
        period = await _period(period_id)
        found = await _contract(period["contract"]) if period else None
        if period is None or found is None or not policy.is_party_to(actor, found[0]):
            raise NotFound("Deze rapportageperiode bestaat niet, of u heeft er geen toegang toe.")
        contract = found[0]
        kind = ReportKind.CONTRACT if policy.is_coordinator_of(actor, contract) else ReportKind.SUBCONTRACTOR
        existing = await Report.select(Report.id).where(
            Report.period == period_id, Report.organisation == actor.organisation_id, Report.kind == kind.value).first()
        if existing:
            return {"id": existing["id"], "created": False}
        template = await _latest_template(contract.contract_id)
        if template is None:
            raise InvalidInput(NO_TEMPLATE)
        report = Report(period=period_id, contract=contract.contract_id, template=template["id"],
                        organisation=actor.organisation_id, kind=kind.value, status=ReportStatus.DRAFT.value,
                        draft=_dumps({"values": {}, "sections": {}}), current_version=0)
        await report.save()
        await audit.record(actor, "create", "report", report.id, contract_id=contract.contract_id,
                           new={"period": period_id, "kind": kind.value, "template_version": template["version"]})
    return {"id": report.id, "created": True}


# --- saving, submitting, reviewing -----------------------------------------------------------------


def _clean_input(definition: TemplateDefinition, data: ReportInput, kind: str) -> dict:
    """Only the template's own fields are kept, as typed; nothing else. A narrative beyond its limit is refused
    (the form keeps it), never cut off unseen."""
    for item in definition.sections:
        typed = (data.sections.get(item.key) or "").replace("\r\n", "\n")
        if len(typed) > rules.MAX_SECTION_CHARS:
            raise InvalidInput(f"De tekst bij '{item.title}' is te lang: hoogstens {rules.MAX_SECTION_CHARS:,} tekens "
                               f"(nu {len(typed):,}).".replace(",", "."), field=f"tekst-{item.key}")
    values = {} if kind == ReportKind.CONTRACT else {
        item.key: rules.clean_text(data.values.get(item.key), 60).strip() for item in definition.indicators
        if item.key in data.values}
    sections = {item.key: rules.clean_text(data.sections.get(item.key)) for item in definition.sections
                if item.key in data.sections}
    return {"values": values, "sections": sections}


async def _save_draft_in_transaction(actor: Actor, facts: ReportFacts, row: dict, data: ReportInput,
                                     how: str) -> dict:
    rules.decide(row["status"], ReportAction.SAVE, _parties(actor, facts))
    definition = rules.parse_definition(row["definition"])
    cleaned = _clean_input(definition, data, row["kind"])
    for key, text in cleaned["sections"].items():  # narratives are read by all three parties: no BSN in them
        refuse_bsn_in_text(text, f"tekst-{key}")
    old = row["draft"]
    draft = {"values": {**(old.get("values") or {}), **cleaned["values"]},
             "sections": {**(old.get("sections") or {}), **cleaned["sections"]}}
    changed = draft["values"] != (old.get("values") or {}) or draft["sections"] != (old.get("sections") or {})
    now = utc_now()
    if changed:
        updated = await Report.update({Report.draft: _dumps(draft), Report.updated_at: now}).where(
            Report.id == row["id"], Report.status == row["status"]).returning(Report.id)
        if not updated:
            raise Conflict("Deze rapportage is intussen ingediend of beoordeeld. Laad de pagina opnieuw; uw tekst "
                           "staat hieronder nog.")
        await audit.record(actor, "change", "report", row["id"], contract_id=facts.contract.contract_id,
                           new={"draft": how, "fields": sorted([*cleaned["values"], *cleaned["sections"]])})
    return {"changed": changed, "saved_at": now if changed else row["updated_at"], "draft": draft}


async def save_draft(actor: Actor, report_id: int, data: ReportInput, how: str = "opgeslagen") -> dict:
    """Store the draft exactly as typed. Only the author, only while the report is a draft or returned."""
    policy.require_role(actor, AUTHOR_ROLES, "het schrijven van rapportages")
    async with write_transaction():
        facts, row = await _readable_report(actor, report_id)
        result = await _save_draft_in_transaction(actor, facts, row, data, how)
    return result


async def _consolidation_data(contract: ContractFacts, period: dict, definition: TemplateDefinition) -> dict:
    """The period's subcontractor reports for the contract report: latest submitted contents, totals, who
    is missing (no report, or not submitted) and whose report was returned."""
    subs = await Subcontract.select(Subcontract.subcontractor, Subcontract.subcontractor.name.as_alias("name")).where(
        Subcontract.contract == contract.contract_id, Subcontract.start_date <= period["ends_on"],
        Subcontract.end_date >= period["starts_on"]).distinct()
    names = {row["subcontractor"]: row["name"] for row in subs}
    reports = await Report.select(Report.id, Report.organisation, Report.status, Report.current_version,
                                  Report.submitted_at, Report.organisation.name.as_alias("name")).where(
        Report.period == period["id"], Report.kind == ReportKind.SUBCONTRACTOR.value)
    for row in reports:
        names.setdefault(row["organisation"], row["name"])
    by_org = {row["organisation"]: row for row in reports}
    versions: dict[int, dict] = {}
    wanted = [(row["id"], row["current_version"]) for row in reports if row["current_version"]]
    if wanted:
        found = await ReportVersion.select(ReportVersion.report, ReportVersion.number, ReportVersion.content).where(
            ReportVersion.report.is_in([report_id for report_id, _ in wanted]))
        latest = dict(wanted)
        for version in found:
            if version["number"] == latest.get(version["report"]):
                versions[version["report"]] = _loads(version["content"])
    included, missing, returned, rows = [], [], [], []
    for org, name in sorted(names.items(), key=lambda item: item[1].casefold()):
        report = by_org.get(org)
        status = report["status"] if report else None
        if status in (ReportStatus.SUBMITTED.value, ReportStatus.ACCEPTED.value):
            included.append(name)
        elif status == ReportStatus.RETURNED.value:
            returned.append(name)
        else:
            missing.append(name)
        rows.append({"organisation": org, "name": name, "report_id": report["id"] if report else None,
                     "status": status, "status_label": _status_label(status) if status else "Niet gestart",
                     "submitted_at": report["submitted_at"] if report else None,
                     "version": report["current_version"] if report else 0})
    contents = [versions[by_org[org]["id"]] for org in names if org in by_org and by_org[org]["status"] in
                (ReportStatus.SUBMITTED.value, ReportStatus.ACCEPTED.value) and by_org[org]["id"] in versions]
    return {"rows": rows, "included": included, "missing": missing, "returned": returned,
            "totals": rules.consolidate(definition, contents)}


async def submit(actor: Actor, report_id: int, data: ReportInput) -> dict:
    """Save the draft (committed whatever happens next), validate it, and freeze it as a new version."""
    policy.require_role(actor, AUTHOR_ROLES, "het indienen van rapportages")
    async with write_transaction():
        facts, row = await _readable_report(actor, report_id)
        rules.decide(row["status"], ReportAction.SUBMIT, _parties(actor, facts))  # before saving: not your turn
        saved = await _save_draft_in_transaction(actor, facts, row, data, "opgeslagen bij indienen")
    async with write_transaction():
        facts, row = await _readable_report(actor, report_id)
        target = rules.decide(row["status"], ReportAction.SUBMIT, _parties(actor, facts))
        definition = rules.parse_definition(row["definition"])
        draft = saved["draft"]
        content: dict = {"template_version": row["template_version"], "sections": {
            item.key: rules.clean_text(draft["sections"].get(item.key)) for item in definition.sections}}
        period = await _period(row["period"])
        assert period is not None
        if row["kind"] == ReportKind.CONTRACT:
            consolidation = await _consolidation_data(facts.contract, period, definition)
            per_org = await computed_figures(facts.contract.contract_id, period["starts_on"], period["ends_on"])
            content |= {"totals": consolidation["totals"], "included": consolidation["included"],
                        "missing": consolidation["missing"], "returned": consolidation["returned"],
                        "computed": _total_figures(per_org)}
        else:
            values, errors = rules.validate_values(definition, draft["values"])
            if errors:
                raise ReportInvalid(errors)
            figures = await computed_figures(facts.contract.contract_id, period["starts_on"], period["ends_on"],
                                             row["organisation"])
            content |= {"indicators": values,
                        "computed": figures.get(row["organisation"], _empty_figures())}
        number = row["current_version"] + 1
        now = utc_now()
        updated = await Report.update({Report.status: target.value, Report.current_version: number,
                                       Report.submitted_at: now, Report.updated_at: now}).where(
            Report.id == report_id, Report.status == row["status"],
            Report.current_version == row["current_version"]).returning(Report.id)
        if not updated:
            raise Conflict("Deze rapportage is intussen al ingediend. Laad de pagina opnieuw.")
        await ReportVersion(report=report_id, number=number, content=_dumps(content), submitted_by=actor.user_id,
                            submitted_at=now).save()
        await audit.record(actor, "change", "report", report_id, contract_id=facts.contract.contract_id,
                           old={"status": row["status"]}, new={"status": target.value, "version": number})
    return {"id": report_id, "version": number, "status": target.value}


async def _review(actor: Actor, report_id: int, action: ReportAction, reason: str | None = None) -> dict:
    policy.require_role(actor, REVIEWER_ROLES, "het beoordelen van rapportages")
    async with write_transaction():
        facts, row = await _readable_report(actor, report_id)
        target = rules.decide(row["status"], action, _parties(actor, facts))
        now = utc_now()
        changes: dict = {Report.status: target.value, Report.updated_at: now}
        if action is ReportAction.RETURN:
            changes[Report.returned_reason] = rules.check_return_reason(reason)
            refuse_bsn_in_text(changes[Report.returned_reason], "reason")
        else:
            changes[Report.accepted_at] = now
        updated = await Report.update(changes).where(Report.id == report_id, Report.status == row["status"]).returning(
            Report.id)
        if not updated:
            raise Conflict("Deze rapportage is intussen gewijzigd. Laad de pagina opnieuw.")
        if action is ReportAction.RETURN:
            await ReportComment(report=report_id, section=None, author=actor.user_id,
                                organisation=actor.organisation_id,
                                body=f"Teruggestuurd: {changes[Report.returned_reason]}").save()
        await audit.record(actor, "change", "report", report_id, contract_id=facts.contract.contract_id,
                           old={"status": row["status"]}, new={"status": target.value, "reason": reason})
    return {"id": report_id, "status": target.value}


async def return_report(actor: Actor, report_id: int, reason: str | None) -> dict:
    return await _review(actor, report_id, ReportAction.RETURN, reason)


async def accept_report(actor: Actor, report_id: int) -> dict:
    return await _review(actor, report_id, ReportAction.ACCEPT)


async def add_comment(actor: Actor, report_id: int, section: str | None, body: str | None) -> dict:
    """All three parties comment on a report they may read: on the whole, or on one section."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "rapportages")
    async with write_transaction():
        facts, row = await _readable_report(actor, report_id)
        rules.refuse_too_long(body, rules.MAX_COMMENT_CHARS, "body")
        text = rules.clean_text(body, rules.MAX_COMMENT_CHARS).strip()
        if not text:
            raise InvalidInput("Schrijf eerst uw reactie.", field="body")
        refuse_bsn_in_text(text, "body")
        definition = rules.parse_definition(row["definition"])
        keys = {item.key for item in definition.sections}
        section = (section or "").strip() or None
        if section is not None and section not in keys:
            raise InvalidInput("Kies een onderdeel uit de lijst.", field="section")
        comment = ReportComment(report=report_id, section=section, author=actor.user_id,
                                organisation=actor.organisation_id, body=text)
        await comment.save()
        await audit.record(actor, "create", "report_comment", comment.id, contract_id=facts.contract.contract_id,
                           new={"report": report_id, "section": section})
    return {"id": comment.id}


# --- the report page -------------------------------------------------------------------------------


async def _versions(report_id: int) -> list[dict]:
    rows = await ReportVersion.select(
        ReportVersion.id, ReportVersion.number, ReportVersion.content, ReportVersion.submitted_at,
        ReportVersion.submitted_by.display_name.as_alias("by_name"),
    ).where(ReportVersion.report == report_id).order_by(ReportVersion.number)
    for row in rows:
        row["content"] = _loads(row["content"])
    return rows


def _indicator_rows(definition: TemplateDefinition, content: dict) -> list[dict]:
    values = content.get("indicators") or {}
    return [{"key": item.key, "name": item.name, "unit": item.unit_label,
             "display": rules.display_value(item, values.get(item.key)) or "-"} for item in definition.indicators]


def _section_rows(definition: TemplateDefinition, texts: dict, comments: list[dict]) -> list[dict]:
    return [{"key": item.key, "title": item.title, "text": texts.get(item.key) or "",
             "html": rules.render_narrative(texts.get(item.key)),
             "comments": [c for c in comments if c["section"] == item.key]} for item in definition.sections]


async def report_page(actor: Actor, report_id: int, diff_from: int | None = None, diff_to: int | None = None,
                      today: date | None = None) -> dict:
    """Everything the report page shows, as far as the actor may see it. The working draft is the author's
    own: the others see the latest submitted version."""
    today = today or today_nl()
    async with read_transaction():
        facts, row = await _readable_report(actor, report_id)
        versions = await _versions(report_id)
        comments = await ReportComment.select(
            ReportComment.id, ReportComment.section, ReportComment.body, ReportComment.created_at,
            ReportComment.author.display_name.as_alias("author_name"),
            ReportComment.organisation.name.as_alias("organisation_name"),
        ).where(ReportComment.report == report_id).order_by(ReportComment.created_at).order_by(ReportComment.id)
        period = await _period(row["period"])
        assert period is not None
        definition = rules.parse_definition(row["definition"])
        consolidation = None
        figures = None
        parties = _parties(actor, facts)
        editable = ReportParty.AUTHOR in parties and row["status"] in (ReportStatus.DRAFT, ReportStatus.RETURNED)
        if row["kind"] == ReportKind.CONTRACT and (editable or policy.is_coordinator_of(actor, facts.contract)):
            consolidation = await _consolidation_data(facts.contract, period, definition)
        if editable:
            per_org = await computed_figures(facts.contract.contract_id, period["starts_on"], period["ends_on"],
                                             None if row["kind"] == ReportKind.CONTRACT else row["organisation"])
            figures = _total_figures(per_org) if row["kind"] == ReportKind.CONTRACT else \
                per_org.get(row["organisation"], _empty_figures())
    latest = versions[-1]["content"] if versions else None
    draft = row["draft"]
    fields = []
    for item in definition.indicators:
        typed = (draft.get("values") or {}).get(item.key)
        if typed is None and latest:  # a returned report starts from what was submitted
            typed = rules.input_value(item, (latest.get("indicators") or {}).get(item.key))
        fields.append({"key": item.key, "name": item.name, "type": item.type.value, "type_label": item.type.label,
                       "unit": item.unit_label, "required": item.required, "range": rules.range_text(item),
                       "value": typed or "", "decimal": item.type is not IndicatorType.INTEGER})
    draft_sections = dict(draft.get("sections") or {})
    if latest:
        for key, text in (latest.get("sections") or {}).items():
            draft_sections.setdefault(key, text)
    diff = None
    numbers = [version["number"] for version in versions]
    if len(versions) >= 2:
        old_number = diff_from if diff_from in numbers else numbers[-2]
        new_number = diff_to if diff_to in numbers else numbers[-1]
        by_number = {version["number"]: version["content"] for version in versions}
        diff = {"from": old_number, "to": new_number,
                **rules.diff_versions(definition, by_number[old_number], by_number[new_number])}
    shown = latest or {}
    deadline = _deadline(row["kind"], row["period_deadline"])
    return {
        "report": {
            **{key: row[key] for key in ("id", "kind", "status", "current_version", "returned_reason", "updated_at",
                                         "submitted_at", "accepted_at", "organisation_name", "contract_name",
                                         "template_version", "contract", "organisation")},
            "status_label": _status_label(row["status"]), "deadline": deadline,
            "overdue": row["status"] == ReportStatus.DRAFT and today > deadline,
            "period_label": rules.period_label(row["period_kind"], row["starts_on"], row["ends_on"]),
            "period_id": row["period"], "starts_on": row["starts_on"], "ends_on": row["ends_on"],
            "ball": _ball_label(row["kind"], row["status"], row["organisation_name"]),
        },
        "editable": editable,
        "actions": [action.value for action in rules.allowed_report_actions(row["status"], parties)],
        "fields": fields,
        "sections": _section_rows(definition, draft_sections if editable else (shown.get("sections") or {}),
                                  comments),
        "indicators": _indicator_rows(definition, shown),
        "computed": figure_rows(figures if editable else shown.get("computed")),
        "consolidation": consolidation,
        "frozen": {"totals": shown.get("totals") or [], "missing": shown.get("missing") or [],
                   "returned": shown.get("returned") or [], "included": shown.get("included") or []},
        "general_comments": [c for c in comments if c["section"] is None],
        "versions": [{"number": v["number"], "submitted_at": v["submitted_at"], "by_name": v["by_name"]}
                     for v in versions],
        "diff": diff,
        "section_choices": [(item.key, item.title) for item in definition.sections],
        "can_comment": True,
    }


# --- the overview and the consolidation page --------------------------------------------------------


async def overview(actor: Actor, today: date | None = None) -> dict:
    """Leercyclus: per contract the latest periods, with the actor's reports (scoped in SQL) and deadlines.
    A subcontractor sees its own report per period; the coordinator and the contract manager see the
    contract report and how many subcontractor reports are in."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "rapportages")
    today = today or today_nl()
    async with read_transaction():
        contracts = await Contract.select(
            Contract.id, Contract.name, Contract.municipality_reads_subcontractor_reports.as_alias("underlying"),
        ).where(policy.contract_scope(actor)).order_by(Contract.name)
        ids = [row["id"] for row in contracts]
        periods = await ReportPeriod.select().where(ReportPeriod.contract.is_in(ids), ReportPeriod.starts_on <= today
                                                    ).order_by(ReportPeriod.starts_on, ascending=False) if ids else []
        period_ids = [row["id"] for row in periods]
        reports = await Report.select(
            Report.id, Report.period, Report.kind, Report.status, Report.organisation, Report.current_version,
            Report.submitted_at, Report.organisation.name.as_alias("organisation_name"),
        ).where(policy.report_scope(actor), Report.period.is_in(period_ids)) if period_ids else []
        sub_counts = {}
        if ids and actor.role in CONSOLIDATION_ROLES:
            for row in await Subcontract.select(Subcontract.contract, Subcontract.subcontractor).where(
                    Subcontract.contract.is_in(ids)).distinct():
                sub_counts[row["contract"]] = sub_counts.get(row["contract"], 0) + 1
        templates = {}
        for contract_id in ids:
            latest = await _latest_template(contract_id)
            templates[contract_id] = latest["version"] if latest else None
    result = []
    for contract in contracts:
        # as the contract says: without the underlying reports the municipality sees no per-report counts
        contract["underlying_hidden"] = actor.role is Role.CONTRACT_MANAGER and not contract.pop("underlying")
        own_periods = [p for p in periods if p["contract"] == contract["id"]][:OVERVIEW_PERIODS]
        rows = []
        for period in own_periods:
            mine = [r for r in reports if r["period"] == period["id"]]
            subs = [r for r in mine if r["kind"] == ReportKind.SUBCONTRACTOR]
            contract_report = next((r for r in mine if r["kind"] == ReportKind.CONTRACT), None)
            own = next((r for r in mine if r["organisation"] == actor.organisation_id), None)
            done = sum(1 for r in subs if r["status"] in (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED))
            kind = ReportKind.CONTRACT if actor.role is not Role.SUBCONTRACTOR else ReportKind.SUBCONTRACTOR
            deadline = _deadline(kind, period["deadline"])
            own_status = (own or contract_report or {}).get("status")
            rows.append({
                "id": period["id"], "label": rules.period_label(period["kind"], period["starts_on"], period["ends_on"]),
                "starts_on": period["starts_on"], "ends_on": period["ends_on"], "deadline": deadline,
                "ended": period["ends_on"] < today,
                "overdue": period["ends_on"] < today and today > deadline and own_status in (None, "draft", "returned"),
                "own": {**own, "status_label": _status_label(own["status"])} if own else None,
                "contract_report": {**contract_report, "status_label": _status_label(contract_report["status"])}
                if contract_report else None,
                "submitted": done, "returned": sum(1 for r in subs if r["status"] == ReportStatus.RETURNED),
                "expected": sub_counts.get(contract["id"], 0),
            })
        result.append({**contract, "periods": rows, "template_version": templates.get(contract["id"])})
    return {"contracts": result, "today": today, "role": actor.role.value,
            "can_write": actor.role in AUTHOR_ROLES, "can_manage_templates": actor.role in TEMPLATE_ROLES}


async def _visible_period(actor: Actor, period_id: int) -> tuple[dict, ContractFacts, dict]:
    period = await _period(period_id)
    found = await _contract(period["contract"]) if period else None
    if period is None or found is None or not policy.is_party_to(actor, found[0]):
        raise NotFound("Deze rapportageperiode bestaat niet, of u heeft er geen toegang toe.")
    return period, found[0], found[1]


async def period_page(actor: Actor, period_id: int, today: date | None = None) -> dict:
    """Consolidation: the period's subcontractor reports (status, submitted), totals over the submitted
    ones, the computed figures per subcontractor, who is missing or returned, and the contract report."""
    policy.require_role(actor, CONSOLIDATION_ROLES, "de consolidatie van rapportages")
    today = today or today_nl()
    async with read_transaction():
        period, contract, contract_row = await _visible_period(actor, period_id)
        if not policy.can_read_contract_aggregates(actor, contract):
            raise NotFound("Deze rapportageperiode bestaat niet, of u heeft er geen toegang toe.")
        template = await _latest_template(contract.contract_id)
        contract_report = await Report.select(Report.id, Report.status, Report.current_version, Report.template).where(
            Report.period == period_id, Report.kind == ReportKind.CONTRACT.value).first()
        template_id = contract_report["template"] if contract_report else (template["id"] if template else None)
        definition_row = await ReportTemplate.select(ReportTemplate.definition, ReportTemplate.version).where(
            ReportTemplate.id == template_id).first() if template_id else None
        definition = rules.parse_definition(_loads(definition_row["definition"])) if definition_row else \
            rules.TemplateDefinition((), ())
        underlying = policy.reads_underlying_reports(actor, contract)
        consolidation = await _consolidation_data(contract, period, definition) if underlying else \
            {"rows": [], "included": [], "missing": [], "returned": [], "totals": []}
        per_org = await computed_figures(contract.contract_id, period["starts_on"], period["ends_on"])
    for row in consolidation["rows"]:
        row["figures"] = per_org.get(row["organisation"], _empty_figures())
    return {
        "period": {**period, "label": rules.period_label(period["kind"], period["starts_on"], period["ends_on"]),
                   "contract_deadline": _deadline(ReportKind.CONTRACT, period["deadline"])},
        "contract": contract_row, "consolidation": consolidation,
        "computed": figure_rows(_total_figures(per_org)),
        "figure_labels": [label for key, label in COMPUTED_FIGURES if key != "signals"],
        "contract_report": {**contract_report, "status_label": _status_label(contract_report["status"])}
        if contract_report else None,
        "can_consolidate": policy.is_coordinator_of(actor, contract), "today": today,
        "underlying_hidden": not underlying,
    }


# --- JSON list ------------------------------------------------------------------------------------


async def list_reports(actor: Actor, period_id: int | None = None) -> dict:
    """The reports the actor may read (scoped in SQL), newest period first. No content: status and dates."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "rapportages")
    query = Report.select(
        Report.id, Report.kind, Report.status, Report.current_version, Report.contract,
        Report.contract.name.as_alias("contract_name"), Report.organisation,
        Report.organisation.name.as_alias("organisation_name"), Report.period,
        Report.period.starts_on.as_alias("starts_on"), Report.period.ends_on.as_alias("ends_on"),
        Report.period.deadline.as_alias("deadline"), Report.submitted_at, Report.accepted_at, Report.updated_at,
    ).where(policy.report_scope(actor))
    if period_id is not None:
        query = query.where(Report.period == period_id)
    rows = await query.order_by(Report.period.starts_on, ascending=False).order_by(Report.id).limit(1000)
    for row in rows:
        row["status_label"] = _status_label(row["status"])
        row["deadline"] = _deadline(row["kind"], row["deadline"])
    return {"reports": rows, "total": len(rows)}


# --- exports --------------------------------------------------------------------------------------


async def export_report_pdf(actor: Actor, report_id: int) -> tuple[str, bytes]:
    """A report as PDF (for council documents): the latest submitted version; for its author a report not
    yet submitted exports its draft, marked as such. Audited as an export."""
    page = await report_page(actor, report_id)
    report = page["report"]
    draft_export = not page["versions"]
    if draft_export and not page["editable"]:
        raise InvalidInput("Deze rapportage is nog niet ingediend; er is nog niets te exporteren.")
    doc = exports.PdfDocument(
        f"Rapportage {report['organisation_name']}",
        f"{report['contract_name']} - {report['period_label']} ({format_date(report['starts_on'])} t/m "
        f"{format_date(report['ends_on'])})",
        footer=f"Inzicht - geëxporteerd op {format_datetime(utc_now())}")
    doc.facts([
        ("Status", report["status_label"] + (" (concept, niet ingediend)" if draft_export else "")),
        ("Versie", str(report["current_version"]) if report["current_version"] else "-"),
        ("Ingediend", format_datetime(report["submitted_at"]) or "-"),
        ("Geaccepteerd", format_datetime(report["accepted_at"]) or "-"),
        ("Uiterste datum", format_date(report["deadline"])),
        ("Sjabloonversie", str(report["template_version"])),
    ])
    if draft_export:
        indicator_rows = [[f["name"], f["value"] or "-", f["unit"]] for f in page["fields"]]
    else:
        indicator_rows = [[row["name"], row["display"], row["unit"]] for row in page["indicators"]]
    if report["kind"] == ReportKind.CONTRACT:
        frozen = page["frozen"] if not draft_export else {
            key: page["consolidation"][key] for key in ("totals", "missing", "returned", "included")}
        doc.heading("Totalen over de rapportages van de onderaannemers")
        doc.table(["Indicator", "Waarde", "Berekening"],
                  [[t["name"], t["display"] or "-", f"{t['how']} van {t['reports']}"] for t in frozen["totals"]],
                  widths=(90, 45, 45), align_right=(1,))
        doc.paragraph("Meegeteld: " + (", ".join(frozen["included"]) or "geen"))
        doc.paragraph("Ontbreekt: " + (", ".join(frozen["missing"]) or "geen"))
        doc.paragraph("Teruggestuurd: " + (", ".join(frozen["returned"]) or "geen"))
    elif indicator_rows:
        doc.heading("Indicatoren")
        doc.table(["Indicator", "Waarde", "Eenheid"], indicator_rows, widths=(95, 45, 34), align_right=(1,))
    if page["computed"]:
        doc.heading("Berekend door Inzicht (uit de casussen)")
        doc.table(["Cijfer", "Waarde"], [[row["label"], row["display"]] for row in page["computed"]],
                  widths=(120, 54), align_right=(1,))
    for section in page["sections"]:
        doc.heading(section["title"])
        blocks = rules.narrative_blocks(section["text"])
        if not blocks:
            doc.paragraph("(niet ingevuld)", muted=True)
        for kind, lines in blocks:
            if kind == "list":
                doc.bullets(lines)
            else:
                doc.paragraph("\n".join(lines))
    content = doc.output()
    async with write_transaction():
        await audit.record(actor, "export", "report", report_id, contract_id=report["contract"],
                           new={"format": "pdf", "version": report["current_version"]})
    name = f"rapportage-{report_id}-v{report['current_version']}.pdf"
    return name, content


async def export_period(actor: Actor, period_id: int, fmt: str) -> tuple[str, bytes]:
    """The period's indicators of every subcontractor report the actor may read (scoped in SQL: a
    subcontractor gets only its own row), with the computed figures, as XLSX or CSV. Audited."""
    policy.require_role(actor, policy.CASE_READER_ROLES, "rapportages")
    if fmt not in ("xlsx", "csv"):
        raise NotFound("Dit exportformaat bestaat niet.")
    async with read_transaction():
        period, contract, contract_row = await _visible_period(actor, period_id)
        reports = await Report.select(
            Report.id, Report.organisation, Report.status, Report.current_version, Report.submitted_at,
            Report.organisation.name.as_alias("name"), Report.template.definition.as_alias("definition"),
        ).where(policy.report_scope(actor), Report.period == period_id,
                Report.kind == ReportKind.SUBCONTRACTOR.value).order_by(Report.organisation.name)
        versions = {}
        submitted = [row for row in reports if row["current_version"]]
        if submitted:
            for version in await ReportVersion.select(ReportVersion.report, ReportVersion.number,
                                                      ReportVersion.content).where(
                    ReportVersion.report.is_in([row["id"] for row in submitted])):
                versions[(version["report"], version["number"])] = _loads(version["content"])
        template = await _latest_template(contract.contract_id)
    definition = rules.parse_definition(_loads(template["definition"]) if template else {})
    for row in reports:  # indicators of every template version in play, in template order
        for item in rules.parse_definition(_loads(row["definition"])).indicators:
            if definition.indicator(item.key) is None:
                definition = TemplateDefinition((*definition.indicators, item), definition.sections)
    computed_keys = [(key, label) for key, label in COMPUTED_FIGURES]
    headers = ["Onderaannemer", "Status", "Versie", "Ingediend op"]
    headers += [f"{item.name} ({item.unit_label})" if item.unit_label else item.name for item in definition.indicators]
    headers += [f"{label} (berekend door Inzicht)" for _, label in computed_keys]
    rows = []
    money_columns = {4 + index for index, item in enumerate(definition.indicators) if item.type is IndicatorType.MONEY}
    for row in reports:
        content = versions.get((row["id"], row["current_version"]), {})
        values = content.get("indicators") or {}
        figures = content.get("computed") or {}
        line: list = [row["name"], _status_label(row["status"]), row["current_version"] or None,
                      row["submitted_at"].astimezone(AMSTERDAM).date() if row["submitted_at"] else None]
        for item in definition.indicators:
            value = values.get(item.key)
            if value is None or value == "":
                line.append(None)
            elif item.type is IndicatorType.MONEY:
                line.append(float(value) / 100)
            elif item.type is IndicatorType.INTEGER:
                line.append(int(value))
            else:
                line.append(float(value))
        line += [figures.get(key) for key, _ in computed_keys]
        rows.append(line)
    label = rules.period_label(period["kind"], period["starts_on"], period["ends_on"])
    if fmt == "csv":
        content_bytes = exports.to_csv(headers, rows)
    else:
        content_bytes = exports.to_xlsx([exports.Sheet(
            title="Indicatoren", headers=headers, rows=rows,
            number_formats={index: "#,##0.00" for index in money_columns})])
    async with write_transaction():
        await audit.record(actor, "export", "report_period", period_id, contract_id=contract.contract_id,
                           new={"format": fmt, "rows": len(rows)})
    # ASCII only: a header is Latin-1, and a name is typed by people (accents become their letter)
    plain = unicodedata.normalize("NFKD", f"{contract_row['name']}-{label}").encode("ascii", "ignore").decode()
    safe = "".join(ch if ch.isalnum() else "-" for ch in plain).strip("-").lower() or "periode"
    return f"indicatoren-{safe}.{fmt}", content_bytes


# --- the contract's terms: who reads the underlying reports ------------------------------------------

UNDERLYING_CHOICES = {"ja": True, "nee": False}


def parse_underlying_choice(value: str | None) -> bool:
    """The form's answer ("ja" or "nee") as a boolean; a clear Dutch error for anything else."""
    choice = UNDERLYING_CHOICES.get((value or "").strip().lower())
    if choice is None:
        raise InvalidInput("Kies of de gemeente volgens het contract ook de rapportages van de onderaannemers "
                           "leest (ja of nee).", field="underlying")
    return choice


async def set_underlying_access(actor: Actor, contract_id: int, reads: bool) -> dict:
    """The contract manager records, as the contract says, whether the municipality reads the underlying
    subcontractor reports or only the consolidated contract report. Audited as a change of the contract."""
    async with write_transaction():
        facts, contract = await _managed_contract(actor, contract_id)
        old = bool(contract["municipality_reads_subcontractor_reports"])
        if old != reads:
            await Contract.update({Contract.municipality_reads_subcontractor_reports: reads}).where(
                Contract.id == contract_id)
            await audit.record(actor, "change", "contract", contract_id, contract_id=contract_id,
                               old={"municipality_reads_subcontractor_reports": old},
                               new={"municipality_reads_subcontractor_reports": reads},
                               purpose="afspraak uit het contract over inzage in de rapportages")
    return {"contract": contract_id, "reads": reads, "changed": old != reads}


# --- templates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateInput:
    period_kind: str
    deadline_days: str
    indicators: list[dict]  # {"name", "unit", "type", "required", "min", "max"} as typed
    sections: list[str]  # titles


async def _managed_contract(actor: Actor, contract_id: int) -> tuple[ContractFacts, dict]:
    policy.require_role(actor, TEMPLATE_ROLES, "rapportagesjablonen")
    found = await _contract(contract_id)
    if found is None or not policy.is_contract_manager_of(actor, found[0]):
        raise NotFound(policy.NOT_FOUND_CONTRACT)
    return found


async def template_form(actor: Actor, contract_id: int) -> dict:
    async with read_transaction():
        facts, contract = await _managed_contract(actor, contract_id)
        versions = await ReportTemplate.select(
            ReportTemplate.id, ReportTemplate.version, ReportTemplate.period_kind, ReportTemplate.deadline_days,
            ReportTemplate.created_at, ReportTemplate.created_by.display_name.as_alias("by_name"),
        ).where(ReportTemplate.contract == contract_id).order_by(ReportTemplate.version, ascending=False)
        latest = await _latest_template(contract_id)
    definition = rules.parse_definition(_loads(latest["definition"])) if latest else TemplateDefinition((), ())
    indicators = []
    for item in definition.indicators:
        low, high = item.minimum, item.maximum
        if item.type is IndicatorType.MONEY:
            low = low / 100 if low is not None else None
            high = high / 100 if high is not None else None
        indicators.append({"name": item.name, "unit": item.unit or "", "type": item.type.value,
                           "required": item.required,
                           "min": "" if low is None else rules.format_dutch(low, 2, trim=True),
                           "max": "" if high is None else rules.format_dutch(high, 2, trim=True)})
    return {"contract": contract, "versions": versions,
            "reads_underlying": bool(contract["municipality_reads_subcontractor_reports"]),
            "current": {"period_kind": latest["period_kind"] if latest else PeriodKind.QUARTER.value,
                        "deadline_days": str(latest["deadline_days"]) if latest else "30",
                        "indicators": indicators, "sections": [s.title for s in definition.sections]}}


def _parse_template(data: TemplateInput) -> tuple[PeriodKind, int, TemplateDefinition, list[dict]]:
    errors: list[dict] = []
    try:
        kind = PeriodKind.parse(data.period_kind, field="period_kind")
    except InvalidInput as exc:
        errors.append({"field": "period_kind", "message": exc.message})
        kind = PeriodKind.QUARTER
    days_text = (data.deadline_days or "").strip()
    days = int(days_text) if days_text.isdigit() and len(days_text) <= 3 else -1
    if not 0 <= days <= 180:
        errors.append({"field": "deadline_days", "message": "De inleverdatum ligt 0 tot 180 dagen na het einde van "
                                                            "de periode; vul een aantal dagen in."})
    indicators = []
    for index, raw in enumerate(data.indicators, start=1):
        name = (raw.get("name") or "").strip()
        if not name:
            continue
        try:
            kind_of = IndicatorType.parse(raw.get("type") or "", field=f"indicator-{index}-type")
        except InvalidInput as exc:
            errors.append({"field": exc.field, "message": f"Indicator {index} ({name}): {exc.message}"})
            continue
        bounds = []
        for which in ("min", "max"):
            text = (raw.get(which) or "").strip()
            if not text:
                bounds.append(None)
                continue
            try:
                number = rules.parse_dutch_number(text)
            except ValueError:
                errors.append({"field": f"indicator-{index}-{which}",
                               "message": f"Indicator {index} ({name}): de {'onder' if which == 'min' else 'boven'}"
                                          f"grens '{text[:20]}' is geen getal."})
                bounds.append(None)
                continue
            bounds.append(number * 100 if kind_of is IndicatorType.MONEY else number)
        unit = (raw.get("unit") or "").strip()[:40] or None
        indicators.append(rules.Indicator(key=rules.slug(name), name=name[:200], type=kind_of, unit=unit,
                                          required=bool(raw.get("required")), minimum=bounds[0], maximum=bounds[1]))
    sections = [rules.Section(rules.slug(title), title.strip()[:200]) for title in data.sections if title.strip()]
    definition = TemplateDefinition(tuple(indicators), tuple(sections))
    errors += rules.check_definition(definition)
    return kind, days, definition, errors


async def save_template(actor: Actor, contract_id: int, data: TemplateInput, today: date | None = None) -> dict:
    """A new template version for the contract (reports already started keep theirs), and the periods of
    its kind from the contract's start up to the last ended one, where missing."""
    today = today or today_nl()
    kind, days, definition, errors = _parse_template(data)
    if errors:
        error = InvalidInput(errors[0]["message"], field=errors[0]["field"])
        error.errors = errors  # type: ignore[attr-defined]
        raise error
    async with write_transaction():
        facts, contract = await _managed_contract(actor, contract_id)
        latest = await _latest_template(contract_id)
        version = (latest["version"] if latest else 0) + 1
        template = ReportTemplate(contract=contract_id, version=version, period_kind=kind.value, deadline_days=days,
                                  definition=_dumps(definition.as_dict()), created_by=actor.user_id)
        await template.save()
        existing = {row["starts_on"] for row in await ReportPeriod.select(ReportPeriod.starts_on).where(
            ReportPeriod.contract == contract_id, ReportPeriod.kind == kind.value)}
        last_day = min(today, contract["end_date"])
        new_periods = [ReportPeriod(contract=contract_id, kind=kind.value, starts_on=start, ends_on=end,
                                    deadline=end + timedelta(days=days))
                       for start, end in rules.periods_between(kind, contract["start_date"], last_day)
                       if start not in existing]
        if new_periods:
            await ReportPeriod.insert(*new_periods)
        await audit.record(actor, "create", "report_template", template.id, contract_id=contract_id,
                           new={"version": version, "period_kind": kind.value, "deadline_days": days,
                                "indicators": len(definition.indicators), "sections": len(definition.sections)})
    return {"id": template.id, "version": version, "periods_added": len(new_periods)}

