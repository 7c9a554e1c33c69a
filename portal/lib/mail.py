"""Outgoing plain-text mail over SMTP (stdlib smtplib, run in a thread). Domain-free: callers decide what a
message says. One SMTP session per batch; every message reports on its own whether it was accepted."""

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings) -> "SmtpConfig | None":
        """None when no SMTP host or sender is configured: nothing is sent."""
        if not settings.smtp_configured:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from,
                   user=settings.smtp_user or None, password=password, starttls=settings.smtp_starttls)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def _message(config: SmtpConfig, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message.set_content(mail.body)
    return message


def _send_batch(config: SmtpConfig, mails: Sequence[Mail]) -> list[bool]:
    sent = [False] * len(mails)
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.user:
                smtp.login(config.user, config.password or "")
            for index, mail in enumerate(mails):
                try:
                    smtp.send_message(_message(config, mail))
                    sent[index] = True
                except smtplib.SMTPRecipientsRefused:
                    log.warning("mail refused by the SMTP server (message %d of %d)", index + 1, len(mails))
                except smtplib.SMTPServerDisconnected:
                    log.warning("SMTP server disconnected after %d of %d messages", index, len(mails))
                    break
                except smtplib.SMTPException as exc:
                    log.warning("mail not accepted: %s", type(exc).__name__)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("SMTP session with %s:%s failed: %s", config.host, config.port, type(exc).__name__)
    return sent


async def send_mails(config: SmtpConfig, mails: Sequence[Mail]) -> list[bool]:
    """Send every message in one SMTP session (off the event loop). Returns per message whether the server
    accepted it; never raises for SMTP or network errors (the caller retries what was not sent)."""
    if not mails:
        return []
    return await asyncio.to_thread(_send_batch, config, list(mails))
