"""Digests by e-mail against a real SMTP server (aiosmtpd on 127.0.0.1, a free port): one mail per person with
overdue signals, none on a rerun, none without SMTP settings, and a failed send is retried by the next run."""

import socket
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from portal.lib.calendar_nl import add_working_days, is_working_day
from portal.lib.formatting import AMSTERDAM
from portal.settings import Settings
from portal.signals import service
from portal.signals.tables import Digest
from tests import factories


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def mail_settings(port: int) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, mail_from="inzicht@gemeente.example")


def working_days_ago(n: int) -> date:
    day = service.today_nl()
    while n:
        day -= timedelta(days=1)
        n -= is_working_day(day)
    return day


async def overdue_world() -> dict:
    """Two subcontractors, each with a stalled case whose signal is past its response date later on; a
    coordinator and a contract manager with nothing in their court."""
    municipality = await factories.organisation("municipality")
    main = await factories.organisation("main_contractor")
    sub_a = await factories.organisation("subcontractor")
    sub_b = await factories.organisation("subcontractor")
    contract = await factories.contract(municipality, main)
    since = working_days_ago(15)
    status_since = datetime.combine(since, time(12), tzinfo=AMSTERDAM).astimezone(UTC)
    cases = {}
    for org in (sub_a, sub_b):
        await factories.subcontract(contract, org)
        case = await factories.case(contract, status="allocation_requested", subcontractor=org.id,
                                    status_since=status_since, melding_date=since)
        await factories.event(case, "allocation_requested", org, note="Inwoner wil niet dat de buren het weten")
        cases[org.id] = case
    people = {
        "a": await factories.user(sub_a, "subcontractor"),
        "b": await factories.user(sub_b, "subcontractor"),
        "coordinator": await factories.user(main, "coordinator"),
        "manager": await factories.user(municipality, "contract_manager"),
    }
    await service.run_scan()
    return {"cases": cases, "people": people, "orgs": {"a": sub_a, "b": sub_b},
            "later": add_working_days(service.today_nl(), 10)}


async def test_one_mail_per_person_with_overdue_signals_and_none_on_a_rerun(db, smtp):
    controller, inbox = smtp
    world = await overdue_world()
    summary = await service.send_digests(world["later"], mail_settings(controller.port))
    assert summary.people == 2 and summary.mailed == 2 and summary.mail_failed == 0
    by_recipient = {tuple(rcpt): message for rcpt, message in inbox.messages}
    assert set(by_recipient) == {(world["people"]["a"].email,), (world["people"]["b"].email,)}
    for key in ("a", "b"):
        message = by_recipient[(world["people"][key].email,)]
        case = world["cases"][world["orgs"][key].id]
        body = message.get_content()
        assert message["From"] == "inzicht@gemeente.example" and "1 signalen" in message["Subject"]
        assert case.case_number in body and "Casus ligt al" in body  # case number and signal title
        assert case.pseudonym not in body and "buren" not in body  # no pseudonym, no notes
    assert await Digest.count().where(Digest.sent_at.is_null()) == 0

    again = await service.send_digests(world["later"], mail_settings(controller.port))
    assert again.people == 2 and again.mailed == 0 and len(inbox.messages) == 2
    assert await Digest.count() == 2


async def test_without_smtp_settings_digests_are_stored_and_nothing_is_sent(db, smtp):
    controller, inbox = smtp
    world = await overdue_world()
    summary = await service.send_digests(world["later"], Settings(smtp_host=None, mail_from=None))
    assert summary.people == 2 and summary.mailed == 0
    assert inbox.messages == []
    assert await Digest.count().where(Digest.sent_at.is_null()) == 2
    # a host without a sender is not a configuration either
    await service.send_digests(world["later"], Settings(smtp_host="127.0.0.1", smtp_port=controller.port))
    assert inbox.messages == []


async def test_a_failed_send_is_retried_by_the_next_run_and_then_sent_once(db, smtp):
    controller, inbox = smtp
    world = await overdue_world()
    down = await service.send_digests(world["later"], mail_settings(free_port()))  # nobody listens there
    assert down.people == 2 and down.mailed == 0 and down.mail_failed == 2
    assert await Digest.count().where(Digest.sent_at.is_null()) == 2

    retry = await service.send_digests(world["later"], mail_settings(controller.port))
    assert retry.mailed == 2 and len(inbox.messages) == 2
    await service.send_digests(world["later"], mail_settings(controller.port))
    assert len(inbox.messages) == 2
