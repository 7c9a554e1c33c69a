"""Savings use cases: the picture of a contract's money, actual figures, targets and the contract's terms.

Each function takes the actor, authorizes per contract through ``portal.accounts.policy`` (a role without
access to savings gets 403 before any lookup; a contract the actor is not party to is 404), writes in one
transaction and audits every change. The maths is in ``rules.py``; this module only gathers and stores.
"""

from dataclasses import dataclass
from datetime import date

from piccolo.engine.postgres import PostgresEngine

from portal.accounts import audit, policy
from portal.accounts.policy import ContractFacts
from portal.accounts.rules import Actor, Role
from portal.cases.tables import CaseEvent
from portal.contracts.service import contract_with_aggregates
from portal.contracts.tables import Contract, ContractYear
from portal.db import engine, read_transaction, write_transaction
from portal.lib import svg_charts
from portal.lib.codelists import ProductCategory
from portal.lib.errors import InvalidInput, NotFound, NotPermitted
from portal.lib.formatting import format_date, format_money, today_nl
from portal.savings import rules
from portal.savings.rules import Source
from portal.savings.schemas import ActualInput, CategoryTargetInput, InvestmentInput, TermsInput, YearInput
from portal.savings.tables import Investment, SavingsActual, SavingsTarget

SAVINGS_ROLES = frozenset({Role.CONTRACT_MANAGER, Role.COORDINATOR})
WHAT = "besparingen"
NOT_FOUND_ACTUAL = "Dit bedrag bestaat niet bij dit contract."


async def _authorized_contract(actor: Actor, contract_id: int) -> tuple[ContractFacts, dict]:
    """403 for roles without savings; 404 for a contract the actor's organisation is not party to."""
    policy.require_role(actor, SAVINGS_ROLES, WHAT)
    return await contract_with_aggregates(actor, contract_id)


def _require_contract_manager(actor: Actor, facts: ContractFacts, what: str) -> None:
    if not policy.is_contract_manager_of(actor, facts):
        raise NotPermitted(f"Alleen de contractmanager van de gemeente kan {what}.")


# --- reading -------------------------------------------------------------------------------------


async def list_contracts(actor: Actor) -> list[dict]:
    policy.require_role(actor, SAVINGS_ROLES, WHAT)
    rows = await Contract.select(
        Contract.id, Contract.name, Contract.start_date, Contract.end_date,
        Contract.municipality.name.as_alias("municipality_name"),
        Contract.main_contractor.name.as_alias("main_contractor_name"),
    ).where(policy.contract_scope(actor)).order_by(Contract.name)
    return rows


async def _load(contract_id: int) -> dict:
    years = await ContractYear.select().where(ContractYear.contract == contract_id).order_by(ContractYear.year)
    targets = await SavingsTarget.select().where(SavingsTarget.contract == contract_id)
    actuals = await SavingsActual.select(
        SavingsActual.all_columns(), SavingsActual.entered_by.display_name.as_alias("entered_by_name"),
    ).where(SavingsActual.contract == contract_id).order_by(SavingsActual.period_start, SavingsActual.id)
    investments = await Investment.select().where(Investment.contract == contract_id).order_by(Investment.invested_on)
    return {"years": years, "targets": targets, "actuals": actuals, "investments": investments}


def _as_rules(data: dict) -> dict:
    return {
        "years": [rules.YearMoney(y["year"], y["baseline_cents"], y["lump_sum_cents"], y["indexation_cents"])
                  for y in data["years"]],
        "targets": [rules.Target(t["year"], t["amount_cents"], t["level"], t["product_category"])
                    for t in data["targets"]],
        "actuals": [rules.Actual(a["id"], a["period_start"], a["period_end"], a["spend_cents"], a["source"],
                                 a["corrects"]) for a in data["actuals"]],
        "investments": [rules.InvestmentItem(i["invested_on"], i["amount_cents"], i["description"])
                        for i in data["investments"]],
    }


async def leading_indicators(contract_id: int) -> dict:
    """Grouped SQL over the case events: provisions per quarter (collective vs individual) and re-assessments."""
    db = engine()
    if isinstance(db, PostgresEngine):
        local = "(e.occurred_at AT TIME ZONE 'Europe/Amsterdam')"
        year, quarter = f"EXTRACT(YEAR FROM {local})::int", f"EXTRACT(QUARTER FROM {local})::int"
    else:
        local = "amsterdam_local(e.occurred_at)"  # portal.db: Amsterdam quarters on SQLite too
        year = f"CAST(strftime('%Y', {local}) AS INTEGER)"
        quarter = f"((CAST(strftime('%m', {local}) AS INTEGER) + 2) / 3)"
    # Collective: a referral to an algemene voorziening, or care started on a collective provision.
    # Individual: care started on a maatwerkvoorziening (a new individual provision).
    rows = await CaseEvent.raw(
        f"SELECT {year} AS year, {quarter} AS quarter, "  # noqa: S608 - fixed SQL, the contract id is a parameter
        "CASE WHEN e.action = 'refer_collective' OR c.provision_type = 'collective' THEN 'collective' "
        "ELSE 'individual' END AS kind, COUNT(*) AS n "
        'FROM case_event e JOIN portal_case c ON c.id = e."case" '
        "WHERE e.contract = {} AND e.action IN ('refer_collective', 'start_care') "
        "GROUP BY 1, 2, 3", contract_id)
    # Provisions stopped after re-assessment: one rule with the rights page and the dashboard (portal.rights).
    from portal.rights.rules import reassessment_summary
    from portal.rights.service import reassessment_counts

    reassessed = reassessment_summary(await reassessment_counts(contract_id))
    quarters = rules.indicators_per_quarter(rows)
    return {
        "quarters": [{"quarter": q.quarter, "collective": q.collective, "individual": q.individual,
                      "collective_share_pct": q.collective_share_pct} for q in quarters],
        "reassessment": {
            "has_data": bool(reassessed["talks"]), "reassessed": reassessed["talks"],
            "stopped": reassessed["stopped"], "stopped_pct": reassessed["stopped_pct"],
        },
    }


async def savings_overview(actor: Actor, contract_id: int, today: date | None = None) -> dict:
    """Everything the savings page and the API show for one contract."""
    today = today or today_nl()
    async with read_transaction():
        facts, contract = await _authorized_contract(actor, contract_id)
        data = await _load(contract_id)
        indicators = await leading_indicators(contract_id)
    pic = rules.picture(**_as_rules(data), contract_start=contract["start_date"],
                        contract_end=contract["end_date"], tolerance_pct=contract["savings_tolerance_pct"],
                        today=today)
    return {
        "contract": {key: contract[key] for key in ("id", "name", "start_date", "end_date", "missed_target_terms",
                                                    "savings_tolerance_pct")},
        "can_manage": policy.is_contract_manager_of(actor, facts),
        "allowed_sources": [s.value for s in allowed_sources(actor, facts)],
        **picture_dict(pic),
        "actuals": _actual_rows(data["actuals"], pic),
        "investments": [{"id": i["id"], "invested_on": i["invested_on"], "amount_cents": i["amount_cents"],
                         "description": i["description"]} for i in data["investments"]],
        "category_targets": category_targets(data["targets"]),
        "indicators": indicators,
    }


def category_targets(targets: list[dict]) -> list[dict]:
    """Per year and level that has targets per product category: the category rows, their sum, the general
    target (the row without a category, if any) and what counts as the year's target by ``rules.year_targets``
    (the general target when there is one, else the sum of the categories)."""
    counted = rules.year_targets([rules.Target(t["year"], t["amount_cents"], t["level"], t["product_category"])
                                  for t in targets])
    groups: dict[tuple[int, str], list[dict]] = {}
    for t in targets:
        if t["product_category"] is not None:
            groups.setdefault((t["year"], t["level"]), []).append(t)
    result = []
    for (year, level), rows in sorted(groups.items()):
        general = next((t["amount_cents"] for t in targets if t["year"] == year and t["level"] == level
                        and t["product_category"] is None), None)
        split = sum(t["amount_cents"] for t in rows)
        result.append({
            "year": year, "level": level, "level_label": rules.level_label(level), "general_cents": general,
            "categories_cents": split, "counts_cents": counted.get(level, {}).get(year, split),
            "split_differs": general is not None and general != split,
            "rows": [{"category": t["product_category"], "label": _category_label(t["product_category"]),
                      "amount_cents": t["amount_cents"]} for t in sorted(rows, key=lambda t: t["product_category"])],
        })
    return result


def _category_label(code: str) -> str:
    try:
        return f"{code} {ProductCategory(code).label}"
    except ValueError:
        return code


def allowed_sources(actor: Actor, facts: ContractFacts) -> list[Source]:
    """The contract manager records any source; the coordinator records the contractor's own statements."""
    if policy.is_contract_manager_of(actor, facts):
        return list(Source)
    if policy.is_coordinator_of(actor, facts):
        return [Source.CONTRACTOR_STATEMENT]
    return []


def _actual_rows(actuals: list[dict], pic: rules.Picture) -> list[dict]:
    rows = []
    for a in actuals:
        replaced_by = pic.replaced.get(a["id"])
        rows.append({
            "id": a["id"], "period_start": a["period_start"], "period_end": a["period_end"],
            "spend_cents": a["spend_cents"], "source": a["source"],
            "source_label": Source(a["source"]).label if a["source"] in Source._value2member_map_ else a["source"],
            "corrects": a["corrects"], "note": a["note"], "entered_by_name": a["entered_by_name"],
            "entered_at": a["entered_at"], "replaced_by": replaced_by,
            "counts_as": rules.final_replacement(a["id"], pic.replaced) if replaced_by else None,
        })
    return rows


def picture_dict(pic: rules.Picture) -> dict:
    """Plain dicts and lists (templates and JSON)."""
    outlook = pic.forecast
    return {
        "figures": {
            "savings_to_date_cents": pic.savings_to_date_cents,
            "indexation_to_date_cents": pic.indexation_to_date_cents,
            "spend_to_date_cents": pic.spend_to_date_cents, "baseline_to_date_cents": pic.baseline_to_date_cents,
            "investments_total_cents": pic.investments_total_cents,
            "investments_to_date_cents": pic.investments_to_date_cents, "net_to_date_cents": pic.net_to_date_cents,
            "tolerance_pct": pic.tolerance_pct,
        },
        "basis": pic.basis,
        "verdicts": [{
            "level": v.level, "label": v.label, "verdict": v.verdict.value, "sentence": v.sentence,
            "target_to_date_cents": v.target_to_date_cents, "savings_to_date_cents": v.savings_to_date_cents,
            "gap_cents": v.gap_cents, "gap_pct": v.gap_pct, "target_total_cents": v.target_total_cents,
            "net_target_cents": v.net_target_cents, "forecast_end_cents": v.forecast_end_cents,
            "forecast_net_end_cents": (v.forecast_end_cents - pic.investments_total_cents)
            if v.forecast_end_cents is not None else None,
        } for v in pic.verdicts],
        "years": [{
            "year": y.year, "baseline_cents": y.baseline_cents, "lump_sum_cents": y.lump_sum_cents,
            "indexation_cents": y.indexation_cents, "covered_days": y.covered_days, "days": y.days,
            "spend_cents": y.spend_cents, "indexation_share_cents": y.indexation_share_cents,
            "spend_without_indexation_cents": y.spend_cents - y.indexation_share_cents,
            "savings_cents": y.savings_cents, "targets": y.targets, "targets_pro_rata": y.targets_pro_rata,
            "periods": y.periods,
        } for y in pic.years],
        "periods": [{
            "actual_id": p.actual_id, "start": p.start, "end": p.end, "source": p.source, "spend_cents": p.spend_cents,
            "baseline_cents": p.baseline_cents, "indexation_cents": p.indexation_cents,
            "savings_cents": p.savings_cents,
        } for p in pic.periods],
        "forecast": None if outlook is None else {
            "periods": len(outlook.based_on), "first": outlook.based_on[0].start, "last": outlook.based_on[-1].end,
            "rate_per_day_cents": round(outlook.line.a + outlook.line.b * ((outlook.based_on[-1].end
                                                                            - outlook.line.origin).days + 1)),
            "trend_per_year_cents": round(outlook.line.b * 365 * 365),
            "spread_cents": outlook.spread_cents, "average_period_days": outlook.average_period_days,
            "points": [{"on": p.on, "cumulative_cents": p.cumulative_cents, "low_cents": p.low_cents,
                        "high_cents": p.high_cents} for p in outlook.points],
        },
        "trajectory": [{
            "on": t.on, "label": t.label, "targets": t.targets, "actual_cents": t.actual_cents,
            "forecast_cents": t.forecast_cents, "low_cents": t.low_cents, "high_cents": t.high_cents,
        } for t in pic.trajectory],
        "levels": [{"level": v.level, "label": v.label} for v in pic.verdicts],
    }


# --- charts (presentation of the figures above; pure) ---------------------------------------------


def _short_money(cents: int) -> str:
    return format_money(cents, with_cents=False)


def trajectory_chart(overview: dict) -> str:
    points = overview["trajectory"]
    if not points:
        return ""
    origin = points[0]["on"]

    def x(on: date) -> float:
        return float((on - origin).days)

    series = []
    dashes = ("dashed", "dashdot", "dotted")
    for index, level in enumerate(overview["levels"]):
        name = "Doel" if len(overview["levels"]) == 1 else f"Doel {level['label'].removeprefix('niveau ')}"
        series.append(svg_charts.Series(
            name, [(x(p["on"]), p["targets"][level["level"]]) for p in points], dash=dashes[index % len(dashes)],
            marker=("square", "triangle", "diamond")[index % 3], labels=[p["label"] for p in points]))
    actual = [p for p in points if p["actual_cents"] is not None]
    series.append(svg_charts.Series("Werkelijk", [(x(p["on"]), p["actual_cents"]) for p in actual], dash="solid",
                                    marker="circle", labels=[p["label"] for p in actual]))
    ahead = [p for p in points if p["forecast_cents"] is not None]
    band = None
    if ahead:
        series.append(svg_charts.Series("Prognose", [(x(p["on"]), p["forecast_cents"]) for p in ahead],
                                        dash="dotted", marker="diamond", labels=[p["label"] for p in ahead]))
        band = svg_charts.Band("Bandbreedte prognose", [(x(p["on"]), p["low_cents"]) for p in ahead],
                               [(x(p["on"]), p["high_cents"]) for p in ahead])
    years = sorted({p["on"].year for p in points if p["label"] != "start"})
    ticks = [(x(date(year, 7, 1)), str(year)) for year in years if date(year, 7, 1) <= points[-1]["on"]]
    name = overview["contract"]["name"]
    verdicts = " ".join(f"{v['label'].capitalize()}: {v['sentence']}" for v in overview["verdicts"])
    second = " en een tweede niveau (streep-punt, driehoekjes)" if len(overview["levels"]) > 1 else ""
    desc = (f"Cumulatieve besparing van {name} per jaar: doelstelling (gestreept, vierkantjes){second}, werkelijk "
            f"(doorgetrokken, rondjes) en prognose (gestippeld, ruitjes, met gearceerde bandbreedte). {verdicts} "
            "De tabel onder de grafiek bevat dezelfde cijfers.")
    return svg_charts.line_chart(svg_charts.Chart(
        title=f"Besparingstraject {name}: doel, werkelijk en prognose (cumulatief)", desc=desc, x_ticks=ticks,
        series=series, band=band, y_format=_short_money, id="traject"))


def years_chart(overview: dict) -> str:
    years = [y for y in overview["years"] if y["periods"] or any(y["targets"].values())]
    if not years:
        return ""
    level = overview["levels"][0]["level"]
    groups = [svg_charts.BarGroup(str(y["year"]), [y["targets"][level], y["savings_cents"] if y["periods"] else None])
              for y in years]
    return svg_charts.bar_chart(
        f"Besparing per jaar: doel en werkelijk ({overview['levels'][0]['label']})",
        "Per jaar de doelstelling (gevuld) en de werkelijke besparing tot nu toe (gearceerd); jaren zonder cijfers "
        "hebben geen gearceerde staaf. De tabel 'Per jaar' bevat dezelfde cijfers.",
        ["Doel", "Werkelijk"], groups, y_format=_short_money, chart_id="perjaar")


# --- changes -------------------------------------------------------------------------------------


def _actual_values(row: dict | ActualInput) -> dict:
    if isinstance(row, ActualInput):
        return {"period_start": row.period_start, "period_end": row.period_end, "spend_cents": row.spend_cents,
                "source": row.source.value, "corrects": row.corrects, "note": row.note}
    return {key: row[key] for key in ("period_start", "period_end", "spend_cents", "source", "corrects", "note")}


async def add_actual(actor: Actor, contract_id: int, data: ActualInput, today: date | None = None) -> int:
    """A new actual figure, or a correction (a new entry pointing at the one it replaces). Returns its id."""
    today = today or today_nl()
    async with write_transaction():
        facts, contract = await _authorized_contract(actor, contract_id)
        sources = allowed_sources(actor, facts)
        if data.source not in sources:
            raise NotPermitted("Als coördinator legt u verklaringen van de hoofdaannemer vast; grootboekcijfers en "
                               "schattingen legt de contractmanager vast.")
        if data.period_start < contract["start_date"] or data.period_end > contract["end_date"]:
            raise InvalidInput(f"De periode valt buiten de looptijd van het contract "
                               f"({format_date(contract['start_date'])} tot en met "
                               f"{format_date(contract['end_date'])}).", field="van")
        if data.period_start > today:
            raise InvalidInput("De periode begint in de toekomst; voer werkelijke cijfers in voor een periode die "
                               "begonnen is.", field="van")
        year = await ContractYear.select(ContractYear.id).where(
            ContractYear.contract == contract_id, ContractYear.year == data.period_start.year).first()
        if year is None:
            raise InvalidInput(f"Voor {data.period_start.year} zijn nog geen contractbedragen (basislijn, "
                               "indexatie) vastgelegd; de contractmanager legt die eerst vast.", field="van")
        existing = await SavingsActual.select().where(SavingsActual.contract == contract_id)
        entries = [rules.Actual(a["id"], a["period_start"], a["period_end"], a["spend_cents"], a["source"],
                                a["corrects"]) for a in existing]
        old = None
        if data.corrects is not None:
            old = next((a for a in existing if a["id"] == data.corrects), None)
            if old is None:
                raise NotFound(NOT_FOUND_ACTUAL)
            if data.corrects in rules.replacements(entries):
                raise InvalidInput("Dit bedrag is al gecorrigeerd; corrigeer de nieuwste versie.", field="corrigeert")
            if old["source"] not in {s.value for s in sources}:
                raise NotPermitted("Als coördinator corrigeert u alleen verklaringen van de hoofdaannemer.")
        clash = rules.overlapping(entries, data.period_start, data.period_end, ignore=data.corrects)
        if clash:
            other = clash[0]
            raise InvalidInput(
                f"Voor {format_date(other.period_start)} tot en met {format_date(other.period_end)} is al een bedrag "
                "ingevoerd dat met deze periode overlapt. Corrigeer dat bedrag in plaats van er een bij te zetten.",
                field="van")
        row = SavingsActual(contract=contract_id, period_start=data.period_start, period_end=data.period_end,
                            spend_cents=data.spend_cents, source=data.source.value, corrects=data.corrects,
                            note=data.note, entered_by=actor.user_id)
        await row.save()
        await audit.record(actor, "create", "savings_actual", row.id, contract_id,
                           old=_actual_values(old) if old else None, new=_actual_values(data))
        return row.id


@dataclass(frozen=True)
class YearResult:
    year: int
    created_year: bool


async def set_year(actor: Actor, contract_id: int, data: YearInput) -> YearResult:
    """The contract manager sets a year's target (per level) and, optionally, the year's contract amounts."""
    async with write_transaction():
        facts, contract = await _authorized_contract(actor, contract_id)
        _require_contract_manager(actor, facts, "doelstellingen vastleggen")
        if not contract["start_date"].year <= data.year <= contract["end_date"].year:
            raise InvalidInput(f"Kies een jaar binnen de looptijd ({contract['start_date'].year} tot en met "
                               f"{contract['end_date'].year}).", field="jaar")
        target = await SavingsTarget.select().where(
            SavingsTarget.contract == contract_id, SavingsTarget.year == data.year, SavingsTarget.level == data.level,
            SavingsTarget.product_category.is_null()).first()
        if target is None:
            saved = SavingsTarget(contract=contract_id, year=data.year, level=data.level,
                                  amount_cents=data.target_cents)
            await saved.save()
            target_id = saved.id
        else:
            target_id = target["id"]
            await SavingsTarget.update({SavingsTarget.amount_cents: data.target_cents}).where(
                SavingsTarget.id == target_id)
        await audit.record(actor, "create" if target is None else "change", "savings_target", target_id, contract_id,
                           old={"amount_cents": target["amount_cents"]} if target else None,
                           new={"year": data.year, "level": data.level, "amount_cents": data.target_cents})
        money = {key: value for key, value in (("baseline_cents", data.baseline_cents),
                                               ("lump_sum_cents", data.lump_sum_cents),
                                               ("indexation_cents", data.indexation_cents)) if value is not None}
        year_row = await ContractYear.select().where(ContractYear.contract == contract_id,
                                                     ContractYear.year == data.year).first()
        created = False
        if year_row is None and money:
            if "baseline_cents" not in money:
                raise InvalidInput(f"Vul voor {data.year} ook de basislijn in: zonder basislijn is er geen besparing "
                                   "te berekenen.", field="basislijn")
            new_year = ContractYear(contract=contract_id, year=data.year, **money)
            await new_year.save()
            created = True
            await audit.record(actor, "create", "contract_year", new_year.id, contract_id,
                               new={"year": data.year, **money})
        elif year_row is not None and money:
            changed = {k: v for k, v in money.items() if year_row[k] != v}
            if changed:
                await ContractYear.update({getattr(ContractYear, k): v for k, v in changed.items()}).where(
                    ContractYear.id == year_row["id"])
                await audit.record(actor, "change", "contract_year", year_row["id"], contract_id,
                                   old={k: year_row[k] for k in changed}, new=changed)
        return YearResult(data.year, created)


async def set_terms(actor: Actor, contract_id: int, data: TermsInput) -> None:
    """The contract manager records the terms for a missed target and the tolerance."""
    async with write_transaction():
        facts, contract = await _authorized_contract(actor, contract_id)
        _require_contract_manager(actor, facts, "de afspraken over een gemiste doelstelling vastleggen")
        old = {"missed_target_terms": contract["missed_target_terms"],
               "savings_tolerance_pct": contract["savings_tolerance_pct"]}
        new = {"missed_target_terms": data.terms, "savings_tolerance_pct": data.tolerance_pct}
        if old == new:
            return
        await Contract.update({Contract.missed_target_terms: data.terms,
                               Contract.savings_tolerance_pct: data.tolerance_pct}).where(Contract.id == contract_id)
        await audit.record(actor, "change", "contract", contract_id, contract_id, old=old, new=new)


INVESTMENT_YEARS_BEFORE_START = 2


async def add_investment(actor: Actor, contract_id: int, data: InvestmentInput) -> int:
    """The contract manager records a one-off investment (shown apart and in the net result). Returns its id."""
    async with write_transaction():
        facts, contract = await _authorized_contract(actor, contract_id)
        _require_contract_manager(actor, facts, "investeringen vastleggen")
        start, end = contract["start_date"], contract["end_date"]
        earliest = date(start.year - INVESTMENT_YEARS_BEFORE_START, 1, 1)
        if not earliest <= data.invested_on <= end:
            raise InvalidInput(f"De datum van de investering ligt tussen {format_date(earliest)} (de aanloop naar het "
                               f"contract) en het einde van het contract ({format_date(end)}).", field="datum")
        row = Investment(contract=contract_id, invested_on=data.invested_on, amount_cents=data.amount_cents,
                         description=data.description)
        await row.save()
        await audit.record(actor, "create", "investment", row.id, contract_id,
                           new={"invested_on": data.invested_on, "amount_cents": data.amount_cents,
                                "description": data.description})
        return row.id


async def set_category_target(actor: Actor, contract_id: int, data: CategoryTargetInput) -> int:
    """The contract manager sets a year's target for one product category (within a level). The year's total
    follows ``rules.year_targets``: the general target when there is one, else the sum of the categories."""
    async with write_transaction():
        facts, contract = await _authorized_contract(actor, contract_id)
        _require_contract_manager(actor, facts, "doelstellingen vastleggen")
        if not contract["start_date"].year <= data.year <= contract["end_date"].year:
            raise InvalidInput(f"Kies een jaar binnen de looptijd ({contract['start_date'].year} tot en met "
                               f"{contract['end_date'].year}).", field="jaar")
        target = await SavingsTarget.select().where(
            SavingsTarget.contract == contract_id, SavingsTarget.year == data.year, SavingsTarget.level == data.level,
            SavingsTarget.product_category == data.category.value).first()
        if target is None:
            saved = SavingsTarget(contract=contract_id, year=data.year, level=data.level,
                                  product_category=data.category.value, amount_cents=data.target_cents)
            await saved.save()
            target_id = saved.id
        else:
            target_id = target["id"]
            if target["amount_cents"] == data.target_cents:
                return target_id
            await SavingsTarget.update({SavingsTarget.amount_cents: data.target_cents}).where(
                SavingsTarget.id == target_id)
        await audit.record(actor, "create" if target is None else "change", "savings_target", target_id, contract_id,
                           old={"amount_cents": target["amount_cents"]} if target else None,
                           new={"year": data.year, "level": data.level, "product_category": data.category.value,
                                "amount_cents": data.target_cents})
        return target_id


# --- for jobs (the savings_behind signal): no actor, the system reads every contract ------------------


async def contract_positions(today: date | None = None, contract_ids: list[int] | None = None) -> list[dict]:
    """Per contract with actual figures and per target level: the cumulative target to date, the savings to
    date (indexation apart, corrections replacing), the contract's tolerance and the verdict, computed by the
    same rules as the page. Four queries in all, never one per contract. For the savings_behind scan."""
    today = today or today_nl()
    scope = [SavingsActual.contract.is_in(contract_ids)] if contract_ids is not None else []
    async with read_transaction():
        ids = sorted({row["contract"] for row in await SavingsActual.select(SavingsActual.contract).where(*scope)})
        if not ids:
            return []
        contracts = await Contract.select(Contract.id, Contract.start_date, Contract.end_date,
                                          Contract.savings_tolerance_pct).where(Contract.id.is_in(ids))
        years = await ContractYear.select().where(ContractYear.contract.is_in(ids))
        targets = await SavingsTarget.select().where(SavingsTarget.contract.is_in(ids))
        actuals = await SavingsActual.select().where(SavingsActual.contract.is_in(ids),
                                                     SavingsActual.period_start <= today)
        investments = await Investment.select().where(Investment.contract.is_in(ids))
    positions = []
    for contract in contracts:
        cid = contract["id"]
        data = {"years": [y for y in years if y["contract"] == cid],
                "targets": [t for t in targets if t["contract"] == cid],
                "actuals": [a for a in actuals if a["contract"] == cid],
                "investments": [i for i in investments if i["contract"] == cid]}
        pic = rules.picture(**_as_rules(data), contract_start=contract["start_date"], contract_end=contract["end_date"],
                            tolerance_pct=contract["savings_tolerance_pct"], today=today)
        last = max((p.end for p in pic.periods), default=None)
        for verdict in pic.verdicts:
            positions.append({
                "contract_id": cid, "level": verdict.level, "last_period_end": last,
                "target_to_date_cents": verdict.target_to_date_cents,
                "savings_to_date_cents": verdict.savings_to_date_cents, "tolerance_pct": pic.tolerance_pct,
                "verdict": verdict.verdict.value, "sentence": verdict.sentence,
            })
    return positions
