"""Signals against the database: event-driven rules through the case service, the scan, its idempotency
under reruns, concurrency and failures, automatic closing, the lifecycle with per-object authorization,
confidential signals and digests."""

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from portal.cases import service as cases
from portal.cases.rules import NOWHERE, TransitionInput
from portal.cases.schemas import CaseCommand, NewCase
from portal.cases.tables import Case
from portal.contracts.tables import Contract, ContractYear
from portal.lib.calendar_nl import add_working_days, is_working_day
from portal.lib.errors import IllegalTransition, InvalidInput, NotFound, NotPermitted
from portal.lib.formatting import AMSTERDAM
from portal.reports.tables import Report, ReportPeriod, ReportTemplate
from portal.savings.tables import SavingsActual, SavingsTarget
from portal.signals import service
from portal.signals.tables import Digest, Signal, SignalComment
from tests import factories

VALID_BSN = "111222333"


actor_for = factories.actor_for


def at(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=AMSTERDAM).astimezone(UTC)


def working_days_ago(n: int) -> date:
    day = service.today_nl()
    while n > 0:
        day -= timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


@pytest.fixture
async def world(db):
    municipality = await factories.organisation("municipality", "Gemeente Testdam")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Test")
    sub_a = await factories.organisation("subcontractor", "Onderaannemer A")
    sub_b = await factories.organisation("subcontractor", "Onderaannemer B")
    contract = await factories.contract(municipality, main, case_prefix="TST", start_date=date(2025, 1, 1),
                                        rejection_review_sample_pct=100)
    await factories.subcontract(contract, sub_a, product_categories="02,07")
    await factories.subcontract(contract, sub_b, product_categories="02")
    people = {
        "coordinator": actor_for(await factories.user(main, "coordinator"), main, "coordinator"),
        "sub_a": actor_for(await factories.user(sub_a, "subcontractor"), sub_a, "subcontractor"),
        "sub_b": actor_for(await factories.user(sub_b, "subcontractor"), sub_b, "subcontractor"),
        "manager": actor_for(await factories.user(municipality, "contract_manager"), municipality,
                             "contract_manager"),
    }
    return {"contract": contract, "municipality": municipality, "main": main, "org_a": sub_a, "org_b": sub_b,
            **people}


def new_case(world, **overrides) -> NewCase:
    fields = {"contract_id": world["contract"].id, "bsn": VALID_BSN, "neighbourhood": "Centrum", "domain": "wmo",
              "product_category": "02"} | overrides
    return NewCase(**fields)


async def act(world, who, case, action, version, **payload):
    return await cases.act_on_case(world[who], case["id"], CaseCommand(action, version, TransitionInput(**payload)))


async def signals(**where) -> list[dict]:
    query = Signal.select().order_by(Signal.id)
    for name, value in where.items():
        query = query.where(getattr(Signal, name) == value)
    return await query


async def snapshot() -> list[tuple]:
    rows = await Signal.select(Signal.dedup_key, Signal.status, Signal.severity, Signal.escalation_level,
                               Signal.detail, Signal.owner_organisation).order_by(Signal.dedup_key)
    return [tuple(row.values()) for row in rows]


# --- event-driven rules, through the case service ----------------------------------------------------


async def test_a_rejection_without_beschikking_raises_two_signals_in_the_event_transaction(world):
    case = await cases.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    await act(world, "coordinator", case, "reject", 2, reason_code="L1", beschikking_issued=False,
              objection_info_given=True, referred_to=NOWHERE)
    rows = await signals(case=case["id"])
    assert sorted(row["rule"] for row in rows) == ["rejected_without_decision", "rejection_review"]
    by_rule = {row["rule"]: row for row in rows}
    assert by_rule["rejected_without_decision"]["owner_organisation"] == world["main"].id
    assert by_rule["rejected_without_decision"]["severity"] == "high"
    assert by_rule["rejection_review"]["owner_organisation"] == world["municipality"].id
    assert "zonder beschikking" in by_rule["rejected_without_decision"]["title"]


async def test_a_failing_case_event_leaves_no_signal_behind(world, monkeypatch):
    case = await cases.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)

    async def broken_audit(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(cases.audit, "record", broken_audit)
    with pytest.raises(RuntimeError):
        await act(world, "coordinator", case, "reject", 2, reason_code="L1", beschikking_issued=False,
                  objection_info_given=False, referred_to=NOWHERE)
    assert await Signal.count() == 0  # the signal rolled back with the event


async def test_a_rejection_outside_the_sample_and_with_a_beschikking_raises_nothing(world):
    await Contract.update({Contract.rejection_review_sample_pct: 0}).where(Contract.id == world["contract"].id)
    case = await cases.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    await act(world, "coordinator", case, "reject", 2, reason_code="L1", beschikking_issued=True,
              objection_info_given=True, referred_to=NOWHERE)
    assert await Signal.count() == 0


async def test_a_case_declined_twice_bounces_and_the_third_decline_raises_the_severity(world):
    case = await cases.register_case(world["coordinator"], new_case(world))
    case = await act(world, "coordinator", case, "start_assessment", 1)
    case = await act(world, "coordinator", case, "request_allocation", 2, subcontractor_id=world["org_a"].id)
    case = await act(world, "sub_a", case, "decline", 3, reason_code="L3")
    assert await Signal.count() == 0
    case = await act(world, "coordinator", case, "request_allocation", 4, subcontractor_id=world["org_b"].id)
    case = await act(world, "sub_b", case, "decline", 5, reason_code="L4")
    [bounced] = await signals(rule="bounced")
    assert (bounced["severity"], bounced["subcontractor"]) == ("medium", world["org_b"].id)
    case = await act(world, "coordinator", case, "request_allocation", 6, subcontractor_id=world["org_a"].id)
    await act(world, "sub_a", case, "decline", 7, reason_code="L3")
    [bounced] = await signals(rule="bounced")  # updated in place, never duplicated
    assert bounced["severity"] == "high" and "3 keer" in bounced["title"]


async def test_a_resident_who_returns_within_90_days_raises_re_report(world):
    first = await cases.register_case(world["coordinator"], new_case(world))
    first = await act(world, "coordinator", first, "start_assessment", 1)
    first = await act(world, "coordinator", first, "refer_collective", 2, referred_to="Buurthuis",
                      objection_info_given=True)
    await act(world, "coordinator", first, "close", 3)
    assert await Signal.count() == 0
    second = await cases.register_case(world["coordinator"], new_case(world))
    [signal] = await signals(rule="re_report")
    assert signal["case"] == second["id"] and signal["owner_organisation"] == world["main"].id
    other = await cases.register_case(world["coordinator"], new_case(world, bsn="123456782"))
    assert not await signals(case=other["id"])


async def test_closing_an_ended_case_without_end_reason_raises_closed_without_outcome(world):
    row = await factories.case(world["contract"], status="ended", subcontractor=world["org_a"].id,
                               status_since=at(service.today_nl()))
    await cases.act_on_case(world["coordinator"], row.id, CaseCommand("close", 1, TransitionInput()))
    [signal] = await signals(rule="closed_without_outcome")
    assert signal["case"] == row.id and signal["subcontractor"] == world["org_a"].id


# --- the scan ----------------------------------------------------------------------------------------


async def scan_world(world) -> dict:
    """One cause for every scan rule."""
    today = service.today_nl()
    contract = world["contract"]
    # waiting for an allocation nobody was asked for: the main contractor's ball, more than 3x the norm
    stalled = await factories.case(contract, status="allocation_requested", status_since=at(today - timedelta(days=25)),
                                   melding_date=today - timedelta(days=30))
    fresh = await factories.case(contract, status="registered", status_since=at(today), melding_date=today)
    late = await factories.case(contract, status="assessment", melding_date=today - timedelta(days=70),
                                status_since=at(today - timedelta(days=10)))
    await factories.event(late, "registered", action="register", occurred_at=at(today - timedelta(days=70)))
    await factories.event(late, "assessment", action="start_assessment", occurred_at=at(today - timedelta(days=10)))
    # a report period past its deadline: A submitted, B did not, nor did the main contractor
    template = ReportTemplate(contract=contract.id, version=1)
    await template.save()
    period = ReportPeriod(contract=contract.id, kind="quarter", starts_on=date(2026, 4, 1), ends_on=date(2026, 6, 30),
                          deadline=date(2026, 7, 30))
    await period.save()
    await Report(period=period.id, contract=contract.id, template=template.id, organisation=world["org_a"].id,
                 kind="subcontractor", status="submitted", submitted_at=at(date(2026, 7, 20))).save()
    # savings: the baseline is spent in full, the target is 10%
    year = today.year
    await ContractYear(contract=contract.id, year=year, baseline_cents=40_000_000).save()
    await SavingsTarget(contract=contract.id, year=year, amount_cents=4_000_000).save()
    await SavingsActual(contract=contract.id, period_start=date(year, 1, 1), period_end=date(year, 3, 31),
                        spend_cents=10_000_000, source="ledger").save()
    return {"stalled": stalled, "fresh": fresh, "late": late, "period": period}


async def outlier_world(world, *, declines_of_the_odd_one: int = 15) -> list:
    """Five subcontractors with 20 allocation requests each in the last months; one declines far more."""
    subs = []
    today = service.today_nl()
    for index in range(5):
        org = await factories.organisation("subcontractor", f"Aanbieder {index}")
        await factories.subcontract(world["contract"], org)
        case = await factories.case(world["contract"], status="in_care", subcontractor=org.id,
                                    status_since=at(today), melding_date=today - timedelta(days=60))
        declines = declines_of_the_odd_one if index == 0 else 2
        for n in range(20):
            await factories.event(case, "allocation_requested", org, action="request_allocation",
                                  occurred_at=at(today - timedelta(days=50 - n)))
            if n < declines:
                await factories.event(case, "allocation_requested", org, action="decline", reason_code="L3",
                                      occurred_at=at(today - timedelta(days=50 - n)))
        subs.append(org)
    return subs


async def test_the_scan_fires_every_time_driven_rule_on_prepared_data(world):
    prepared = await scan_world(world)
    odd, *others = await outlier_world(world)
    summary = await service.run_scan()
    by_rule = {rule: [row for row in await Signal.select() if row["rule"] == rule] for rule in service.rules.SCAN_RULES}

    [stalled] = by_rule["stalled"]
    assert stalled["case"] == prepared["stalled"].id and stalled["escalation_level"] == 3
    assert stalled["severity"] == "high" and stalled["owner_organisation"] == world["main"].id
    [legal] = by_rule["legal_term_exceeded"]
    assert legal["case"] == prepared["late"].id and legal["dedup_key"].endswith(":assessment")
    overdue = {row["owner_organisation"] for row in by_rule["report_overdue"]}
    assert overdue == {world["org_b"].id, world["main"].id, odd.id, *(org.id for org in others)}  # A submitted
    [outlier] = by_rule["outlier"]
    assert outlier["subcontractor"] == odd.id and "Weigeringspercentage" in outlier["title"]
    [savings] = by_rule["savings_behind"]
    assert savings["owner_organisation"] == world["main"].id
    assert summary.created == sum(len(rows) for rows in by_rule.values())
    assert summary.rules["stalled"].candidates == 1


async def test_a_scan_that_runs_twice_creates_nothing_new(world):
    await scan_world(world)
    await outlier_world(world)
    first = await service.run_scan()
    before = await snapshot()
    second = await service.run_scan()
    assert await snapshot() == before
    assert first.created == len(before) and second.created == 0
    assert all(rule.updated == 0 and rule.closed == 0 for rule in second.rules.values())


async def test_two_scans_at_once_create_no_duplicates(world):
    await scan_world(world)
    await outlier_world(world)
    await asyncio.gather(service.run_scan(), service.run_scan(), service.run_scan())
    together = await snapshot()
    assert len({row[0] for row in together}) == len(together) == 11
    await Signal.delete(force=True)
    await service.run_scan()
    assert await snapshot() == together


async def test_a_scan_that_dies_halfway_and_is_rerun_ends_in_the_same_state(world, monkeypatch):
    await scan_world(world)
    await outlier_world(world)
    real = service._scan_outliers

    async def dies(*args):
        await real(*args)
        raise ConnectionError("worker killed")

    monkeypatch.setattr(service, "_scan_outliers", dies)
    with pytest.raises(ConnectionError):
        await service.run_scan()
    assert not await signals(rule="outlier")  # the dying rule's transaction rolled back as a whole
    monkeypatch.setattr(service, "_scan_outliers", real)
    await service.run_scan()
    retried = await snapshot()
    await Signal.delete(force=True)
    await service.run_scan()
    assert await snapshot() == retried


async def test_a_stalled_signal_closes_itself_when_the_case_moves_on(world):
    prepared = await scan_world(world)
    await service.run_scan()
    [stalled] = await signals(rule="stalled")
    # a step raises the case's version, as the cases service does: that is how the scan sees the change
    await Case.update({Case.status: "assessment", Case.status_since: at(service.today_nl()),
                       Case.version: Case.version + 1}).where(Case.id == prepared["stalled"].id)
    summary = await service.run_scan()
    assert summary.rules["stalled"].closed == 1
    closed = await Signal.select().where(Signal.id == stalled["id"]).first()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed["resolution"] == "De casus is verder gegaan: status is nu 'In onderzoek'."
    assert (await signals(rule="legal_term_exceeded"))[0]["status"] == "open"  # other rules untouched


async def test_lateness_that_grows_updates_the_signal_and_a_resolved_one_stays_resolved(world):
    today = service.today_nl()
    since = working_days_ago(7)
    case = await factories.case(world["contract"], status="allocation_requested", subcontractor=world["org_a"].id,
                                status_since=at(since), melding_date=since)
    await service.run_scan(today)
    [signal] = await signals(case=case.id)
    assert (signal["escalation_level"], signal["severity"], signal["owner_organisation"]) == (1, "low",
                                                                                             world["org_a"].id)
    later = add_working_days(today, 5)  # 12 working days on a norm of 5: twice late
    await service.run_scan(later)
    [signal] = await signals(case=case.id)
    assert (signal["escalation_level"], signal["severity"]) == (2, "medium")
    await service.act_on_signal(world["manager"], signal["id"], "resolve", "Besproken in het overleg.")
    await service.run_scan(add_working_days(today, 15))
    [signal] = await signals(case=case.id)
    assert signal["status"] == "resolved" and signal["escalation_level"] == 2


async def test_stalled_cutoff_matches_the_working_day_count():
    from portal.lib.calendar_nl import working_days_between

    for today in (date(2026, 4, 28), date(2026, 12, 28), date(2027, 1, 4)):
        for norm in (1, 5, 30):
            cut = service.stalled_cutoff(today, norm)
            assert working_days_between(cut, today) > norm
            assert working_days_between(cut + timedelta(days=1), today) <= norm


# --- lifecycle and authorization ---------------------------------------------------------------------


async def stalled_signal_of(world, subcontractor_org) -> dict:
    since = working_days_ago(15)
    await factories.case(world["contract"], status="allocation_requested", subcontractor=subcontractor_org.id,
                         status_since=at(since), melding_date=since)
    await service.run_scan()
    [signal] = await signals(subcontractor=subcontractor_org.id, rule="stalled")
    return signal


async def test_owner_acknowledges_and_municipality_resolves_with_the_thread_and_audit(world):
    signal = await stalled_signal_of(world, world["org_a"])
    detail = await service.get_signal(world["sub_a"], signal["id"])
    assert [action["code"] for action in detail["actions"]] == ["acknowledge", "escalate"]
    assert detail["signal"]["ball"] == "subcontractor"
    await service.act_on_signal(world["sub_a"], signal["id"], "acknowledge", "Inwoner was onbereikbaar.")
    detail = await service.get_signal(world["manager"], signal["id"])
    assert detail["signal"]["status"] == "acknowledged" and detail["signal"]["ball"] == "municipality"
    assert [action["code"] for action in detail["actions"]] == ["resolve", "escalate"]
    with pytest.raises(NotPermitted):
        await service.act_on_signal(world["coordinator"], signal["id"], "resolve", "Klaar.")
    with pytest.raises(InvalidInput):
        await service.act_on_signal(world["manager"], signal["id"], "resolve", "  ")
    await service.act_on_signal(world["manager"], signal["id"], "resolve", "Afgesproken: binnen een week contact.")
    with pytest.raises(IllegalTransition):
        await service.act_on_signal(world["sub_a"], signal["id"], "acknowledge", "Nog iets.")
    await service.comment_on_signal(world["coordinator"], signal["id"], "Wij volgen dit.")
    thread = await SignalComment.select(SignalComment.action, SignalComment.body).where(
        SignalComment.signal == signal["id"]).order_by(SignalComment.id)
    assert [row["action"] for row in thread] == ["acknowledge", "resolve", None]
    row = await Signal.select().where(Signal.id == signal["id"]).first()
    assert row["status"] == "resolved" and row["resolution"] == "Afgesproken: binnen een week contact."
    await service.act_on_signal(world["manager"], signal["id"], "reopen", "Toch weer mis.")
    row = await Signal.select().where(Signal.id == signal["id"]).first()
    assert row["status"] == "open" and row["resolution"] is None and row["response_due"] > service.today_nl()


async def test_a_subcontractor_never_sees_another_subcontractors_signals(world):
    signal = await stalled_signal_of(world, world["org_a"])
    with pytest.raises(NotFound):
        await service.get_signal(world["sub_b"], signal["id"])
    with pytest.raises(NotFound):
        await service.act_on_signal(world["sub_b"], signal["id"], "acknowledge", "Niet van ons.")
    with pytest.raises(NotFound):
        await service.comment_on_signal(world["sub_b"], signal["id"], "Kijken.")
    assert (await service.list_signals(world["sub_b"], service.SignalFilter()))["total"] == 0
    assert [row["id"] for row in (await service.list_signals(world["sub_a"], service.SignalFilter()))["signals"]] == [
        signal["id"]]
    stranger_org = await factories.organisation("main_contractor")
    stranger = actor_for(await factories.user(stranger_org, "coordinator"), stranger_org, "coordinator")
    assert (await service.list_signals(stranger, service.SignalFilter()))["total"] == 0
    admin_org = await factories.organisation("platform")
    admin = actor_for(await factories.user(admin_org, "admin"), admin_org, "admin")
    with pytest.raises(NotPermitted):
        await service.list_signals(admin, service.SignalFilter())


async def test_a_confidential_signal_hides_its_content_from_the_coordinator(world):
    case = await factories.case(world["contract"], status="in_care", subcontractor=world["org_a"].id)
    raised = await service.raise_signal(world["sub_a"], service.RaiseInput(
        contract_id=world["contract"].id, title="Druk van de hoofdaannemer", detail="Wij moeten weigeren.",
        case_number=case.case_number, confidential=True))
    row = await Signal.select().where(Signal.id == raised["id"]).first()
    assert (row["rule"], row["owner_organisation"], row["case"]) == ("raised", world["municipality"].id, case.id)
    await service.comment_on_signal(world["manager"], raised["id"], "Dank, wij nemen contact op.")

    listed = await service.list_signals(world["coordinator"], service.SignalFilter())
    [seen] = listed["signals"]
    assert seen["id"] == raised["id"] and seen["title"] == service.HIDDEN_TITLE and seen["case_number"] is None
    detail = await service.get_signal(world["coordinator"], raised["id"])
    assert "Wij moeten weigeren" not in str(detail) and "Druk van" not in str(detail)
    assert detail["comments"] == [] and detail["actions"] == []
    with pytest.raises(NotPermitted):
        await service.comment_on_signal(world["coordinator"], raised["id"], "Wat staat erin?")
    with pytest.raises(NotPermitted):
        await service.act_on_signal(world["coordinator"], raised["id"], "escalate", "Wat staat erin?")
    for who in ("manager", "sub_a"):
        detail = await service.get_signal(world[who], raised["id"])
        assert detail["signal"]["title"] == "Druk van de hoofdaannemer" and len(detail["comments"]) == 1
    with pytest.raises(NotFound):
        await service.get_signal(world["sub_b"], raised["id"])


async def test_raising_checks_contract_case_and_confidentiality(world):
    other_contract = await factories.contract()
    with pytest.raises(NotFound):
        await service.raise_signal(world["sub_a"], service.RaiseInput(other_contract.id, "Titel", "Tekst"))
    case_b = await factories.case(world["contract"], status="in_care", subcontractor=world["org_b"].id)
    with pytest.raises(InvalidInput) as raised:
        await service.raise_signal(world["sub_a"], service.RaiseInput(world["contract"].id, "Titel", "Tekst",
                                                                      case_number=case_b.case_number))
    assert raised.value.field == "case_number"
    with pytest.raises(InvalidInput):
        await service.raise_signal(world["coordinator"], service.RaiseInput(world["contract"].id, "T", "D",
                                                                            confidential=True))
    with pytest.raises(NotPermitted):
        await service.raise_signal(world["manager"], service.RaiseInput(world["contract"].id, "T", "D"))
    with pytest.raises(InvalidInput):
        await service.raise_signal(world["sub_a"], service.RaiseInput(world["contract"].id, " ", "D"))
    assert await Signal.count() == 0


async def test_inbox_filters_and_counts_are_scoped_and_grouped(world):
    await scan_world(world)
    await service.run_scan()
    result = await service.list_signals(world["manager"], service.SignalFilter())
    counts = {row["rule"]: row["count"] for row in result["counts_by_rule"]}
    assert counts["stalled"] == 1 and counts["report_overdue"] == 2 and result["total"] == 5
    only = await service.list_signals(world["manager"], service.SignalFilter(rule="report_overdue"))
    assert {row["rule"] for row in only["signals"]} == {"report_overdue"} and only["total"] == 2
    high = await service.list_signals(world["manager"], service.SignalFilter(severity="high"))
    assert {row["severity"] for row in high["signals"]} == {"high"}
    with pytest.raises(InvalidInput):
        await service.list_signals(world["manager"], service.SignalFilter(rule="onzin"))


async def test_digests_list_what_is_overdue_in_each_court_once_per_day(world):
    signal = await stalled_signal_of(world, world["org_a"])
    later = add_working_days(service.today_nl(), 10)
    summary = await service.send_digests(later)
    assert summary.people == 1 and summary.overdue == 1
    [digest] = await Digest.select()
    assert digest["user"] == world["sub_a"].user_id and f"/signalen/{signal['id']}" in digest["body"]
    await service.send_digests(later)
    assert await Digest.count() == 1
    await service.act_on_signal(world["sub_a"], signal["id"], "acknowledge", "Wij bellen morgen.")
    summary = await service.send_digests(add_working_days(later, 20))
    # acknowledged: now the municipality's court
    digests = await Digest.select().where(Digest.day == add_working_days(later, 20))
    assert [row["user"] for row in digests] == [world["manager"].user_id] and summary.people == 1
    inbox = await service.list_signals(world["manager"], service.SignalFilter())
    assert inbox["digest"]["overdue_count"] == 1


async def test_the_savings_signal_agrees_with_the_savings_page(db):
    """The Haarlem demo is on track: no savings_behind. A large overspend makes both say 'behind'."""
    from datetime import date as _date

    from portal.demo.generator import load_demo
    from portal.savings import service as savings_service

    today = _date(2026, 11, 25)
    await load_demo("haarlem", cases=50, seed=1, today=today)
    await service.run_scan(today)
    positions = await savings_service.contract_positions(today)
    assert [p["verdict"] for p in positions] == ["op_koers"]
    assert await Signal.count().where(Signal.rule == "savings_behind") == 0

    latest = await SavingsActual.select().order_by(SavingsActual.period_start, ascending=False).first()
    await SavingsActual(contract=latest["contract"], period_start=latest["period_start"],
                        period_end=latest["period_end"], spend_cents=latest["spend_cents"] + 150_000_000,
                        source="ledger", note="Overschrijding").save()
    await service.run_scan(today)
    positions = await savings_service.contract_positions(today)
    assert [p["verdict"] for p in positions] == ["achter"]
    assert await Signal.count().where(Signal.rule == "savings_behind") == 1


async def test_notes_between_the_steps_change_no_legal_clock(world):
    """The scan reads only status steps: a pile of progress notes neither hides nor invents a breach."""
    prepared = await scan_world(world)
    today = service.today_nl()
    for days_ago in range(9, 0, -1):  # notes while the case sits in assessment
        await factories.event(prepared["late"], "assessment", action="progress_note", from_status="assessment",
                              occurred_at=at(today - timedelta(days=days_ago)), note="Huisbezoek gepland")
    await service.run_scan()
    [legal] = await signals(rule="legal_term_exceeded")
    assert legal["case"] == prepared["late"].id and legal["dedup_key"].endswith(":assessment")


async def test_a_legal_term_signal_closes_when_its_clock_turns_out_met_but_not_once_the_case_is_out_of_view(world):
    """The rule looks at cases that can still exceed a term, or were decided in the last 90 days: a signal
    of a case it looked at closes when its cause has gone; the signal of a case decided long ago stays."""
    today = service.today_nl()
    contract = world["contract"]
    cases_ = []
    for _ in range(2):
        case = await factories.case(contract, status="assessment", melding_date=today - timedelta(days=70),
                                    status_since=at(today - timedelta(days=10)))
        await factories.event(case, "registered", action="register", occurred_at=at(today - timedelta(days=70)))
        cases_.append(case)
    met, out_of_view = cases_
    first = await service.run_scan()
    assert {row["case"] for row in await signals(rule="legal_term_exceeded")} == {met.id, out_of_view.id}
    assert first.rules["legal_term_exceeded"].created == 2
    # the assessment turns out to have been decided in time; the other case was decided and closed long ago
    await factories.event(met, "rejected", action="reject", occurred_at=at(today - timedelta(days=60)))
    await Case.update({Case.version: Case.version + 1}).where(Case.id == met.id)  # as every recorded step does
    await Case.update({Case.status: "closed", Case.decision_date: today - timedelta(days=200),
                       Case.version: Case.version + 1}).where(Case.id == out_of_view.id)
    second = await service.run_scan()
    assert second.rules["legal_term_exceeded"].closed == 1
    by_case = {row["case"]: row for row in await signals(rule="legal_term_exceeded")}
    assert by_case[met.id]["status"] == "closed"
    assert by_case[out_of_view.id]["status"] == "open"
