"""Mail adapters for the `Mailer` port: SMTP when configured, else an outbox folder.

With no mail server (`TINYLYTICS_SMTP_URL` unset) each message is written to
`<data>/outbox/*.eml` and its links are printed in the server log, so a person can
sign up and confirm an address on a fresh install.

Every message is multipart (plain text, and HTML when the message has it), with a
Date and a Message-ID taken from the kept message, so that a retry sends the very
same message.
"""

import email.policy
import ipaddress
import logging
import os
import secrets
import smtplib
import ssl
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from application.mail import Mailer, MailError, Message
from infrastructure.settings import Settings

log = logging.getLogger("tinylytics.mail")

SMTP_TIMEOUT_SECONDS = 15
# Lines up to RFC 5322's 998: a long List-Unsubscribe URL (no spaces to fold at) must
# stay a plain URL, not become RFC 2047 encoded words that mail clients do not follow.
POLICY = email.policy.SMTP.clone(max_line_length=998)


def compose(message: Message, sender: str) -> EmailMessage:
    """The message as sent: headers, a text part and, when there is one, an HTML part."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime((message.date or datetime.now(UTC)).astimezone(UTC), True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<{message.id.hex}@{domain}>" if message.id else make_msgid(domain=domain)
    for name, value in message.headers:
        mail[name] = value
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


class OutboxMailer:
    """Writes each message as an .eml file; prints its links in the log."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        mail = compose(message, self.sender)
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


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpMailer:
    """smtp://user:password@host:587 (STARTTLS when offered; needed to log in off loopback) or
    smtps://user:password@host:465 (implicit TLS). Certificates are checked against the
    system's CAs (or SSL_CERT_FILE), or the `context` given."""

    def __init__(
        self,
        url: str,
        sender: str,
        context: ssl.SSLContext | None = None,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.context = context
        self.timeout = timeout

    def send(self, message: Message) -> None:
        mail = compose(message, self.sender)
        context = self.context or ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                client.ehlo()
                secure = self.implicit_tls
                if not secure and client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                    secure = True
                if self.username:
                    if not secure and not _loopback(self.host):
                        raise MailError(
                            "The mail server offers no STARTTLS: the password is not sent "
                            "in the clear (use smtps:// or a server with STARTTLS)"
                        )
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
