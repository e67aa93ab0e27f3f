"""The overview tab and the public stats page: chart, totals, breakdowns, periods; what
they read (rollups, not raw hits); and the CSV export of a site's hits."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from application.sites import SiteChanges
from tests.dashboard.conftest import custom_event, hit, record, text


def seed(owner: Any) -> datetime:
    """A day of varied traffic an hour ago, and older hits; returns the time of the hour."""
    site = owner.site_id
    now = datetime.now(UTC)
    recent = now - timedelta(hours=1)
    items = [
        hit(site, recent, "/", country="DE", browser="Firefox", platform="Linux", unique_hash="a"),
        hit(site, recent, "/", country="DE", browser="Firefox", platform="Linux", unique_hash="a"),
        hit(
            site,
            recent,
            "/posts/one",
            referrer="https://news.ycombinator.com/item?id=1",
            source="hackernews",
            country="US",
            browser="Safari",
            platform="iOS",
            utm_campaign="spring-sale",
            unique_hash="b",
        ),
        hit(
            site,
            recent,
            "/posts/two",
            referrer="https://blog.example.com/",
            source="internal",
            country="FR",
            browser="Chrome",
            platform="Windows",
        ),
        hit(site, now - timedelta(days=20), "/old", country="JP"),
        # Feed readers reporting their subscribers: the latest count of each counts.
        hit(
            site, now - timedelta(days=3), "/feed", channel="pixel", source="Feedly", subscribers=90
        ),
        hit(
            site,
            now - timedelta(days=1),
            "/feed",
            channel="pixel",
            source="Feedly",
            subscribers=100,
        ),
        hit(
            site,
            now - timedelta(days=2),
            "/feed",
            channel="pixel",
            source="Inoreader",
            subscribers=7,
        ),
        hit(
            site,
            now - timedelta(days=9),
            "/feed",
            channel="pixel",
            source="NewsBlur",
            subscribers=50,
        ),
        custom_event(site, recent, "signup.click", "pro"),
    ]
    record(owner.browser.container, items)
    owner.browser.container.tracking.give_kudo(site, "/posts/one", None, "api")
    owner.browser.container.projections.catch_up()
    return recent


def test_the_overview_shows_the_chart_totals_and_every_breakdown(owner: Any) -> None:
    seed(owner)
    response = owner.browser.get(f"/sites/{owner.uid}?period=7d")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    shown = text(response)
    assert body.count('<svg class="chart"') == 1
    assert "Hits, last 7 days: 7 hits" in body  # the chart's accessible name
    assert "7 Hits, last 7 days" in shown
    assert "9 Hits in all" in shown
    # Breakdowns
    assert "/posts/one 1 " in shown
    assert "news.ycombinator.com/item?id=1 1" in shown
    assert "Direct (none) 5" in shown
    assert "blog.example.com" not in shown.split("Referrers", 1)[1].split("Sources", 1)[0]
    assert "hackernews 1" in shown
    assert "spring-sale 1" in shown
    assert "Germany 2" in shown and "🇩🇪" in shown
    assert "Firefox 2" in shown and "Linux 2" in shown
    assert "signup.click pro 1" in shown
    assert "/posts/one 1" in shown.split("Kudos by page", 1)[1]
    # The subscriber estimate: Feedly's latest (100) + Inoreader (7); NewsBlur is too old.
    assert "107 Feed subscribers (estimate)" in shown
    assert "Feedly 100" in shown and "NewsBlur" not in shown
    # The old hit is in the 30 days only.
    assert "/old" not in shown
    assert "/old" in text(owner.browser.get(f"/sites/{owner.uid}?period=30d"))


def test_internal_referrers_are_hidden_until_asked_for(owner: Any) -> None:
    seed(owner)
    page = owner.browser.get(f"/sites/{owner.uid}?period=24h&internal=1")
    referrers = text(page).split("Referrers", 1)[1].split("Sources", 1)[0]
    assert "blog.example.com 1" in referrers
    assert "Hide internal" in referrers


def test_the_24_hour_chart_has_an_hourly_bar_for_each_hour(owner: Any) -> None:
    recent = seed(owner)
    page = owner.browser.get(f"/sites/{owner.uid}?period=24h")
    body = page.get_data(as_text=True)
    assert body.count('class="bar-hits"') == 24
    label = recent.strftime("%H:00")
    assert f"{label}: 4 hits" in text(page)


def test_the_chart_follows_the_site_time_zone(owner: Any) -> None:
    container = owner.browser.container
    container.configuration.change_site(owner.site_id, SiteChanges(timezone="Pacific/Kiritimati"))
    at = datetime.now(UTC) - timedelta(minutes=1)
    record(container, [hit(owner.site_id, at, "/")])
    page = owner.browser.get(f"/sites/{owner.uid}?period=7d")
    # The hit's own local day (at 10:00 UTC, local midnight, a minute ago was yesterday).
    local_today = (at + timedelta(hours=14)).date()
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td class=\"num\">(\d+)</td>", page.get_data(as_text=True)
    )
    today = [
        hits
        for day, hits in rows
        if day.endswith(f"{local_today.day} {local_today.strftime('%b')} {local_today.year}")
    ]
    assert today == ["1"]


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("?period=24h", "Last 24 hours"),
        ("?period=30d", "Last 30 days"),
        ("?period=custom&start=2026-01-01&end=2026-01-31", "2026-01-01 to 2026-01-31"),
        ("?period=weird", "Last 7 days"),
    ],
)
def test_periods(owner: Any, query: str, label: str) -> None:
    page = owner.browser.get(f"/sites/{owner.uid}{query}")
    assert page.status_code == 200
    assert f"Hits, {label.lower()}" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-02-01&end=2026-01-01", "end", "must not be before the start"),
        ("start=nonsense&end=2026-01-01", "start", "Not a valid date"),
        ("start=2020-01-01&end=2026-01-01", "end", "at most 730 days"),
        ("start=0001-01-01&end=0001-01-02", "end", "between 2000 and 2100"),
        ("end=2026-01-01", "start", "Pick a start date"),
    ],
)
def test_a_bad_custom_range_is_shown_in_place(
    owner: Any, query: str, field: str, message: str
) -> None:
    page = owner.browser.get(f"/sites/{owner.uid}?period=custom&{query}")
    assert page.status_code == 200  # the default period is shown meanwhile
    body = page.get_data(as_text=True)
    assert f'id="{field}-error"' in body
    assert message in text(page)
    assert "Hits, last 7 days" in body


def test_public_stats_are_shown_only_when_on(owner: Any, other: Any) -> None:
    seed(owner)
    assert other.get(f"/public/{owner.uid}").status_code == 404
    owner.browser.container.configuration.change_site(owner.site_id, SiteChanges(public=True))
    page = other.get(f"/public/{owner.uid}?period=24h")
    assert page.status_code == 200
    shown = text(page)
    assert "Public statistics of https://blog.example.com" in shown
    assert "/posts/one" in shown
    body = page.get_data(as_text=True)
    assert f"/sites/{owner.uid}/edit" not in body  # no owner tabs
    assert "Export CSV" not in shown
    assert (
        other.get(f"/public/{owner.uid}?period=custom&start=2026-01-01&end=2026-01-02").status_code
        == 200
    )


def test_pages_carry_security_headers_and_no_outside_assets(owner: Any) -> None:
    page = owner.browser.get(f"/sites/{owner.uid}")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["Cache-Control"] == "no-store"
    body = page.get_data(as_text=True)
    for found in re.findall(r'(?:src|href)="([^"]+)"', body):
        assert not found.startswith("//")
        assert not found.startswith("http") or found.startswith(
            ("http://localhost", "https://blog.example.com")
        )
    css = owner.browser.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and "system-ui" in css.get_data(as_text=True)
    assert "@import" not in css.get_data(as_text=True) and "url(" not in css.get_data(as_text=True)
    assert owner.browser.get("/dashboard/static/dashboard.js").status_code == 200


def test_breakdowns_read_rollups_and_raw_rows_only_within_a_few_days(owner: Any) -> None:
    """At 10M hits a scan of the raw rows would be slow: the overview reads the rollups
    (campaigns included) and the feed readers' latest counts, never the raw rows of a
    UTC site; another zone's partial edge days are raw reads bounded in time."""
    seed(owner)
    container = owner.browser.container
    statements: list[str] = []

    def remember(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", remember)
    try:
        for period in ("24h", "7d", "30d"):
            assert owner.browser.get(f"/sites/{owner.uid}?period={period}").status_code == 200
        container.configuration.change_site(owner.site_id, SiteChanges(timezone="Asia/Kathmandu"))
        container.projections.catch_up()
        site_statements = len(statements)
        for period in ("7d", "30d"):
            assert owner.browser.get(f"/sites/{owner.uid}?period={period}").status_code == 200
    finally:
        event.remove(container.engine, "before_cursor_execute", remember)
    utc_site, zoned_site = statements[:site_statements], statements[site_statements:]
    assert statements, "the listener saw the overview's reads"
    assert not [s for s in utc_site if re.search(r"\btraffic_hits\b", s)]
    raw = [s for s in zoned_site if re.search(r"\btraffic_hits\b", s)]
    assert raw, "the edges of a day in Asia/Kathmandu (UTC+5:45) are read from raw rows"
    for statement in raw:
        assert "created_at >=" in statement and "created_at <" in statement, statement
    # Unfiltered, whole days come from the single-dimension rollups: the combination
    # rollups are about as many rows as the hits when traffic is varied.
    assert any("traffic_dims" in s for s in statements)
    assert not any(re.search(r"\btraffic_daily\b", s) for s in statements)
    assert any("traffic_hourly" in s for s in statements)
    assert any("traffic_quarters" in s for s in statements)
    assert any("traffic_feeds" in s for s in statements)


# -- the CSV export ------------------------------------------------------------------------
def test_the_csv_export_opens_cleanly_in_a_spreadsheet(owner: Any) -> None:
    site = owner.site_id
    now = datetime.now(UTC)
    record(
        owner.browser.container,
        [
            hit(site, now - timedelta(minutes=3), "/plain", country="DE"),
            hit(site, now - timedelta(minutes=2), "/=cmd|' /C calc'!A0", referrer="+1+1"),
            hit(site, now - timedelta(minutes=1), '/a,b"c', referrer="@SUM(1)", source="-2"),
            hit(site, now - timedelta(days=40), "/too-old"),
        ],
    )
    today = now.date()
    start = (today - timedelta(days=7)).isoformat()
    response = owner.browser.get(f"/sites/{owner.uid}/export?start={start}&end={today.isoformat()}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.is_streamed
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    assert b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["id", "created_at_utc", "path"]
    paths = [r[2] for r in body]
    assert paths == ["/plain", "/=cmd|' /C calc'!A0", '/a,b"c']
    by = {r[2]: dict(zip(header, r, strict=True)) for r in body}
    assert by['/a,b"c']["referrer"] == "'@SUM(1)"
    assert by['/a,b"c']["source"] == "'-2"
    assert by["/=cmd|' /C calc'!A0"]["referrer"] == "'+1+1"
    assert by["/plain"]["country"] == "DE"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by["/plain"]["created_at_utc"])


def test_the_csv_export_neutralises_fullwidth_formula_starts(owner: Any) -> None:
    now = datetime.now(UTC)
    evil = '\uff1dHYPERLINK("http://evil.example","x")'
    record(
        owner.browser.container,
        [
            hit(
                owner.site_id, now, "/one", referrer=evil, source="\uff0b1", utm_campaign="\uff20x"
            ),
            hit(owner.site_id, now, "/two", referrer="\u3000=1+1", utm_medium="\uff0d1"),
        ],
    )
    day = now.date().isoformat()
    response = owner.browser.get(f"/sites/{owner.uid}/export?start={day}&end={day}")
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))
    by = {r["path"]: r for r in rows}
    assert by["/one"]["referrer"] == "'" + evil
    assert by["/one"]["source"] == "'\uff0b1"
    assert by["/one"]["utm_campaign"] == "'\uff20x"
    assert by["/two"]["referrer"] == "'\u3000=1+1"
    assert by["/two"]["utm_medium"] == "'\uff0d1"


def test_the_export_form_shows_errors_in_place(owner: Any, other: Any) -> None:
    form = owner.browser.get(f"/sites/{owner.uid}/export")
    assert form.status_code == 200 and "Download CSV" in text(form)
    bad = owner.browser.get(f"/sites/{owner.uid}/export?start=2026-03-01&end=2026-01-01")
    assert bad.status_code == 422
    assert 'id="end-error"' in bad.get_data(as_text=True)
    assert 'value="2026-03-01"' in bad.get_data(as_text=True)
    assert (
        other.get(f"/sites/{owner.uid}/export?start=2026-01-01&end=2026-01-02").status_code == 302
    )
