"""Read models that combine the areas. Set-based queries only."""

from portal.accounts.rules import Actor
from portal.accounts.tables import Organisation


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
