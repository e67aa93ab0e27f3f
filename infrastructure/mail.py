"""Mail adapters for the `Mailer` port: SMTP when configured, else an outbox folder.

With no mail server (`TINYLYTICS_SMTP_URL` unset) each message is written to
`<data>/outbox/*.eml` and its links are printed in the server log, so a person can
sign up and confirm an address on a fresh install.
"""

import logging
import os
import secrets
import smtplib
import ssl
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from application.mail import Mailer, MailError, Message
from infrastructure.settings import Settings

log = logging.getLogger("tinylytics.mail")

SMTP_TIMEOUT_SECONDS = 15


def _email(message: Message, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mail["Message-ID"] = make_msgid(domain=domain)
    mail.set_content(message.text)
    return mail


class OutboxMailer:
    """Writes each message as an .eml file; prints its links in the log."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        mail = _email(message, self.sender)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.folder / f"{stamp}-{secrets.token_hex(4)}.eml"
        temporary = target.with_suffix(".tmp")
        with self._lock:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(mail.as_bytes())
            temporary.replace(target)
        links = " ".join(message.links) or "(no links)"
        log.info("mail written to %s (%s): %s", target, message.subject, links)

    def messages(self) -> list[Path]:
        """The outbox, oldest first."""
        return sorted(self.folder.glob("*.eml")) if self.folder.is_dir() else []

    def forget(self, address: str) -> None:
        wanted = address.strip().lower()
        parser = BytesHeaderParser()
        for path in self.messages():
            try:
                with path.open("rb") as handle:
                    to = parser.parse(handle).get("To", "")
            except OSError:
                continue
            if parseaddr(str(to))[1].lower() == wanted:
                path.unlink(missing_ok=True)


class SmtpMailer:
    """smtp://user:password@host:587 (STARTTLS when offered) or smtps://host:465."""

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    def send(self, message: Message) -> None:
        mail = _email(message, self.sender)
        context = ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
            with client:
                client.ehlo()
                if not self.implicit_tls and client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(mail)
        except (smtplib.SMTPException, OSError) as error:
            log.warning("mail to the SMTP server %s failed: %s", self.host, error)
            raise MailError(f"The mail server could not take the message: {error}") from None

    def forget(self, address: str) -> None:
        """Sent mail is not kept here."""


def make_mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return OutboxMailer(settings.data_dir / "outbox", settings.mail_from)
