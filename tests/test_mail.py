"""Mail that is real: a real SMTP server (aiosmtpd) with STARTTLS, implicit TLS and
login; every message kept before it is sent, retried with backoff through an outage
or 4xx/5xx answers, and what could not be sent shown by `tinylytics mail status`."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner

from application.clock import Clock
from application.mail import FAILED, MAIL_KIND, PENDING, RETRY_DELAYS, SENT, Message, Postbox
from infrastructure.bootstrap import Container
from infrastructure.mail import MailError, SmtpMailer, _loopback
from interfaces.cli import main
from tests.mail_helpers import PASSWORD, USER, Inbox, free_port, smtp_server, tls

SENDER = "Tinylytics Reports <reports@stats.example.org>"


def message(**changes: Any) -> Message:
    values: dict[str, Any] = {
        "to": "owner@example.com",
        "subject": "Weekly report",
        "text": "Total hits: 12\nhttps://stats.example.org/sites/abc\n",
        "html": "<p>Total hits: <b>12</b></p>",
        "headers": (
            ("List-Unsubscribe", "<https://stats.example.org/reports/unsubscribe/t>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    }
    values.update(changes)
    return Message(**values)


def url(scheme: str, port: int, login: bool = True) -> str:
    auth = f"{USER}:{PASSWORD.replace('@', '%40').replace(' ', '%20')}@" if login else ""
    return f"{scheme}://{auth}127.0.0.1:{port}"


@pytest.mark.parametrize(("mode", "scheme"), [("starttls", "smtp"), ("implicit", "smtps")])
def test_smtp_sends_over_tls_with_login(mode: str, scheme: str) -> None:
    context = tls()
    inbox = Inbox()
    with smtp_server(inbox, mode=mode, context=context) as port:
        mailer = SmtpMailer(url(scheme, port), SENDER, context=context.client, timeout=5)
        mailer.send(message())
    (mail,) = inbox.received
    assert inbox.envelopes == [("reports@stats.example.org", ["owner@example.com"])]
    assert mail["From"] == SENDER and mail["To"] == "owner@example.com"
    assert mail["Message-ID"] and mail["Date"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert "Total hits: 12" in parts["text/plain"]
    assert "<b>12</b>" in parts["text/html"]


def test_a_certificate_the_client_does_not_trust_is_refused() -> None:
    context = tls()
    with smtp_server(Inbox(), mode="implicit", context=context) as port:
        mailer = SmtpMailer(url("smtps", port), SENDER, context=tls().client, timeout=5)
        with pytest.raises(MailError, match="certificate"):
            mailer.send(message())


def test_a_wrong_password_is_a_mail_error() -> None:
    context = tls()
    with smtp_server(Inbox(), mode="starttls", context=context) as port:
        mailer = SmtpMailer(
            f"smtp://{USER}:wrong@127.0.0.1:{port}", SENDER, context=context.client, timeout=2
        )
        with pytest.raises(MailError):
            mailer.send(message())


def test_a_plain_server_on_loopback_takes_mail_without_tls() -> None:
    """A local relay without STARTTLS still works; off loopback a password would not
    be sent to it (infrastructure/mail.py `_loopback`)."""
    inbox = Inbox()
    with smtp_server(inbox, mode="plain", login=False) as port:
        SmtpMailer(url("smtp", port, login=False), SENDER, timeout=5).send(message())
    assert len(inbox.received) == 1
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert not _loopback("mail.example.com") and not _loopback("10.0.0.1")


def _postbox(container: Container, mailer: Any) -> Postbox:
    return Postbox(container.mail_store, mailer, container.schedule)


def _clock(container: Container, postbox: Postbox) -> Clock:
    return Clock(container.schedule, [postbox.job_kind()], host="here")


def test_an_smtp_outage_is_retried_with_backoff_and_nothing_is_lost(
    container: Container, env: dict[str, str]
) -> None:
    context = tls()
    inbox = Inbox()
    port = free_port()
    mailer = SmtpMailer(url("smtp", port), SENDER, context=context.client, timeout=5)
    postbox = _postbox(container, mailer)
    clock = _clock(container, postbox)
    start = datetime(2026, 11, 30, 6, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        # The server is down: the message is kept, pending, with its retry on the clock.
        first = postbox.post(message(), "report:site:2026-W48:owner@example.com", "report")
        assert not first.sent and first.again_at == start + timedelta(seconds=RETRY_DELAYS[0])
        kept = container.mail_store.get(first.posted.id)
        assert kept is not None and kept.status == PENDING and kept.attempts == 1
        assert container.schedule.get(MAIL_KIND, str(kept.id)) is not None
        # The same key posted again (a clock that fired twice) keeps one message.
        again = postbox.post(message(), "report:site:2026-W48:owner@example.com", "report")
        assert again.posted.id == first.posted.id
        # Still down at the first retry.
        traveller.shift(timedelta(seconds=RETRY_DELAYS[0] + 1))
        assert clock.tick() == 1
        assert container.mail_store.get(kept.id).attempts == 2  # type: ignore[union-attr]
        status = json.loads(CliRunner().invoke(main, ["mail", "status", "--json"], env=env).stdout)
        assert status["pending"] == 1 and status["waiting"][0]["attempts"] == 2
        assert "Connection refused" in status["waiting"][0]["last_error"]
        # The server is back: the next retry sends it, once.
        with smtp_server(inbox, port=port, mode="starttls", context=context):
            traveller.shift(timedelta(seconds=RETRY_DELAYS[1] - 1))
            assert clock.tick() == 0
            traveller.shift(timedelta(seconds=2))
            assert clock.tick() == 1
            traveller.shift(timedelta(days=2))
            assert clock.tick() == 0
    assert len(inbox.received) == 1
    sent = container.mail_store.get(kept.id)
    assert sent is not None and sent.status == SENT and sent.attempts == 3
    assert inbox.received[0]["Message-ID"] == f"<{kept.id.hex}@stats.example.org>"
    assert container.schedule.get(MAIL_KIND, str(kept.id)) is None


@pytest.mark.parametrize("answer", ["451 4.3.0 Try again later", "554 5.7.1 Rejected"])
def test_a_server_that_keeps_refusing_ends_in_failed_and_is_shown(
    container: Container, env: dict[str, str], answer: str
) -> None:
    context = tls()
    inbox = Inbox(answer=answer)
    with smtp_server(inbox, mode="starttls", context=context) as port:
        mailer = SmtpMailer(url("smtp", port), SENDER, context=context.client, timeout=5)
        postbox = _postbox(container, mailer)
        clock = _clock(container, postbox)
        with time_machine.travel(datetime(2026, 11, 30, 6, tzinfo=UTC), tick=False) as traveller:
            posted = postbox.post(message(), "k", "report").posted
            for delay in RETRY_DELAYS:
                traveller.shift(timedelta(seconds=delay + 1))
                assert clock.tick() == 1
            traveller.shift(timedelta(days=3))
            assert clock.tick() == 0
    kept = container.mail_store.get(posted.id)
    assert kept is not None and kept.status == FAILED
    assert kept.attempts == len(RETRY_DELAYS) + 1
    assert answer.split()[0] in (kept.last_error or "")
    assert inbox.received == []
    result = CliRunner().invoke(main, ["mail", "status", "--json"], env=env)
    status = json.loads(result.stdout)
    assert status["failed"] == 1
    (failed,) = status["could_not_send"]
    assert failed["to"] == "owner@example.com" and answer.split()[0] in failed["last_error"]
    text = CliRunner().invoke(main, ["mail", "status"], env=env).stdout
    assert "could not be sent 1" in text and "FAILED" in text


def test_a_server_that_never_answers_times_out_and_the_mail_is_kept(
    container: Container,
) -> None:
    """A slow server: the connection is taken (the kernel's backlog) but nothing is said."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", SENDER, timeout=1)
        done = _postbox(container, mailer).post(message(), "slow", "report")
    assert not done.sent and done.again_at is not None
    kept = container.mail_store.get(done.posted.id)
    assert kept is not None and kept.status == PENDING and "timed out" in (kept.last_error or "")
    assert container.schedule.get(MAIL_KIND, str(kept.id)) is not None
