"""End to end on the embedded default: a new user and site, `tinylytics serve` started
with nothing configured, and Monday's report lands in data/outbox/ (or, with
TINYLYTICS_SMTP_URL, at the mail server). Time cannot travel into another process, so
the report's due time is moved into the past through the CLI, as an operator would."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from interfaces.cli import main
from tests.dashboard.conftest import plain_text
from tests.mail_helpers import Inbox, free_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


EMBEDDED = {"DATABASE_URL": None, "REDIS_URL": None, "TINYLYTICS_DB_SCHEMA": None}


def _cli(env: dict[str, str], *args: str) -> Any:
    # The embedded default: the variables of a PostgreSQL + Redis run are taken away.
    result = CliRunner().invoke(main, [*args, "--json"], env={**EMBEDDED, **env})
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def _wait(found: Callable[[], T | None], seconds: float = 30) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.1)  # polling another process: nothing here can travel in time
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["outbox", "smtp"])
def test_a_new_user_gets_mondays_report_without_configuring_anything(
    tmp_path: Path, transport: str
) -> None:
    data = tmp_path / "data"
    # The embedded default, whatever backend the rest of the suite runs on.
    env = {"TINYLYTICS_DATA_DIR": str(data), "TINYLYTICS_GEOIP_REFRESH": "off"}
    inbox = Inbox()
    mail_port = free_port()
    if transport == "smtp":
        env["TINYLYTICS_SMTP_URL"] = f"smtp://127.0.0.1:{mail_port}"
    _cli(env, "users", "create", "--email", "new@example.com", "--password", "a long password")
    site = _cli(
        env, "sites", "create", "--owner", "new@example.com", "--url", "https://new.example"
    )

    port = free_port()
    server_env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "TINYLYTICS_DB_SCHEMA")
    }
    server_env.update(env)
    tinylytics = Path(sys.executable).parent / "tinylytics"
    with smtp_server(inbox, port=mail_port, mode="plain", login=False):
        server = subprocess.Popen(
            [str(tinylytics), "serve", "--port", str(port)],
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:

            def listening() -> bool:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    return True
                except OSError:
                    return False

            _wait(listening)
            # The server's clock found the new site and scheduled its Monday report.
            jobs = _wait(lambda: _cli(env, "jobs", "list", "--kind", "report.weekly")["jobs"])
            (job,) = jobs
            assert job["cron"] == "0 6 * * 1" and job["zone"] == "UTC"
            _cli(env, "jobs", "due", "report.weekly", job["key"], "--at", "2026-11-30T06:00:00Z")

            def delivered() -> list[Any]:
                if transport == "smtp":
                    return inbox.received
                folder = data / "outbox"
                return [message_from_bytes(p.read_bytes()) for p in folder.glob("*.eml")]

            (mail,) = _wait(delivered)

            def recorded() -> dict[str, Any] | None:
                kinds = {k["kind"]: k for k in _cli(env, "jobs", "status")["kinds"]}
                return kinds if kinds["report.weekly"]["last_fired_at"] else None

            kinds = _wait(recorded)  # the firing is recorded within a second of its end
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    assert mail["To"] == "new@example.com"
    assert str(mail["Subject"]).startswith("Weekly report for new.example")
    assert "Total hits: 0" in plain_text(mail)
    assert site["uid"] in plain_text(mail)  # the dashboard link
    assert kinds["report.weekly"]["next_due_at"] > "2026-12-01"
    assert {"report.sync", "retention.prune"} <= set(kinds)
