"""Input shapes for case use cases, shared by the HTML forms, the JSON API and the CSV import."""

from dataclasses import dataclass
from datetime import date

from portal.cases.rules import TransitionInput


@dataclass(frozen=True)
class NewCase:
    """A melding as typed by the coordinator. The BSN is used once for the pseudonym and then dropped."""

    contract_id: int
    bsn: str
    neighbourhood: str
    domain: str
    product_category: str
    urgency: str = "normal"
    provision_type: str = "individual"
    melding_date: date | None = None  # default: today
    aanvraag_date: date | None = None
    note: str | None = None

    def __repr__(self) -> str:  # never let a BSN reach a log line or a traceback
        return f"NewCase(contract_id={self.contract_id}, domain={self.domain!r}, category={self.product_category!r})"


@dataclass(frozen=True)
class CaseCommand:
    """One action on a case: the lifecycle's input plus what the service needs around it."""

    action: str
    expected_version: int
    payload: TransitionInput = TransitionInput()
    occurred_on: date | None = None  # for events recorded later (API, import); default: now
    aanvraag_date: date | None = None
