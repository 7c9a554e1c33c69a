"""Signal use cases. Event-driven rules run inside the transaction of the case event that triggers them."""

from portal.accounts.rules import Actor
from portal.cases.rules import Transition


async def on_case_registered(actor: Actor, case_id: int) -> None:
    """Called in the transaction that registers a case (re_report). Filled in by the signals area."""


async def on_case_event(actor: Actor, case_before: dict, transition: Transition, event_id: int) -> None:
    """Called in the transaction of every lifecycle step (rejected_without_decision, rejection_review,
    bounced, closed_without_outcome). Filled in by the signals area."""
