"""Read models that combine the areas. Set-based queries only."""

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
