"""Account and case services against the database: the audit chain, login, scoping in SQL."""

import asyncio

import pytest

from portal.accounts import audit, service
from portal.accounts.rules import GENESIS_HASH, Actor, OrganisationKind, Role
from portal.accounts.schemas import OrganisationInput, UserInput
from portal.accounts.tables import AuditEntry, User
from portal.cases import service as cases
from portal.db import write_transaction
from portal.lib.errors import InvalidInput, NotFound, NotPermitted
from tests import factories


def actor_for(user: User, kind: str) -> Actor:
    return Actor(user_id=user.id, organisation_id=user.organisation, organisation_kind=OrganisationKind(kind),
                 role=Role(user.role), display_name=user.display_name, email=user.email, origin="198.51.100.4")


async def _some_entries(count: int = 5) -> list[int]:
    org = await factories.organisation("platform")
    admin = actor_for(await factories.user(org, "admin"), "platform")
    for number in range(count):
        async with write_transaction():
            await audit.record(admin, "change", "user", number, old={"a": number}, new={"a": number + 1},
                               purpose="test")
    return [row["id"] for row in await AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id)]


# --- the audit chain ------------------------------------------------------------------------------


async def test_an_untouched_chain_verifies(db):
    ids = await _some_entries(5)
    report = await audit.verify_chain()
    assert report.ok and report.checked == 5
    first = await AuditEntry.select().where(AuditEntry.id == ids[0]).first()
    assert first["prev_hash"] == GENESIS_HASH
    assert first["origin"] == "198.51.100.4" and first["role"] == "admin"
    assert "intact" in report.describe()


async def test_an_edited_entry_is_detected(db):
    ids = await _some_entries(5)
    await AuditEntry.update({AuditEntry.purpose: "iets anders"}).where(AuditEntry.id == ids[2])
    report = await audit.verify_chain()
    assert not report.ok
    assert report.broken.entry_id == ids[2]
    assert "gewijzigd" in report.broken.reason
    assert f"regel {ids[2]}" in report.describe()


async def test_a_deleted_entry_is_detected(db):
    ids = await _some_entries(5)
    await AuditEntry.delete().where(AuditEntry.id == ids[1])
    report = await audit.verify_chain()
    assert not report.ok and report.broken.entry_id == ids[2]
    assert "vorige regel" in report.broken.reason


async def test_reordered_entries_are_detected(db):
    ids = await _some_entries(5)
    rows = {row["id"]: row for row in await AuditEntry.select().where(AuditEntry.id.is_in(ids[1:3]))}
    # swap the content of two entries (including their hashes), as if their order had been changed
    for target, source in ((ids[1], ids[2]), (ids[2], ids[1])):
        values = {getattr(AuditEntry, key): value for key, value in rows[source].items() if key != "id"}
        values[AuditEntry.entry_hash] = f"tijdelijk-{target}"  # the unique constraint, for a moment
        await AuditEntry.update(values).where(AuditEntry.id == target)
    for target, source in ((ids[1], ids[2]), (ids[2], ids[1])):
        await AuditEntry.update({AuditEntry.entry_hash: rows[source]["entry_hash"]}).where(AuditEntry.id == target)
    report = await audit.verify_chain()
    assert not report.ok and report.broken.entry_id == ids[1]


async def test_an_entry_rolls_back_with_the_change_it_records(db):
    org = await factories.organisation("platform")
    admin = actor_for(await factories.user(org, "admin"), "platform")
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await audit.record(admin, "change", "user", 1, purpose="wordt teruggedraaid")
            raise RuntimeError("the change fails")
    assert await AuditEntry.count() == 0


async def test_concurrent_appends_do_not_fork_the_chain(db):
    org = await factories.organisation("platform")
    admin = actor_for(await factories.user(org, "admin"), "platform")

    async def append(number: int) -> None:
        async with write_transaction():
            await audit.record(admin, "read", "case", number, purpose="gelijktijdig")

    await asyncio.gather(*(append(number) for number in range(12)))
    assert await AuditEntry.count() == 12
    report = await audit.verify_chain()
    assert report.ok, report.describe()


# --- login --------------------------------------------------------------------------------------------


async def test_unknown_and_existing_addresses_get_the_same_answers(db):
    org = await factories.organisation("subcontractor")
    person = await factories.user(org, "subcontractor")
    known = [await service.authenticate(person.email, "fout", "192.0.2.1") for _ in range(6)]
    unknown = [await service.authenticate("niemand@example.nl", "fout", "192.0.2.1") for _ in range(6)]
    assert [outcome.message for outcome in known] == [outcome.message for outcome in unknown]
    assert known[0].message == service.REFUSED_MESSAGE
    assert known[4].message == service.LOCKED_MESSAGE and known[5].step is service.LoginStep.LOCKED
    # locked: even the right password is refused, and the lock is stored on the row
    right_password = await service.authenticate(person.email, factories.PASSWORD, "192.0.2.1")
    assert right_password.step is service.LoginStep.LOCKED
    row = await User.select(User.locked_until).where(User.id == person.id).first()
    assert row["locked_until"] is not None
    results = [row["result"] for row in await AuditEntry.select(AuditEntry.result).where(
        AuditEntry.action == "login", AuditEntry.user == person.id).order_by(AuditEntry.id)]
    assert results == ["refused"] * 5 + ["locked"] * 2
    anonymous = await AuditEntry.count().where(AuditEntry.action == "login", AuditEntry.user.is_null())
    assert anonymous == 6  # failures for an unknown address are audited too, without a person


async def test_a_deactivated_account_cannot_log_in(db):
    org = await factories.organisation("subcontractor")
    person = await factories.user(org, "subcontractor", is_active=False)
    outcome = await service.authenticate(person.email, factories.PASSWORD, None)
    assert outcome.step is service.LoginStep.REFUSED


# --- management ---------------------------------------------------------------------------------------


async def test_admin_creates_organisations_and_users_and_it_is_audited(db):
    platform = await factories.organisation("platform")
    admin = actor_for(await factories.user(platform, "admin"), "platform")
    org_id = await service.create_organisation(admin, OrganisationInput(name="Buurts", kind="main_contractor"))
    data = UserInput(email="Co@Buurts.nl", display_name="Co Ordinator", organisation_id=org_id, role="coordinator")
    user_id = await service.create_user(admin, data, "een-goed-wachtwoord")
    stored = await User.select(User.email, User.password_hash).where(User.id == user_id).first()
    assert stored["email"] == "co@buurts.nl" and stored["password_hash"].startswith("$argon2id$")
    entries = await AuditEntry.select(AuditEntry.action, AuditEntry.object_type, AuditEntry.user).order_by(
        AuditEntry.id)
    assert [(e["action"], e["object_type"], e["user"]) for e in entries] == [
        ("create", "organisation", admin.user_id), ("create", "user", admin.user_id)]
    with pytest.raises(InvalidInput, match="al een account"):
        await service.create_user(admin, data, "een-goed-wachtwoord")
    wrong_role = UserInput(email="x@buurts.nl", display_name="X Y", organisation_id=org_id, role="contract_manager")
    with pytest.raises(InvalidInput, match="past niet"):
        await service.create_user(admin, wrong_role, "een-goed-wachtwoord")


async def test_only_admins_manage_accounts(db):
    municipality = await factories.organisation("municipality")
    manager = actor_for(await factories.user(municipality, "contract_manager"), "municipality")
    with pytest.raises(NotPermitted):
        await service.create_organisation(manager, OrganisationInput(name="Nieuw", kind="subcontractor"))
    with pytest.raises(NotPermitted):
        await service.list_users(manager)


# --- cases: scoping in SQL and audited reads --------------------------------------------------------


async def _two_contracts():
    world = {}
    for side in ("a", "b"):
        municipality = await factories.organisation("municipality")
        main = await factories.organisation("main_contractor")
        sub = await factories.organisation("subcontractor")
        contract = await factories.contract(municipality, main)
        case = await factories.case(contract, subcontractor=sub.id)
        world[side] = {"municipality": municipality, "main": main, "sub": sub, "contract": contract, "case": case}
    return world


async def test_a_subcontractor_lists_only_cases_allocated_to_it_now_or_before(db):
    world = await _two_contracts()
    a = world["a"]
    former = await factories.organisation("subcontractor")
    declined = await factories.case(a["contract"], subcontractor=a["sub"].id)
    await factories.event(declined, "allocation_requested", former)
    actor = actor_for(await factories.user(former, "subcontractor"), "subcontractor")
    result = await cases.list_cases(actor, cases.CaseFilter())
    assert [row["id"] for row in result["cases"]] == [declined.id] and result["total"] == 1
    detail = await cases.get_case(actor, declined.id)
    assert detail["view"] == "full" and detail["can_change"] is True
    with pytest.raises(NotFound):
        await cases.get_case(actor, a["case"].id)


async def test_a_contract_manager_reads_pseudonymised_and_only_its_own_contracts(db):
    world = await _two_contracts()
    manager = actor_for(await factories.user(world["a"]["municipality"], "contract_manager"), "municipality")
    detail = await cases.get_case(manager, world["a"]["case"].id)
    assert detail["view"] == "pseudonymised" and "pseudonym" not in detail["case"]
    assert detail["can_change"] is False
    with pytest.raises(NotFound):
        await cases.get_case(manager, world["b"]["case"].id)
    listed = await cases.list_cases(manager, cases.CaseFilter())
    assert [row["id"] for row in listed["cases"]] == [world["a"]["case"].id]
    reads = await AuditEntry.select(AuditEntry.result, AuditEntry.contract_id, AuditEntry.object_id).where(
        AuditEntry.action == "read").order_by(AuditEntry.id)
    assert reads == [
        {"result": "ok", "contract_id": world["a"]["contract"].id, "object_id": str(world["a"]["case"].id)},
        {"result": "denied", "contract_id": world["b"]["contract"].id, "object_id": str(world["b"]["case"].id)},
    ]


async def test_an_admin_reads_no_case_detail(db):
    world = await _two_contracts()
    platform = await factories.organisation("platform")
    admin = actor_for(await factories.user(platform, "admin"), "platform")
    with pytest.raises(NotPermitted):
        await cases.get_case(admin, world["a"]["case"].id)
    with pytest.raises(NotPermitted):
        await cases.list_cases(admin, cases.CaseFilter())


async def test_the_audit_trail_shows_a_contract_manager_only_its_contracts(db):
    world = await _two_contracts()
    manager_a = actor_for(await factories.user(world["a"]["municipality"], "contract_manager"), "municipality")
    coordinator_a = actor_for(await factories.user(world["a"]["main"], "coordinator"), "main_contractor")
    coordinator_b = actor_for(await factories.user(world["b"]["main"], "coordinator"), "main_contractor")
    await cases.get_case(coordinator_a, world["a"]["case"].id)
    await cases.get_case(coordinator_b, world["b"]["case"].id)
    result = await audit.list_entries(manager_a, audit.AuditFilter())
    assert [(e["object_id"], e["user_name"]) for e in result["entries"]] == [
        (str(world["a"]["case"].id), coordinator_a.display_name)]
    by_other_person = await audit.list_entries(manager_a, audit.AuditFilter(user_id=coordinator_b.user_id))
    assert by_other_person["entries"] == []
    by_case = await audit.list_entries(manager_a, audit.AuditFilter(case_number=world["a"]["case"].case_number))
    assert len(by_case["entries"]) == 1
