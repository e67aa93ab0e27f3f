"""Content monitoring end to end on the real stores: enable, the clock's crawls of a
real local site, the issue lifecycle (found, fixed, ignored), what a crawl cut short
may not call fixed, and the alert mails."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import time_machine

from application.content_checks import CHECK_EVERY, CHECK_KIND, URL_KIND
from application.premium import FeatureNotEnabled, SubscriptionRequired
from domain.content_monitoring import monitor_id
from domain.errors import DomainError
from infrastructure.bootstrap import Container
from tests.conftest import World
from tests.content_helpers import Answer, Handler, Site, page, serving
from tests.test_reports import outbox
from tests.test_webhooks import hooks  # noqa: F401  (the fixture)

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_BASE_URL"] = "https://stats.example.org"
    return env


@dataclass
class Monitored:
    c: Container
    site: Site
    site_id: UUID
    owner: Any

    def tick(self) -> int:
        fired = self.c.clock.tick()
        self.c.projections.catch_up()
        return fired

    def report(self) -> Any:
        return self.c.reads.content.report(self.site_id, datetime.now(UTC))

    def events(self) -> list[str]:
        stored = self.c.content_monitoring.events.get(monitor_id(self.site_id))
        return [type(e).__name__ for e in stored]

    def alerts(self) -> list[Any]:
        return [m for m in outbox(self.c) if "content issue" in str(m["Subject"])]


def text_of(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")


def hang_up(_handler: Handler) -> Answer:
    raise ConnectionResetError  # the server closes the connection, answering nothing


@pytest.fixture
def local(container: Container, world: World) -> Iterator[Monitored]:
    routes: dict[str, Any] = {
        "/": page('<a href="/about">about</a> <a href="/missing">missing</a>'),
        "/about": page('<img src="/logo.png"> <a href="/">home</a>'),
        "/logo.png": Answer(200, b"x", {"Content-Type": "image/png"}),
    }
    with serving(routes) as site:
        owner = world.account(is_subscribed=True)
        created = world.site(owner, site.origin)
        yield Monitored(container, site, created.uuid, owner)


def test_enabling_queues_the_initial_check_and_the_clock_crawls(local: Monitored) -> None:
    c = local.c
    with time_machine.travel(START, tick=False) as traveller:
        c.content.enable(local.site_id)
        c.projections.catch_up()
        job = c.schedule.get(CHECK_KIND, str(local.site_id))
        assert job is not None and job.due_at == START
        before = local.report()
        assert before.monitoring_status.is_initial_check
        assert before.monitoring_status.last_check_at is None
        assert local.tick() == 1
        report = local.report()
        status = report.monitoring_status
        assert not status.is_initial_check and not status.is_rechecking
        assert status.last_check_at == START and status.has_issues
        assert [i.url for i in report.broken_links] == [local.site.url("/missing")]
        assert report.broken_links[0].status_code == 404
        assert report.broken_links[0].error_message == "Not Found"
        assert report.stats.total_checked == 4 and report.stats.ok_count == 3
        assert {o.url for o in report.ok_links} == {
            local.site.url(p) for p in ("/", "/about", "/logo.png")
        }
        # Daily after that: nothing before a day has passed, then the next crawl.
        assert local.tick() == 0
        traveller.shift(timedelta(seconds=CHECK_EVERY + 1))
        assert local.tick() == 1
        assert local.events().count("CrawlFinished") == 2
        assert local.events().count("IssueFound") == 1  # the same issue, found once


def test_fixed_only_when_a_complete_crawl_no_longer_finds_it(local: Monitored) -> None:
    c, site = local.c, local.site
    c.content.enable(local.site_id)
    local.tick()
    assert len(local.report().broken_links) == 1
    # The link is removed from the page, but another page now hangs up without an
    # answer: the crawl is cut short, so the missing link's issue is unknown, not fixed.
    site.routes["/"] = page('<a href="/about">about</a> <a href="/hang">hang</a>')
    site.routes["/hang"] = hang_up
    c.content.check_all(local.site_id)
    local.tick()
    broken = {i.url: i for i in local.report().broken_links}
    assert set(broken) == {site.url("/missing"), site.url("/hang")}
    assert broken[site.url("/hang")].status_code is None
    assert "IssueFixed" not in local.events()
    # A complete crawl without it: fixed.
    site.routes["/hang"] = page("fine now")
    c.content.check_all(local.site_id)
    local.tick()
    assert local.report().broken_links == []
    assert local.events().count("IssueFixed") == 2
    assert not local.report().monitoring_status.has_issues


def test_an_interrupted_crawl_fixes_nothing_and_comes_back_soon(local: Monitored) -> None:
    c = local.c
    c.content.enable(local.site_id)
    local.tick()
    local.site.routes["/"] = page("no links any more")
    c._stop.set()  # a shutdown while the crawl runs
    try:
        with time_machine.travel(START, tick=False):
            c.content.check_all(local.site_id)
            local.tick()
            job = c.schedule.get(CHECK_KIND, str(local.site_id))
            assert job is not None and job.due_at == START + timedelta(minutes=5)
    finally:
        c._stop.clear()
    assert len(local.report().broken_links) == 1
    assert "IssueFixed" not in local.events()


def test_a_crawl_that_died_midway_is_run_again_from_the_start(local: Monitored) -> None:
    """A process dies after CrawlStarted: the status says rechecking; the next firing
    (the lease ran out) crawls from the start and finishes cleanly."""
    c = local.c
    c.content.enable(local.site_id)
    local.tick()
    c.content_monitoring.start_crawl(local.site_id, "died", "all")
    c.projections.catch_up()
    assert local.report().monitoring_status.is_rechecking
    c.content.check_all(local.site_id)
    local.tick()
    status = local.report().monitoring_status
    assert not status.is_rechecking and len(local.report().broken_links) == 1


def test_check_specific_url_fixes_that_url_only(local: Monitored) -> None:
    c, site = local.c, local.site
    site.routes["/"] = page('<a href="/missing">m</a> <img src="/gone.png">')
    c.content.enable(local.site_id)
    local.tick()
    assert {i.url for i in local.report().broken_links} == {
        site.url("/missing"),
        site.url("/gone.png"),
    }
    site.routes["/missing"] = page("back")
    assert c.content.check_url(local.site_id, "/missing") == site.url("/missing")
    assert c.schedule.get(URL_KIND, f"{local.site_id} {site.url('/missing')}") is not None
    local.tick()
    assert [i.url for i in local.report().broken_links] == [site.url("/gone.png")]
    assert site.hits("/", "GET") == 1  # only the URL asked for was fetched again
    with pytest.raises(DomainError):
        c.content.check_url(local.site_id, "javascript:alert(1)")
    with pytest.raises(DomainError):
        c.content.check_url(local.site_id, "   ")


def test_ignore_and_unignore(local: Monitored) -> None:
    c = local.c
    c.content.enable(local.site_id)
    local.tick()
    issue = local.report().broken_links[0]
    key = f"broken_link {issue.url}"
    c.content_monitoring.ignore(local.site_id, key)
    c.projections.catch_up()
    report = local.report()
    assert report.broken_links == [] and [i.url for i in report.ignored_issues] == [issue.url]
    assert report.ignored_issues[0].ignored and report.stats.ignored_count == 1
    assert not report.monitoring_status.has_issues
    # Found again by the next crawl: still ignored, and no alert for it.
    mails = len(local.alerts())
    c.content.check_all(local.site_id)
    local.tick()
    assert local.report().broken_links == [] and len(local.alerts()) == mails
    c.content_monitoring.unignore(local.site_id, key)
    c.projections.catch_up()
    report = local.report()
    assert [i.url for i in report.broken_links] == [issue.url] and report.ignored_issues == []
    assert report.broken_links[0].id == issue.id  # the same issue, the same id
    assert local.events()[-1] == "Unignored"
    with pytest.raises(DomainError):
        c.content_monitoring.unignore(local.site_id, key)
    with pytest.raises(DomainError):
        c.content_monitoring.ignore(local.site_id, "broken_link https://nowhere.example/")


def test_alert_mail_for_new_issues_once_unless_paused_or_off(local: Monitored) -> None:
    c, site = local.c, local.site
    with time_machine.travel(START, tick=False) as traveller:
        c.content.enable(local.site_id)
        local.tick()
        [mail] = local.alerts()
        assert mail["To"] == "owner@example.com"
        assert str(mail["Subject"]) == f"1 new content issue on {site.origin.split('//')[1]}"
        body = text_of(mail)
        assert site.url("/missing") in body and "404 Not Found" in body
        assert "https://stats.example.org/sites/" in body
        # The same issues again: no new mail.
        c.content.check_all(local.site_id)
        local.tick()
        assert len(local.alerts()) == 1
        # Paused until tomorrow: a new issue sends nothing.
        c.content_monitoring.pause_emails(local.site_id, START + timedelta(days=1))
        c.projections.catch_up()
        status = local.report().monitoring_status
        assert status.emails_paused and status.emails_paused_until == START + timedelta(days=1)
        site.routes["/about"] = page('<a href="/also-missing">x</a>')
        c.content.check_all(local.site_id)
        local.tick()
        assert len(local.alerts()) == 1
        # Past the pause, alerts off: still nothing.
        traveller.shift(timedelta(days=2))
        assert not local.report().monitoring_status.emails_paused
        c.content_monitoring.switch_alerts(local.site_id, False)
        site.routes["/about"] = page('<a href="/third-missing">x</a>')
        c.content.check_all(local.site_id)
        local.tick()
        assert len(local.alerts()) == 1
        # On again: the next new issue is mailed.
        c.content_monitoring.switch_alerts(local.site_id, True)
        site.routes["/about"] = page('<a href="/fourth-missing">x</a>')
        c.content.check_all(local.site_id)
        local.tick()
        assert len(local.alerts()) == 2
        with pytest.raises(DomainError):
            c.content_monitoring.pause_emails(local.site_id, START)


def test_premium_and_off(container: Container, world: World) -> None:
    free = world.account("free@example.com")
    site = world.site(free, "https://example.com")
    with pytest.raises(SubscriptionRequired):
        container.content.enable(site.uuid)
    paid = world.account("paid@example.com", is_subscribed=True)
    other = world.site(paid, "https://example.org")
    with pytest.raises(FeatureNotEnabled):
        container.content.check_all(other.uuid)
    assert container.reads.content.report(other.uuid, datetime.now(UTC)) is None
    with pytest.raises(DomainError):
        container.content.enable(other.uuid, "/blog?x=1")
    container.content.enable(other.uuid, "blog/")
    container.projections.catch_up()
    report = container.reads.content.report(other.uuid, datetime.now(UTC))
    assert report is not None and report.monitoring_status.root_path == "/blog"
    container.content.disable(other.uuid)
    container.projections.catch_up()
    assert container.reads.content.report(other.uuid, datetime.now(UTC)) is None
    assert container.schedule.get(CHECK_KIND, str(other.uuid)) is None


def test_erasing_the_account_leaves_no_content_monitoring_behind(
    local: Monitored, settings: Any
) -> None:
    from tests.test_erasure import traces

    c = local.c
    c.content.enable(local.site_id)
    local.tick()
    needle = local.site.url("/missing").split("://", 1)[1]
    assert traces(settings, [needle])  # the crawl's rows and the issue hold it
    c.erasure.delete_account(local.owner.uuid)
    c.projections.catch_up()
    assert traces(settings, [needle]) == []
    assert list(c.content_monitoring.events.get(monitor_id(local.site_id))) == []
    assert c.schedule.get(CHECK_KIND, str(local.site_id)) is None


def _keys(value: Any) -> Any:
    """The shape of a JSON value: its keys, all the way down (first item of lists)."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value else []
    return None


def test_api_content_answers_exactly_as_documented(local: Monitored, client: Any) -> None:
    import json

    from tests.conftest import bearer
    from tests.test_api_premium import DOCUMENTED, _document, _validator

    c, site = local.c, local.site
    site.routes["/"] = page('<a href="/about">a</a> <a href="/missing">m</a>')
    site.routes["/about"] = page('<a href="/gone">g</a>')
    secret = c.configuration.issue_key(local.owner.uuid, "api", "read_only").secret
    c.projections.catch_up()
    headers = bearer(secret)
    listed = client.get("/api/v1/sites", headers=headers).json["sites"]
    number = listed[0]["id"]
    off = client.get(f"/api/v1/sites/{number}/content", headers=headers)
    assert off.status_code == 403 and off.json["content_monitoring_enabled"] is False
    with time_machine.travel(START, tick=False):
        c.content.enable(local.site_id, "/")
        local.tick()
        c.content_monitoring.ignore(local.site_id, f"broken_link {site.url('/gone')}")
        c.projections.catch_up()
        answer = client.get(f"/api/v1/sites/{number}/content", headers=headers)
    assert answer.status_code == 200
    body = answer.json
    _validator(_document(client), "/sites/{id}/content", 200).validate(body)
    documented = json.loads(DOCUMENTED["/sites/{id}/content"])
    documented["ignored_issues"] = documented["issues"]["broken_links"]
    documented["ok_links"] = documented["issues"]["broken_links"]
    assert _keys(body) == _keys(documented)
    assert body["site"]["url"] == site.origin
    status = body["monitoring_status"]
    assert status == {
        "enabled": True,
        "root_path": None,
        "last_check_at": "2026-12-02T09:00:00Z",
        "is_initial_check": False,
        "is_rechecking": False,
        "has_issues": True,
        "emails_paused": False,
        "emails_paused_until": None,
    }
    [missing] = body["issues"]["broken_links"]
    assert missing["url"] == site.url("/missing") and missing["status_code"] == 404
    assert missing["issue_type"] == "broken_link" and missing["ignored"] is False
    assert missing["error_message"] == "Not Found"
    assert [i["url"] for i in body["ignored_issues"]] == [site.url("/gone")]
    assert body["issues"]["mixed_content"] == []
    assert body["stats"] == {
        "total_checked": 4,
        "broken_links_count": 1,
        "mixed_content_count": 0,
        "ignored_count": 1,
        "ok_count": 2,
    }
    # The plan lapses: 403 without the flag; the clock's next crawl does nothing.
    c.configuration.set_subscribed(local.owner.uuid, False)
    c.projections.catch_up()
    lapsed = client.get(f"/api/v1/sites/{number}/content", headers=headers)
    assert lapsed.status_code == 403
    assert lapsed.json == {"error": "This endpoint requires an active subscription"}
    requests = len(site.requests)
    assert c.content.run_check(local.site_id) is None and len(site.requests) == requests


def test_a_content_issue_webhook_per_new_issue(hooks: Any) -> None:  # noqa: F811
    """Each new issue is one `content_issue` delivery with the `check` object
    subscribers read; a re-crawl that finds the same issue, or an ignored one, sends
    nothing; a rebuild of the projections re-sends nothing."""
    h = hooks
    created = h.create("content_issue", path="/content")
    h.sub.secrets = [created.secret]
    routes: dict[str, Any] = {"/": page('<a href="/missing">m</a> <a href="/gone">g</a>')}
    with serving(routes) as local_site:
        site = h.world.site(h.owner, local_site.origin, label="Local")
        h.c.content.enable(site.uuid)
        h.c.clock.tick()
        h.c.projections.catch_up()
        received = h.deliver()
        assert sorted(r.json["check"]["url"] for r in received) == [
            local_site.url("/gone"),
            local_site.url("/missing"),
        ]
        got = next(r for r in received if r.json["check"]["url"].endswith("/missing"))
        assert got.headers["x-tinylytics-event"] == "content_issue"
        check = got.json["check"]
        assert set(check) == {"url", "issue_type", "status_code", "error_message", "checked_at"}
        assert check["issue_type"] == "broken_link" and check["status_code"] == 404
        assert check["error_message"] == "Not Found" and check["checked_at"].endswith("Z")
        assert got.json["site"]["url"] == local_site.origin
        # Fixed, ignored, found again: nothing new is sent.
        key = f"broken_link {local_site.url('/gone')}"
        h.c.content_monitoring.ignore(site.uuid, key)
        local_site.routes["/"] = page('<a href="/missing">m</a>')
        h.c.content.check_all(site.uuid)
        h.c.clock.tick()
        local_site.routes["/"] = page('<a href="/missing">m</a> <a href="/gone">g</a>')
        h.c.content.check_all(site.uuid)
        h.c.clock.tick()
        h.c.projections.catch_up()
        assert "IssueFixed" in [
            type(e).__name__ for e in h.c.content_monitoring.events.get(monitor_id(site.uuid))
        ]
        for name in list(h.c.projections.projections):
            h.c.projections.rebuild(name)
        assert len(h.deliver()) == 2
