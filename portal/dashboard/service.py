"""Read models that combine the areas. Set-based queries only."""

from portal.accounts.rules import Actor
from portal.accounts.tables import Organisation
from portal.cases.tables import Case
from portal.contracts.tables import Contract


async def platform_overview() -> dict:
    """Counts only: safe to show before anyone has logged in (no case detail, no names of residents)."""
    return {
        "contracts": await Contract.count(),
        "organisations": await Organisation.count(),
        "cases": await Case.count(),
    }


async def my_work(actor: Actor) -> dict:
    """Mijn werk, first version: the actor's visible cases per status and the places to go next."""
    from portal.cases.service import count_open_cases_by_status

    by_status = await count_open_cases_by_status(actor)
    organisation = await Organisation.select(Organisation.name).where(Organisation.id == actor.organisation_id).first()
    return {
        "cases_by_status": by_status,
        "cases_total": sum(row["count"] for row in by_status),
        "organisation_name": organisation["name"] if organisation else "",
    }
