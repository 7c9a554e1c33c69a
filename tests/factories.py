"""Factories: each test builds what it needs. Every function saves and returns the row."""

import itertools
from datetime import date

from portal.accounts.tables import Organisation, User
from portal.cases.tables import Case
from portal.contracts.tables import Contract, Subcontract

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


async def organisation(kind: str = "subcontractor", name: str | None = None) -> Organisation:
    row = Organisation(name=name or f"Organisatie {_n()}", kind=kind)
    await row.save()
    return row


async def user(org: Organisation, role: str = "subcontractor", **fields) -> User:
    number = _n()
    row = User(email=f"persoon{number}@example.nl", display_name=f"Persoon {number}", organisation=org.id, role=role)
    for key, value in fields.items():
        setattr(row, key, value)
    await row.save()
    return row


async def contract(municipality: Organisation | None = None, main_contractor: Organisation | None = None,
                   **fields) -> Contract:
    municipality = municipality or await organisation("municipality", f"Gemeente {_n()}")
    row = Contract(
        municipality=municipality.id,
        main_contractor=main_contractor.id if main_contractor else None,
        name=fields.pop("name", f"Contract {_n()}"),
        start_date=fields.pop("start_date", date(2026, 1, 1)),
        end_date=fields.pop("end_date", date(2033, 12, 31)),
    )
    for key, value in fields.items():
        setattr(row, key, value)
    await row.save()
    return row


async def subcontract(on: Contract, subcontractor: Organisation, **fields) -> Subcontract:
    row = Subcontract(contract=on.id, subcontractor=subcontractor.id, start_date=on.start_date,
                      end_date=on.end_date, product_categories=fields.pop("product_categories", "02,07"),
                      capacity=fields.pop("capacity", 40))
    for key, value in fields.items():
        setattr(row, key, value)
    await row.save()
    return row


async def case(on: Contract, status: str = "registered", **fields) -> Case:
    number = _n()
    row = Case(contract=on.id, case_number=f"T-{number:06d}", pseudonym=f"{number:064x}", domain="wmo",
               product_category="02", status=status, melding_date=fields.pop("melding_date", date(2026, 3, 2)))
    for key, value in fields.items():
        setattr(row, key, value)
    await row.save()
    return row
