"""`tinylytics jobs status|list|due`, `reports send` and `mail status`, as an operator runs
them (each command wires its own container from the environment)."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from click.testing import CliRunner, Result

from application.clock import Job
from application.reports import REPORT_KIND
from infrastructure.bootstrap import Container
from interfaces.cli import main
from tests.conftest import World


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def ok(env: dict[str, str], *args: str) -> Any:
    result = cli(env, *args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_jobs_status_shows_kinds_counts_next_due_and_lateness(
    env: dict[str, str], container: Container, world: World
) -> None:
    owner = world.account()
    site = world.site(owner, timezone="Asia/Kathmandu")
    assert cli(env, "jobs", "status").stdout.strip() == "no jobs yet"
    start = datetime(2026, 11, 30, 0, 10, tzinfo=UTC)  # Monday 05:55 in Kathmandu
    with time_machine.travel(start, tick=False) as traveller:
        container.schedule.put(container.initial_jobs(), replace=False)
        container.clock.tick()
        listed = ok(env, "jobs", "list", "--kind", REPORT_KIND)["jobs"]
        assert listed == [
            {
                "kind": REPORT_KIND,
                "key": str(site.uuid),
                "due_at": "2026-11-30T00:15:00+00:00",
                "cron": "0 6 * * 1",
                "zone": "Asia/Kathmandu",
                "every_seconds": None,
                "host": None,
            }
        ]
        traveller.shift(timedelta(minutes=5, seconds=2))
        container.clock.tick()  # the report fires 2 s late
        status = {k["kind"]: k for k in ok(env, "jobs", "status")["kinds"]}
    report = status[REPORT_KIND]
    assert report["jobs"] == 1 and report["due_now"] == 0 and report["running"] == 0
    assert report["next_due_at"] == "2026-12-07T00:15:00+00:00"
    assert report["lateness_ms"]["p50"] == 2000 and report["lateness_max_ms"] == 2000
    assert report["description"] == "a site's Monday report"
    assert {"report.sync", "retention.prune"} <= set(status)
    text = cli(env, "jobs", "status").stdout
    assert "report.weekly" in text and "2000/2000" in text


def test_jobs_due_moves_a_job_and_reports_send_sends_now(
    env: dict[str, str], container: Container, world: World
) -> None:
    owner = world.account("owner@example.com")
    site = world.site(owner)
    rule_job = Job(REPORT_KIND, str(site.uuid), datetime(2026, 12, 7, 6, tzinfo=UTC))
    container.schedule.put([rule_job])
    moved = ok(env, "jobs", "due", REPORT_KIND, str(site.uuid), "--at", "2026-12-01T10:00:00Z")
    assert moved["due_at"] == "2026-12-01T10:00:00+00:00"
    found = container.schedule.get(REPORT_KIND, str(site.uuid))
    assert found is not None and found.due_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    missing = cli(env, "jobs", "due", REPORT_KIND, "nope", "--json")
    assert missing.exit_code == 1 and json.loads(missing.stdout) == {
        "error": "no job report.weekly/nope"
    }
    bad = cli(env, "jobs", "due", REPORT_KIND, str(site.uuid), "--at", "next tuesday", "--json")
    assert bad.exit_code == 1 and "ISO 8601" in json.loads(bad.stdout)["error"]

    sent = ok(env, "reports", "send", "--site", str(site.id))
    assert sent == {
        "site": site.id,
        "mails": [{"to": "owner@example.com", "sent": True, "error": None}],
    }
    status = ok(env, "mail", "status")
    assert (status["sent"], status["pending"], status["failed"]) == (1, 0, 0)
