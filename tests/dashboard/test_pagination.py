"""Every paginated page of the dashboard, walked as a person does: follow "Older" from
the first page and "Newer" back, with the query (a chosen period) kept on the way.
(The webhook Events page pages with `before=`: tests/dashboard/test_webhooks_pages.py.)"""

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.dashboard.conftest import custom_event, hit, record, text

_LINK = re.compile(r'<a class="button secondary" href="([^"]+)">([^<]+)</a>')


def _links(response: Any) -> dict[str, str]:
    """The pager's links by their label ("Older", "Newer")."""
    found = _LINK.findall(response.get_data(as_text=True))
    return {label.strip(" →←"): html.unescape(href) for href, label in found}


def _listed(response: Any, section: str) -> str:
    """The paged list of the page: its HTML from the section's heading on."""
    page = response.get_data(as_text=True)
    assert section in page
    return page.split(section, 1)[1]


def _walk(owner: Any, first_url: str, section: str, on_first: str, on_second: str) -> None:
    """Page 1 lists `on_first` (a cell's text) and not `on_second`; Older leads to page 2,
    which lists `on_second` only; Newer leads back."""
    first = owner.browser.get(first_url)
    assert first.status_code == 200
    listed = _listed(first, section)
    assert f">{on_first}<" in listed and f">{on_second}<" not in listed
    older = _links(first)["Older"]
    assert older.startswith(f"/sites/{owner.uid}/")
    second = owner.browser.get(older)
    assert second.status_code == 200, second.get_data(as_text=True)[:300]
    assert "Page 2" in text(second)
    listed = _listed(second, section)
    assert f">{on_second}<" in listed and f">{on_first}<" not in listed
    assert "Older" not in _links(second)
    back = owner.browser.get(_links(second)["Newer"])
    assert back.status_code == 200 and f">{on_first}<" in _listed(back, section)


def test_the_kudos_tab_pages_through_51_kudos(owner: Any) -> None:
    container = owner.browser.container
    container.tracking.give_kudo(owner.site_id, "/the-first", None, "api")
    for n in range(50):
        container.tracking.give_kudo(owner.site_id, f"/later-{n}", None, "api")
    container.projections.catch_up()
    # Newest first: the first kudo is alone on page 2.
    _walk(owner, f"/sites/{owner.uid}/kudos", 'id="kudos-recent"', "/later-49", "/the-first")


def test_the_events_tab_pages_through_51_events_keeping_the_period(owner: Any) -> None:
    now = datetime.now(UTC)
    events = [custom_event(owner.site_id, now - timedelta(hours=2), "first.event", "old")]
    events += [
        custom_event(owner.site_id, now - timedelta(minutes=60 - n), "later.event", f"v{n}")
        for n in range(50)
    ]
    record(owner.browser.container, events)
    url = f"/sites/{owner.uid}/events?period=7d"
    first = owner.browser.get(url)
    assert "period=7d" in _links(first)["Older"]
    _walk(owner, url, 'id="event-list"', "v49", "first.event")


def test_the_journeys_tab_pages_through_26_journeys(owner: Any) -> None:
    now = datetime.now(UTC)
    items = [hit(owner.site_id, now - timedelta(hours=3), "/the-oldest", visitor_hash="v-old")]
    items += [
        hit(owner.site_id, now - timedelta(minutes=100 - n), f"/visit-{n}", visitor_hash=f"v{n}")
        for n in range(25)
    ]
    record(owner.browser.container, items)
    _walk(owner, f"/sites/{owner.uid}/journeys", "<h2>Journeys</h2>", "/visit-24", "/the-oldest")


def test_page_numbers_are_ascii_digits_only(owner: Any) -> None:
    container = owner.browser.container
    for n in range(51):
        container.tracking.give_kudo(owner.site_id, f"/k-{n}", None, "api")
    container.projections.catch_up()
    assert "Page 2" in text(owner.browser.get(f"/sites/{owner.uid}/kudos?page=2"))
    # Two in Arabic-Indic, fullwidth and Devanagari digits, and other spellings int() takes.
    for odd in ("\u0662", "\uff12", "\u0968", " 2", "+2", "0_2"):
        shown = owner.browser.get(f"/sites/{owner.uid}/kudos", query_string={"page": odd})
        assert shown.status_code == 200 and "Page 1" in text(shown), odd
