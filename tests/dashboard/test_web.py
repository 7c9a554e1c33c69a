"""The dashboard pages per role against a small prepared world with exact figures; the statement bound;
a subcontractor never sees another subcontractor's name."""

import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from itertools import count

import pytest

from portal.lib.formatting import AMSTERDAM, today_nl
from portal.reports.tables import Report, ReportPeriod, ReportTemplate
from portal.signals.tables import Signal
from tests import factories

HTML = {"accept": "text/html"}
_addresses = (f"198.51.100.{n}" for n in count(120))
PEERS = ("Dagbesteding Beta", "Begeleiding Gamma", "Huishoudhulp Delta", "Klein Epsilon")


def _at(day: date) -> datetime:
    """Noon (Amsterdam) of ``day``: the dashboard counts Amsterdam days and quarters, so the world is built
    around the Amsterdam today (also between 22:00/23:00 and 00:00 UTC, when UTC is still on yesterday)."""
    return datetime.combine(day, time(12), tzinfo=AMSTERDAM).astimezone(UTC)


async def _events(case, sub, action: str, n: int, **fields) -> None:
    for _ in range(n):
        await factories.event(case, "allocation_requested", sub, action=action, **fields)


async def _world() -> dict:
    today = today_nl()
    now, d0 = _at(today), today - timedelta(days=120)
    municipality = await factories.organisation("municipality", "Gemeente Dash")
    main = await factories.organisation("main_contractor", "Hoofdaannemer Dash")
    contract = await factories.contract(municipality, main, name="Dash Contract", start_date=date(2020, 1, 1))
    alfa = await factories.organisation("subcontractor", "Thuiszorg Alfa")
    peers = [await factories.organisation("subcontractor", name) for name in PEERS]
    for sub in (alfa, *peers):
        await factories.subcontract(contract, sub)
    beta, gamma, delta, epsilon = peers
    # one closed case per subcontractor carrying its bulk of allocation requests and declines (Noord)
    for sub, requests, declines in ((alfa, 18, 5), (beta, 19, 1), (gamma, 20, 2), (delta, 20, 3), (epsilon, 5, 1)):
        bulk = await factories.case(contract, "closed", subcontractor=sub.id, neighbourhood="Noord")
        await _events(bulk, sub, "request_allocation", requests)
        await _events(bulk, sub, "decline", declines)
    await _events(bulk, alfa, "reject", 5, occurred_at=now)  # 5 rejections by Alfa, this quarter
    # three started cases: melding -> start 20, 40 and 70 days; request -> start 10, 10 and 20 days
    for sub, hood, request_day, start_day in ((alfa, "Noord", 10, 20), (alfa, "Zuid", 30, 40), (beta, "Zuid", 50, 70)):
        started = await factories.case(contract, "in_care", subcontractor=sub.id, neighbourhood=hood, melding_date=d0,
                                       status_since=now)
        await factories.event(started, "allocation_requested", sub, action="request_allocation",
                              occurred_at=_at(d0 + timedelta(days=request_day)))
        await factories.event(started, "in_care", sub, action="start_care",
                              occurred_at=_at(d0 + timedelta(days=start_day)))
    await factories.case(contract, "assessment", neighbourhood="Zuid", status_since=now - timedelta(days=60))
    await factories.case(contract, "allocation_requested", neighbourhood="Zuid", status_since=now)
    # signals: two open ones about Alfa (1x and 3x late), one resolved (not counted)
    for key, severity, level, status in (("a", "low", 1, "open"), ("b", "high", 3, "escalated"),
                                         ("c", "low", 0, "resolved")):
        await Signal(contract=contract.id, rule="stalled", severity=severity, dedup_key=f"dash:{key}",
                     subcontractor=alfa.id, owner_organisation=alfa.id, title=f"Dash {key}", status=status,
                     escalation_level=level).save()
    # two due report periods: Alfa handed in one of them (accepted), the other is a draft
    template = ReportTemplate(contract=contract.id, version=1)
    await template.save()
    periods = []
    for start, end, deadline in ((400, 310, 280), (300, 210, 180)):
        period = ReportPeriod(contract=contract.id, kind="quarter", starts_on=today - timedelta(days=start),
                              ends_on=today - timedelta(days=end), deadline=today - timedelta(days=deadline))
        await period.save()
        periods.append(period)
    for period, status in zip(periods, ("accepted", "draft"), strict=True):
        await Report(period=period.id, contract=contract.id, template=template.id, organisation=alfa.id,
                     kind="subcontractor", status=status).save()
    other_municipality = await factories.organisation("municipality", "Gemeente Elders")
    await factories.contract(other_municipality, name="Elders Contract")
    return {
        "contract": contract, "alfa": alfa,
        "manager": await factories.user(municipality, "contract_manager"),
        "coordinator": await factories.user(main, "coordinator"),
        "alfa_user": await factories.user(alfa, "subcontractor"),
        "stranger": await factories.user(other_municipality, "contract_manager"),
        "admin": await factories.user(await factories.organisation("platform", "Platform Dash"), "admin"),
    }


def _table(html: str, table_id: str) -> list[list[str]]:
    match = re.search(rf'<table id="{table_id}".*?</table>', html, re.S)
    assert match, f"no table {table_id}"
    rows = re.findall(r"<tr>(.*?)</tr>", match.group(0), re.S)
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def _row(rows: list[list[str]], first: str) -> list[str]:
    return next(row for row in rows if row and row[0] == first)


async def test_the_contract_manager_sees_the_exact_figures(app):
    w = await _world()
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        response = await http.get(f"/dashboard/{w['contract'].id}", headers=HTML)
        # with one contract /dashboard opens it straight away
        index = await http.get("/dashboard", headers=HTML)
    assert response.status_code == 200 and index.status_code == 200
    assert "Dashboard: Dash Contract" in index.text and "Elders Contract" not in response.text
    html = response.text
    cid = w["contract"].id  # every click-through keeps to this contract
    assert f'href="/casussen?contract={cid}&amp;status=in_care">3</a>' in html
    assert f'href="/casussen?contract={cid}&amp;status=closed">5</a>' in html
    assert f'href="/casussen?contract={cid}&amp;status=assessment">1</a>' in html
    flow = re.search(r'<dl class="figures" id="doorlooptijd">.*?</dl>', html, re.S).group(0)
    assert "40 dagen" in flow and "70 dagen" in flow
    assert "Over 3 gestarte leveringen" in html and "1 daarvan duurden langer" in html

    subs = _table(html, "onderaannemers")
    alfa = _row(subs, "Thuiszorg Alfa")
    assert alfa[1] == "20" and alfa[2].startswith("25,0%") and "afwijkend hoog" in alfa[2]
    assert alfa[3].startswith("20,0%") and alfa[4] == "10,0" and alfa[5] == "2" and alfa[6] == "50% (1 van 2)"
    assert alfa[7] == "2"
    beta = _row(subs, "Dagbesteding Beta")
    assert beta[1] == "20" and beta[2] == "5,0%" and beta[4] == "20,0" and beta[6] == "0% (0 van 2)"
    assert "afwijkend" not in " ".join(beta)
    epsilon = _row(subs, "Klein Epsilon")
    assert epsilon[1] == "5" and epsilon[2] == "te weinig" and epsilon[3] == "te weinig"

    signals = _row(_table(html, "signalen"), "Blijft liggen")
    assert signals[1:] == ["2", "1", "0", "1", "1", "1"]
    assert f'href="/signalen?contract={cid}&amp;regel=stalled">2</a>' in html
    assert f'href="/signalen?contract={cid}&amp;regel=stalled&amp;ernst=high">1</a>' in html

    ball = _table(html, "bal")
    assert _row(ball, "Hoofdaannemer")[1:] == ["1", "0", "1", "2"]
    assert _row(ball, "Thuiszorg Alfa")[1:] == ["2", "0", "0", "2"]
    assert _row(ball, "Dagbesteding Beta")[1:] == ["1", "0", "0", "1"]

    trend = _table(html, "trend")
    assert len(trend) == 9 and trend[-1][2] == "5" and all(row[2] == "0" for row in trend[1:-1])

    hoods = _table(html, "wijken")
    assert _row(hoods, "Noord")[1:] == ["6", "6"]
    assert _row(hoods, "Zuid")[1:] == ["< 5", "< 5"]
    assert html.count(f'href="/casussen?contract={cid}&amp;wijk=Noord">6</a>') == 2  # a suppressed figure: no link
    assert "wijk=Zuid" not in html
    assert "Nog geen oordeel" in html


async def test_the_coordinator_sees_the_same_figures(app):
    w = await _world()
    async with factories.logged_in(app, w["coordinator"], address=next(_addresses)) as http:
        response = await http.get(f"/dashboard/{w['contract'].id}", headers=HTML)
    assert response.status_code == 200
    assert _row(_table(response.text, "onderaannemers"), "Thuiszorg Alfa")[1] == "20"


async def test_the_subcontractor_sees_itself_next_to_the_anonymous_peer_average(app):
    w = await _world()
    async with factories.logged_in(app, w["alfa_user"], address=next(_addresses)) as http:
        index = await http.get("/dashboard", headers=HTML)
        page = await http.get(f"/dashboard/{w['contract'].id}", headers=HTML)
    for response in (index, page):
        assert response.status_code == 200
        html = response.text
        for name in PEERS:
            assert name not in html
        rows = _table(html, "vergelijking")
        assert _row(rows, "Weigerpercentage")[1:] == ["25,0%", "10,0%"]  # peers 5, 10 and 15%; Epsilon too small
        assert _row(rows, "Toewijzingsverzoeken")[1:] == ["20", "20,0"]
        assert _row(rows, "Wachttijd verzoek tot start (dagen)")[1:] == ["10,0", "te weinig gegevens"]
        assert _row(rows, "Open signalen")[1] == "2"


@pytest.mark.parametrize("who, status", [("stranger", 404), ("admin", 403)])
async def test_others_get_no_dashboard(app, who, status):
    w = await _world()
    async with factories.logged_in(app, w[who], address=next(_addresses)) as http:
        response = await http.get(f"/dashboard/{w['contract'].id}", headers=HTML)
    assert response.status_code == status


async def test_the_page_takes_a_handful_of_statements(app, monkeypatch):
    from portal.db import engine

    w = await _world()
    statements: list[str] = []
    database = type(engine())  # the engine class: its instances are slotted
    original = database.run_querystring

    async def counting(self, querystring, *args, **kwargs):
        statements.append(str(querystring))
        return await original(self, querystring, *args, **kwargs)

    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        monkeypatch.setattr(database, "run_querystring", counting)
        response = await http.get(f"/dashboard/{w['contract'].id}", headers=HTML)
        monkeypatch.setattr(database, "run_querystring", original)
        assert response.status_code == 200
        page_statements = len(statements)
        # more rows do not mean more statements
        for _ in range(5):
            extra = await factories.case(w["contract"], "registered", neighbourhood="Oost")
            await factories.event(extra, "allocation_requested", w["alfa"], action="request_allocation")
        statements.clear()
        monkeypatch.setattr(database, "run_querystring", counting)
        again = await http.get(f"/dashboard/{w['contract'].id}", headers=HTML)
        monkeypatch.setattr(database, "run_querystring", original)
    assert again.status_code == 200
    # 3 for the session and the user, 11 for the figures (15 once the contract has savings figures)
    assert page_statements <= 20, statements
    assert len(statements) == page_statements


async def test_the_dashboard_shows_the_re_assessment_figures_of_the_rights_page(app):
    """Talks held, how many stopped and how many re-assessments are overdue: the same numbers as the Rechten
    page computes (one rule, portal.rights), linking through to it."""
    w = await _world()
    ended = await factories.case(w["contract"], "ended", subcontractor=w["alfa"].id, provision_type="individual")
    for action, to_status in (("reassessment", "in_care"), ("end_care", "ended")):
        await factories.event(ended, to_status, w["alfa"], action=action, from_status="in_care",
                              outcome="gestopt" if action == "reassessment" else None)
    for days_late in (3, 40):
        await factories.case(w["contract"], "in_care", subcontractor=w["alfa"].id, provision_type="individual",
                             reassessment_due=today_nl() - timedelta(days=days_late))
    async with factories.logged_in(app, w["manager"], address=next(_addresses)) as http:
        html = (await http.get(f"/dashboard/{w['contract'].id}", headers=HTML)).text
    block = unescape(re.sub(r"<[^>]+>", " ", re.search(r'<dl class="figures" id="herindicatie">.*?</dl>', html,
                                                          re.S).group(0)))
    assert " ".join(block.split()) == ("Gesprekken gevoerd 1 Daarna gestopt 1 (100,0%) Herindicatie te laat 2 "
                                       "Binnen 30 dagen 0")
    assert f'href="/rechten/{w["contract"].id}#h-herindicatie-te-laat">2</a>' in html
