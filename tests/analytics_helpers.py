"""Helpers for the analytics read tests: hits at chosen times, and a hand count to check against.

The collector stamps each hit with the current time; these tests need hits on
chosen days and minutes, so they build `Hit.Recorded` events with
`domain.hits.created_event` and their own timestamp, with stand-in
hashes: a unique hash per (site, path, visitor, UTC day) and a visitor hash per
(site, visitor, UTC day), the same keys the real privacy hashes have.

The `Made` list a test keeps is the truth the API is compared with: every expected
answer below is computed from it by plain Python, never from the read models.
"""

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.custom_events import CustomEvent
from domain.hits import Hit, created_event, new_site_scoped_id
from infrastructure.bootstrap import Container

HIT_FIELDS = (
    "id", "url", "path", "referrer", "country", "browser_name", "platform_name",
    "is_mobile", "source", "created_at",
)  # fmt: skip
GROUP_COLUMN = {
    "path": "path",
    "country": "country",
    "referrer": "referrer",
    "browser_name": "browser",
    "platform_name": "platform",
    "source": "source",
}


def at(text: str) -> datetime:
    """A UTC instant from `2026-03-29T01:30:00` (no zone: always UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Made:
    """A hit as recorded, with its integer id."""

    id: int
    site: UUID
    at: datetime
    path: str
    url: str | None
    referrer: str | None
    country: str
    browser: str | None
    platform: str | None
    is_mobile: bool
    source: str | None
    unique_hash: str | None
    visitor_hash: str | None
    utm_campaign: str | None = None
    subscribers: int | None = None

    def as_api(self) -> dict[str, Any]:
        """The hit as GET /sites/:id/hits documents it."""
        return {
            "id": self.id,
            "url": self.url,
            "path": self.path,
            "referrer": self.referrer,
            "country": self.country,
            "browser_name": self.browser,
            "platform_name": self.platform,
            "is_mobile": self.is_mobile,
            "source": self.source,
            "created_at": self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def hit_event(
    site: UUID,
    when: datetime,
    path: str = "/",
    *,
    visitor: str | None = None,
    referrer: str | None = None,
    country: str = "XX",
    browser: str | None = None,
    platform: str | None = None,
    is_mobile: bool = False,
    source: str | None = None,
    url: str | None = None,
    uniques: bool = True,
    campaign: str | None = None,
    subscribers: int | None = None,
) -> Any:
    """A `Hit.Recorded` event at `when` (UTC), ready for `Tracking.record`.

    With `uniques` (the site tracks unique hits) a hit carries hashes: per visitor,
    or per hit when no visitor is named (every such hit is then a unique hit).
    """
    assert when.tzinfo is not None and when.utcoffset() == timedelta(0), "give UTC times"
    hit_id = new_site_scoped_id(site)
    unique_hash = visitor_hash = None
    if uniques:
        who = visitor if visitor is not None else f"anonymous-{hit_id}"
        day = when.date()
        unique_hash = _digest("unique", site, path, who, day)
        visitor_hash = _digest("visitor", site, who, day)
    return created_event(
        Hit,
        hit_id,
        when,
        site_id=site,
        path=path,
        url=url,
        referrer=referrer,
        country=country,
        browser=browser,
        platform=platform,
        is_mobile=is_mobile,
        source=source,
        utm_campaign=campaign,
        utm_medium="email" if campaign else None,
        unique_hash=unique_hash,
        visitor_hash=visitor_hash,
        channel="api",
        subscribers=subscribers,
    )


def record(container: Container, events: Sequence[Any], catch_up: bool = True) -> list[Made]:
    """Save hits (and custom events) in one transaction, then let the projections read
    them; the hits that were made."""
    ids = container.tracking.record(list(events))
    if catch_up:
        container.projections.catch_up()
    return [
        Made(
            id=nid,
            site=e.site_id,
            at=e.timestamp,
            path=e.path,
            url=e.url,
            referrer=e.referrer,
            country=e.country,
            browser=e.browser,
            platform=e.platform,
            is_mobile=e.is_mobile,
            source=e.source,
            unique_hash=e.unique_hash,
            visitor_hash=e.visitor_hash,
            utm_campaign=e.utm_campaign,
            subscribers=e.subscribers,
        )
        for nid, e in zip(ids, events, strict=True)
        if isinstance(e, Hit.__dict__["Recorded"])
    ]


def json_of(response: Any) -> Any:
    """A test client response's JSON body (which must be there)."""
    found = response.get_json()
    assert found is not None, response.data
    return found


# -- the hand count ------------------------------------------------------------------------
def interval(start: date, end: date, zone: str = "UTC") -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in a zone, as UTC instants."""
    tz = ZoneInfo(zone)
    begin = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    finish = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return begin, finish


def unique_ids(made: Iterable[Made]) -> set[int]:
    """The hits that are unique: the first (in log order) of their hash on their UTC day."""
    first: dict[tuple[UUID, date, str], int] = {}
    for hit in sorted(made, key=lambda h: h.id):
        if hit.unique_hash:
            first.setdefault((hit.site, hit.at.date(), hit.unique_hash), hit.id)
    return set(first.values())


def select_hits(
    made: Iterable[Made],
    site: UUID,
    begin: datetime,
    finish: datetime,
    country: str | None = None,
    path: str | None = None,
    referrer: str | None = None,
) -> list[Made]:
    """The hits a listing shows, newest first (the later id first at the same instant)."""
    found = [
        h
        for h in made
        if h.site == site
        and begin <= h.at < finish
        and (country is None or h.country == country)
        and (path is None or h.path == path)
        and (
            referrer is None or (h.referrer is not None and referrer.lower() in h.referrer.lower())
        )
    ]
    return sorted(found, key=lambda h: (h.at, h.id), reverse=True)


def group_counts(
    made: Sequence[Made], selected: Iterable[Made], group_by: str
) -> dict[str | None, tuple[int, int]]:
    """(hits, unique hits) per value of a dimension among the selected hits."""
    uniques = unique_ids(made)
    column = GROUP_COLUMN[group_by]
    counts: dict[str | None, list[int]] = {}
    for hit in selected:
        entry = counts.setdefault(getattr(hit, column), [0, 0])
        entry[0] += 1
        entry[1] += hit.id in uniques
    return {value: (hits, unique) for value, (hits, unique) in counts.items()}


def grouped_as_counts(
    rows: list[dict[str, Any]], group_by: str
) -> dict[str | None, tuple[int, int]]:
    """An API `grouped_hits` list as (hits, unique hits) per value (uniques 0 if not shown)."""
    if group_by == "path":
        return {r["path"]: (r["views"], r.get("unique_views", 0)) for r in rows}
    return {r[group_by]: (r["hit_count"], 0) for r in rows}


def custom_event(
    site: UUID, when: datetime, name: str = "signup.started", value: str | None = None
) -> Any:
    """A `CustomEvent.Recorded` event at `when` (UTC), ready for `Tracking.record`."""
    return created_event(
        CustomEvent,
        new_site_scoped_id(site),
        when,
        site_id=site,
        name=name,
        value=value,
        path="/signup",
        url=None,
        referrer=None,
        country="XX",
        browser=None,
        platform=None,
        is_mobile=False,
        source=None,
        unique_hash=None,
        visitor_hash=None,
        channel="api",
    )


def traffic(site: Any, seed: int, days: list[date], count: int) -> list[Any]:
    """Varied hits over some days: a few visitors who come back to the same pages."""
    rng = random.Random(seed)
    paths = ["/", "/blog", "/blog/hello-world", "/pricing", "/about"]
    countries = ["US", "DE", "PL", "XX"]
    referrers = [None, "https://google.com/", "https://news.ycombinator.com/", "https://t.co/x"]
    sources = [None, "google", "hackernews", "twitter"]
    browsers = [(None, None, False), ("Chrome", "macOS", False), ("Safari", "iOS", True)]
    events = []
    moments = sorted(
        day_start(rng.choice(days)) + timedelta(seconds=rng.randrange(86_400)) for _ in range(count)
    )
    for moment in moments:
        which = rng.randrange(len(referrers))
        browser, platform, mobile = rng.choice(browsers)
        events.append(
            hit_event(
                site.uuid,
                moment,
                rng.choice(paths),
                visitor=f"visitor-{rng.randrange(6)}",
                referrer=referrers[which],
                source=sources[which],
                country=rng.choice(countries),
                browser=browser,
                platform=platform,
                is_mobile=mobile,
            )
        )
    return events
