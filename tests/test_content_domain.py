"""The content monitor's rules on their own: what a crawl may call fixed."""

from datetime import UTC, datetime
from uuid import uuid4

from domain.content_monitoring import ContentMonitor, Finding, monitor_id
from domain.links import BROKEN_LINK, MIXED_CONTENT

AT = datetime(2026, 12, 2, tzinfo=UTC)
IMG = "http://cdn.example/i.png"
DEAD = "https://example.com/dead"


def monitor_with_issues() -> ContentMonitor:
    site = uuid4()
    monitor = ContentMonitor(site_id=site, root_path="/", at=AT)
    assert monitor.id == monitor_id(site)
    monitor.start_crawl("one", "all")
    new = monitor.finish_crawl(
        "one",
        [
            Finding(IMG, MIXED_CONTENT, 200, "insecure", AT),
            Finding(DEAD, BROKEN_LINK, 404, "x", AT),
        ],
        answered={IMG},
        complete=True,
        at=AT,
        checked=2,
    )
    assert {f.url for f in new} == {IMG, DEAD}
    return monitor


def test_half_a_crawl_fixes_only_broken_links_it_saw_answer() -> None:
    monitor = monitor_with_issues()
    # Incomplete: the mixed image answered (it always did) and the dead link now does.
    monitor.start_crawl("two", "all")
    assert monitor.finish_crawl("two", [], {IMG, DEAD}, complete=False, at=AT, checked=2) == []
    assert set(monitor.issues) == {f"{MIXED_CONTENT} {IMG}"}
    assert monitor.crawl_running is None and monitor.last_check_at == AT


def test_half_a_crawl_that_did_not_see_a_url_fixes_nothing() -> None:
    monitor = monitor_with_issues()
    monitor.start_crawl("two", "all")
    monitor.finish_crawl("two", [], set(), complete=False, at=AT, checked=0)
    assert len(monitor.issues) == 2
    monitor.start_crawl("three", "all")
    monitor.finish_crawl("three", [], set(), complete=True, at=AT, checked=0)
    assert monitor.issues == {}


def test_ignored_issues_are_never_new_again() -> None:
    monitor = monitor_with_issues()
    monitor.ignore(f"{BROKEN_LINK} {DEAD}")
    monitor.finish_crawl("x", [], set(), complete=True, at=AT, checked=0)
    again = [Finding(DEAD, BROKEN_LINK, 410, "Gone", AT)]
    assert monitor.finish_crawl("y", again, set(), complete=True, at=AT, checked=1) == []
    assert f"{BROKEN_LINK} {DEAD}" in monitor.ignored
