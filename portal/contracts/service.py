"""Contract use cases: the contract behind aggregate pages, and the norms per status that say when a case
counts as stalled."""

from portal.accounts import audit, policy
from portal.accounts.rules import Actor, Role
from portal.cases.rules import CaseStatus
from portal.contracts.tables import Contract, StatusNorm
from portal.db import read_transaction, write_transaction
from portal.lib.errors import InvalidInput, NotFound
from portal.signals.rules import DEFAULT_STATUS_NORMS, MAX_NORM_DAYS, NORMABLE_STATUSES, effective_norms

NORM_STATUSES = [status for status in CaseStatus if status in NORMABLE_STATUSES]


async def managed_contracts(actor: Actor) -> list[dict]:
    policy.require_role(actor, {Role.CONTRACT_MANAGER}, "de normen van contracten")
    return await Contract.select(Contract.id, Contract.name).where(policy.contract_scope(actor)).order_by(
        Contract.name)


async def contract_with_aggregates(actor: Actor, contract_id: int) -> tuple[policy.ContractFacts, dict]:
    """A contract whose aggregate figures the actor may read (its municipality's or main contractor's), with
    the facts the policy decided on; 404 for any other contract. The caller checks the role first."""
    row = await Contract.select().where(Contract.id == contract_id).first()
    facts = policy.ContractFacts(row["id"], row["municipality"], row["main_contractor"]) if row else None
    if facts is None or not policy.can_read_contract_aggregates(actor, facts):
        raise NotFound(policy.NOT_FOUND_CONTRACT)
    return facts, row


async def _managed_contract(actor: Actor, contract_id: int) -> dict:
    policy.require_role(actor, {Role.CONTRACT_MANAGER}, "de normen van contracten")
    row = await Contract.select(Contract.id, Contract.name, Contract.municipality).where(
        Contract.id == contract_id).first()
    if row is None or row["municipality"] != actor.organisation_id:
        raise NotFound(policy.NOT_FOUND_CONTRACT)
    return row


async def _overrides(contract_id: int) -> dict[str, int]:
    rows = await StatusNorm.select().where(StatusNorm.contract == contract_id)
    return {row["status"]: row["max_working_days"] for row in rows}


def _rows(overrides: dict[str, int], typed: dict[str, str] | None = None) -> list[dict]:
    norms = effective_norms(overrides)
    return [{"status": status.value, "label": status.label, "default": DEFAULT_STATUS_NORMS.get(status),
             "value": (typed or {}).get(status.value, str(norms.get(status, "")))} for status in NORM_STATUSES]


async def norms_page(actor: Actor, contract_id: int) -> dict:
    async with read_transaction():
        contract = await _managed_contract(actor, contract_id)
        overrides = await _overrides(contract_id)
    return {"contract": contract, "norms": _rows(overrides), "max_days": MAX_NORM_DAYS}


def parse_norms(form: dict[str, str]) -> dict[str, int]:
    """Working days per status from the form (``norm-<status>``); an empty field means the default."""
    values: dict[str, int] = {}
    for status in NORM_STATUSES:
        text = (form.get(f"norm-{status.value}") or "").strip()
        if not text:
            continue
        if not text.isdigit():
            raise InvalidInput(f"De norm voor '{status.label}' moet een heel aantal werkdagen zijn.",
                               field=f"norm-{status.value}")
        try:  # the signals' rules hold the range and which statuses take a norm
            effective_norms({status.value: int(text)})
        except InvalidInput as error:
            raise InvalidInput(error.message, field=f"norm-{status.value}") from error
        values[status.value] = int(text)
    return values


async def set_norms(actor: Actor, contract_id: int, form: dict[str, str]) -> None:
    """Store the contract's norms; only those that differ from the default become a row. Audited."""
    async with write_transaction():
        await _managed_contract(actor, contract_id)
        values = parse_norms(form)
        old = await _overrides(contract_id)
        new = {status: days for status, days in values.items()
               if days != DEFAULT_STATUS_NORMS.get(CaseStatus(status))}
        if new == old:
            return
        await StatusNorm.delete().where(StatusNorm.contract == contract_id)
        if new:
            await StatusNorm.insert(*[StatusNorm(contract=contract_id, status=status, max_working_days=days)
                                      for status, days in sorted(new.items())])
        await audit.record(actor, "change", "contract_norms", contract_id, contract_id=contract_id, old=old, new=new)


async def norms_page_with_errors(actor: Actor, contract_id: int, form: dict[str, str]) -> dict:
    """The page again with what was typed, after a refused save."""
    page = await norms_page(actor, contract_id)
    typed = {status.value: form.get(f"norm-{status.value}", "") for status in NORM_STATUSES}
    page["norms"] = _rows({}, typed)
    return page
