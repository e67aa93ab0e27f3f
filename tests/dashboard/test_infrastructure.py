"""The pieces under the dashboard: CSV and zip streaming, mail adapters, the session
secret, the new settings."""

import csv
import io
import os
import socketserver
import stat
import threading
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from application.exports import cell, csv_chunks, zip_chunks
from application.mail import MailError, Message
from infrastructure.mail import OutboxMailer, SmtpMailer, make_mailer
from infrastructure.secret_key import session_secret
from infrastructure.settings import Settings, SettingsError
from tests.conftest import ON_POSTGRES


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("", ""),
        (None, ""),
        (-3, "-3"),
        (True, "true"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02 03:04:05"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02 03:04:05"),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_neutralised(value: Any, shown: str) -> None:
    assert cell(value) == shown


# Characters that NFKC turns into a formula start (fullwidth, small and super/subscript
# forms of = + - @), also behind leading spaces or controls a spreadsheet skips.
LOOKALIKE_STARTS = [
    "\uff1d",  # fullwidth =
    "\ufe66",  # small =
    "\u207c",  # superscript =
    "\u208c",  # subscript =
    "\uff0b",  # fullwidth +
    "\ufe62",  # small +
    "\u207a",  # superscript +
    "\uff0d",  # fullwidth -
    "\ufe63",  # small -
    "\uff20",  # fullwidth @
    "\ufe6b",  # small @
    " =",
    "\u3000=",  # ideographic space
    "\u00a0+",  # no-break space
    "\n=",
    " \uff1d",
]


@pytest.mark.parametrize("start", LOOKALIKE_STARTS)
def test_cells_that_start_a_formula_once_normalised_are_neutralised(start: str) -> None:
    value = start + 'HYPERLINK("http://evil.example","x")'
    assert cell(value) == "'" + value


@pytest.mark.parametrize("value", ["\uff41bc", "/\uff1d", "caf\u00e9", "1\uff1d1", "\u2212x"])
def test_cells_that_only_contain_lookalikes_are_kept(value: str) -> None:
    assert cell(value) == value


def test_csv_has_a_bom_crlf_and_quotes() -> None:
    data = b"".join(
        csv_chunks(("a", "b"), [{"a": 'x,"y"', "b": "line\nbreak"}, {"a": "é", "b": None}])
    )
    assert data.startswith(b"\xef\xbb\xbfa,b\r\n")
    assert data.endswith(b"\xc3\xa9,\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["a", "b"], ['x,"y"', "line\nbreak"], ["é", ""]]


def test_many_rows_stream_in_small_memory() -> None:
    """Memory stays flat however many rows come (100k here: tracing memory is slow)."""

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(100_000):
            yield {"id": i, "path": f"/posts/{i % 1000}"}

    tracemalloc.start()
    try:
        size = 0
        chunks = 0
        for chunk in csv_chunks(("id", "path"), rows()):
            size += len(chunk)
            chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 1_500_000
    assert chunks > 20
    assert peak < 2_000_000  # a few chunks, never the file


def test_the_zip_is_streamed_and_readable() -> None:
    def big() -> Iterator[bytes]:
        for i in range(2000):
            yield (f"{i}," + "x" * 1000 + "\r\n").encode()

    chunks = list(zip_chunks([("a.csv", iter([b"one\r\n"])), ("dir/b.csv", big())]))
    assert len(chunks) > 3
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.namelist() == ["a.csv", "dir/b.csv"]
    assert archive.read("a.csv") == b"one\r\n"
    assert archive.read("dir/b.csv").count(b"\r\n") == 2000
    assert archive.testzip() is None


def test_the_outbox_keeps_messages_and_forgets_an_address(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox", "Tinylytics <t@example.com>")
    mailer.send(
        Message("a@example.com", "Hello", "Open https://x.example/1", ("https://x.example/1",))
    )
    mailer.send(Message("b@example.com", "Hi", "text"))
    files = mailer.messages()
    assert len(files) == 2
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert b"Subject: Hello" in files[0].read_bytes()
    mailer.forget("A@example.com")
    assert [p.read_bytes().count(b"b@example.com") for p in mailer.messages()] == [1]


class _FakeSmtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to take one message (no TLS offered)."""

    received: list[bytes] = []

    def handle(self) -> None:
        self.wfile.write(b"220 fake ESMTP\r\n")
        data = False
        body: list[bytes] = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if data:
                if line == b".\r\n":
                    data = False
                    _FakeSmtp.received.append(b"".join(body))
                    self.wfile.write(b"250 queued\r\n")
                else:
                    body.append(line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-fake\r\n250 AUTH PLAIN\r\n")
            elif verb == b"AUTH":
                self.wfile.write(b"235 ok\r\n")
            elif verb == b"DATA":
                data = True
                self.wfile.write(b"354 go\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_smtp_sends_through_the_configured_server() -> None:
    _FakeSmtp.received = []
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _FakeSmtp) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            mailer = SmtpMailer(
                f"smtp://user:p%40ss@127.0.0.1:{port}", "Tinylytics <t@example.com>"
            )
            assert mailer.password == "p@ss"
            mailer.send(Message("a@example.com", "Confirm", "Open the link"))
        finally:
            server.shutdown()
    (sent,) = _FakeSmtp.received
    assert b"To: a@example.com" in sent and b"Subject: Confirm" in sent


def test_an_unreachable_smtp_server_is_a_mail_error() -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), _FakeSmtp) as server:
        port = server.server_address[1]
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", "t@example.com")
    with pytest.raises(MailError):
        mailer.send(Message("a@example.com", "x", "y"))


def test_mail_settings(tmp_path: Path) -> None:
    base = {"TINYLYTICS_DATA_DIR": str(tmp_path)}
    assert isinstance(make_mailer(Settings.from_env(base)), OutboxMailer)
    smtp = Settings.from_env({**base, "TINYLYTICS_SMTP_URL": "smtps://mail.example.com"})
    assert isinstance(make_mailer(smtp), SmtpMailer)
    with pytest.raises(SettingsError):
        Settings.from_env({**base, "TINYLYTICS_SMTP_URL": "http://mail.example.com"})
    with pytest.raises(SettingsError):
        Settings.from_env({**base, "TINYLYTICS_SECRET_KEY": "short"})
    sender = Settings.from_env({**base, "TINYLYTICS_MAIL_FROM": "Stats <stats@example.org>"})
    assert sender.mail_from == "Stats <stats@example.org>"


def test_the_session_secret_is_generated_once_and_kept(container: Any, settings: Settings) -> None:
    first = session_secret(settings, container.engine)
    assert len(first) >= 32
    assert session_secret(settings, container.engine) == first
    if not ON_POSTGRES:
        kept = settings.data_dir / "secret_key"
        assert kept.read_text().strip() == first
        assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    configured = Settings.from_env(
        {"TINYLYTICS_DATA_DIR": str(settings.data_dir), "TINYLYTICS_SECRET_KEY": "k" * 40}
    )
    assert session_secret(configured, container.engine) == "k" * 40


def test_a_session_survives_a_restart(env: dict[str, str]) -> None:
    from infrastructure.bootstrap import bootstrap
    from interfaces.app import create_app
    from tests.dashboard.conftest import Browser

    first = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        first.configuration.register_account("me@example.com", "correct horse")
        client = create_app(first).test_client()
        assert Browser(client, first).sign_in("me@example.com").status_code == 302
    finally:
        first.close()
    second = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        app = create_app(second)
        cookie = client.get_cookie("tinylytics_session")
        assert cookie is not None
        fresh = app.test_client()
        fresh.set_cookie("tinylytics_session", cookie.value)
        assert fresh.get("/sites").status_code == 200
    finally:
        second.close()
