"""Factories: each test builds what it needs. Every function saves and returns the row."""

import itertools
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

import httpx

from portal.accounts.passwords import hash_password
from portal.accounts.rules import Actor, Role
from portal.accounts.tables import Organisation, User
from portal.cases.tables import Case, CaseEvent
from portal.contracts.tables import Contract, Subcontract
from portal.reports.tables import ReportPeriod, ReportTemplate

_counter = itertools.count(1)

PASSWORD = "correct-paard-batterij-nietje"
_password_hash: str | None = None
SESSION_COOKIE = "inzicht_sessie"
CSRF_COOKIE = "inzicht_csrf"


def password_hash() -> str:
    """One argon2 hash of PASSWORD for every test user (hashing is slow by design)."""
    global _password_hash
    if _password_hash is None:
        _password_hash = hash_password(PASSWORD)
    return _password_hash


def _n() -> int:
    return next(_counter)


def actor_for(user: User, org: Organisation, role: str | None = None) -> Actor:
    """The service-layer actor for a user of an organisation (what the login gives a request)."""
    return Actor(user_id=user.id, organisation_id=org.id, organisation_kind=org.kind, role=Role(role or user.role),
                 display_name=user.display_name, email=user.email)


async def organisation(kind: str = "subcontractor", name: str | None = None) -> Organisation:
    row = Organisation(name=name or f"Organisatie {_n()}", kind=kind)
    await row.save()
    return row


async def user(org: Organisation, role: str = "subcontractor", **fields) -> User:
    number = _n()
    row = User(email=f"persoon{number}@example.nl", display_name=f"Persoon {number}", organisation=org.id, role=role,
               password_hash=password_hash())
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


async def event(on_case: Case, to_status: str, subcontractor: Organisation | None = None, **fields) -> CaseEvent:
    row = CaseEvent(case=on_case.id, contract=on_case.contract, action=fields.pop("action", "request_allocation"),
                    to_status=to_status, subcontractor=subcontractor.id if subcontractor else None)
    for key, value in fields.items():
        setattr(row, key, value)
    await row.save()
    return row


async def quarter_report_period(on: Contract) -> ReportPeriod:
    """The contract's default quarterly report template (version 1) and its first quarter of 2026, deadline
    30-04-2026."""
    from portal.demo.generator import DEFAULT_REPORT_TEMPLATE

    await ReportTemplate(contract=on.id, version=1, period_kind="quarter", deadline_days=30,
                         definition=DEFAULT_REPORT_TEMPLATE).save()
    row = ReportPeriod(contract=on.id, kind="quarter", starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31),
                       deadline=date(2026, 4, 30))
    await row.save()
    return row


# --- the usual world: one contract with its parties and a user of each role ------------------------


@dataclass(frozen=True)
class World:
    municipality: Organisation
    main: Organisation  # the main contractor
    sub: Organisation  # a subcontractor on the contract
    contract: Contract
    coordinator: User  # of the main contractor
    manager: User  # contract manager of the municipality
    sub_user: User  # of the subcontractor

    def actor(self, person: User) -> Actor:
        """The service-layer actor of one of the world's users."""
        orgs = {org.id: org for org in (self.municipality, self.main, self.sub)}
        return actor_for(person, orgs[person.organisation])


async def world(label: str, **contract_fields) -> World:
    """A municipality, its main contractor and one contract between them ("Contract <label>" unless
    ``contract_fields`` name it), one subcontractor on the contract, and a coordinator, a contract manager and a
    subcontractor user. Tests add what they are about (cases, signals, reports) themselves."""
    municipality = await organisation("municipality", f"Gemeente {label}")
    main = await organisation("main_contractor", f"Hoofdaannemer {label}")
    sub = await organisation("subcontractor", f"Onderaannemer {label}")
    on = await contract(municipality, main, **{"name": f"Contract {label}", **contract_fields})
    await subcontract(on, sub)
    return World(municipality, main, sub, on, coordinator=await user(main, "coordinator"),
                 manager=await user(municipality, "contract_manager"), sub_user=await user(sub, "subcontractor"))


# --- logged-in clients: through the real login form, CSRF token included ----------------------------


def http_client(app, address: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 51000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def csrf_token(http: httpx.AsyncClient, page: str = "/inloggen") -> str:
    """The CSRF token of the client: from its cookie, after a GET that sets one when it has none yet."""
    if CSRF_COOKIE not in http.cookies:
        await http.get(page, headers={"accept": "text/html"})
    return http.cookies[CSRF_COOKIE]


async def post_form(http: httpx.AsyncClient, url: str, data: dict | None = None, **kwargs) -> httpx.Response:
    form = {"_csrf_token": await csrf_token(http), **(data or {})}
    return await http.post(url, data=form, headers={"accept": "text/html"}, **kwargs)


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await post_form(http, "/inloggen", {"email": email, "password": password})


@asynccontextmanager
async def logged_in(app, person: User, password: str = PASSWORD, address: str = "203.0.113.7"):
    """A client logged in as ``person`` through the login form (fails loudly when the login fails)."""
    async with http_client(app, address) as http:
        response = await login(http, person.email, password)
        assert response.status_code == 303 and response.headers["location"] == "/", response.text[:500]
        yield http


def hidden_value(html: str, name: str) -> str | None:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    return match.group(1) if match else None


# --- a real arq worker on the test Redis (the `redis_pool` fixture, database 15) ----------------------


async def burst_worker(redis_pool, functions=None):
    """Run an arq worker in burst mode on ``redis_pool`` until the queue is empty; returns the worker so the
    test can read jobs_complete/jobs_failed/jobs_retried. ``functions`` defaults to the portal's own jobs."""
    from arq.worker import Worker

    from workers import settings as worker_settings

    worker = Worker(functions=functions or worker_settings.WorkerSettings.functions, redis_pool=redis_pool,
                    burst=True, poll_delay=0.05, on_startup=worker_settings.startup, handle_signals=False)
    await worker.main()
    await worker.close()
    return worker
