"""Input shapes of the signal routes: form fields parsed into the service's dataclasses (Dutch errors)."""

from typing import Any

from portal.lib.errors import InvalidInput
from portal.signals.service import RaiseInput, SignalFilter

TRUE_VALUES = {"1", "ja", "on", "true", "waar"}


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "")


def parse_raise(data: dict[str, Any]) -> RaiseInput:
    raw_contract = _text(data, "contract_id").strip()
    contract_id = None
    if raw_contract:
        if not raw_contract.isdigit():
            raise InvalidInput("Kies het contract waar het signaal over gaat.", field="contract_id")
        contract_id = int(raw_contract)
    return RaiseInput(contract_id=contract_id, title=_text(data, "title"), detail=_text(data, "detail"),
                      case_number=_text(data, "case_number").strip() or None,
                      confidential=_text(data, "confidential").strip().lower() in TRUE_VALUES)


def parse_filter(regel: str | None, ernst: str | None, status: str | None, te_laat: str | None,
                 contract: str | None = None) -> SignalFilter:
    raw_contract = (contract or "").strip()
    if raw_contract and not (raw_contract.isascii() and raw_contract.isdigit() and len(raw_contract) <= 12):
        raise InvalidInput("Kies een contract uit de lijst.", field="contract")
    return SignalFilter(rule=(regel or "").strip() or None, severity=(ernst or "").strip() or None,
                        status=(status or "").strip() or None, overdue=(te_laat or "").strip().lower() in TRUE_VALUES,
                        contract_id=int(raw_contract) if raw_contract else None)
