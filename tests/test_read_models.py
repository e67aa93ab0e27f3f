"""The traffic read models: rebuilds answer the same, batches apply exactly once, erasure is total.

Every check compares the tables with a hand count of the hits that were made
(tests/analytics_helpers.py), not only with each other: a rebuild that reproduces
a wrong count, or a crash that loses the same hits twice, still fails.
"""

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, inspect, select, update

import projections.runner as runner
import projections.traffic.decoding as decoding
import projections.traffic.projection as traffic_projection
import projections.traffic.schema as traffic_schema
from infrastructure.bootstrap import Container
from interfaces.api.leaderboard import forget_cached
from projections.base import NEEDS_NOTIFICATION, utc
from projections.bulk import Bulk
from projections.runner import ProjectionRunner
from projections.traffic import grouping
from projections.traffic.blocks import Seals, sealed_day
from projections.traffic.projection import TrafficProjection
from tests.analytics_helpers import (
    GROUP_COLUMN,
    Made,
    at,
    custom_event,
    group_counts,
    grouped_as_counts,
    hit_event,
    interval,
    json_of,
    record,
    select_hits,
    traffic,
    unique_ids,
)
from tests.conftest import World, bearer
from tests.fault_harness import ProjectionProcess, ReadModelWatch, kill_mid_batch

DIMENSIONS = ("path", "referrer", "source", "country", "browser", "platform", "utm_campaign")
# Hourly rollups are kept for recent days only; these tests fix where "recent" begins,
# in the middle of their data, so that both sides of it are read and written.
HORIZON = at("2026-02-01T00:00:00")
EPOCH = date(1970, 1, 1)


@pytest.fixture(autouse=True)
def horizon(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(traffic_schema, "hourly_horizon", lambda: HORIZON)
    return HORIZON


class Crash(Exception):
    """Stands for the process dying half-way through a batch."""


# -- reading the tables --------------------------------------------------------------------
def _plain(value: Any) -> Any:
    # SQLite hands back naive datetimes, PostgreSQL aware ones: compare them as UTC.
    return utc(value) if isinstance(value, datetime) else value


def snapshot(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every traffic table, in a stable order."""
    found = {}
    with container.engine.connect() as conn:
        for name, table in container.projections.tables["traffic"].items():
            rows = [tuple(_plain(v) for v in row) for row in conn.execute(select(table))]
            found[name] = sorted(rows, key=repr)
    return found


def counters(container: Container, sites: set[UUID] | None = None) -> dict[str, dict[Any, Any]]:
    """The rollups and lifetime counters, keyed by what they count (not by storage key)."""
    t = container.projections.tables["traffic"]
    out: dict[str, dict[Any, Any]] = defaultdict(dict)
    with container.engine.connect() as conn:

        def rows(name: str) -> Iterator[Any]:
            for row in conn.execute(select(t[name])):
                if sites is None or row.site_uuid in sites:
                    yield row

        for row in rows("hits"):
            out["hits"][row.id] = (row.site_uuid, utc(row.created_at), row.path, row.is_unique)
        for name, bucket in (("daily", "day"), ("hourly", "hour")):
            for row in rows(name):
                key = (
                    row.site_uuid,
                    _plain(getattr(row, bucket)),
                    *(getattr(row, d) for d in DIMENSIONS),
                )
                assert key not in out[name], f"two {name} rows for {key}"
                out[name][key] = (row.hits, row.uniques)
        for row in rows("dims"):
            key = (row.site_uuid, row.dim, row.day, row.value, row.source)
            assert key not in out["dims"], f"two dims rows for {key}"
            out["dims"][key] = (row.hits, row.uniques)
        for row in rows("blocks"):
            key = (row.site_uuid, row.dim, row.span, _plain(row.start), row.value, row.source)
            assert key not in out["blocks"], f"two block rows for {key}"
            out["blocks"][key] = (row.hits, row.uniques)
        for row in rows("paths"):
            out["paths"][(row.site_uuid, row.path)] = (row.hits, row.uniques)
        for row in rows("countries"):
            out["countries"][(row.site_uuid, row.country)] = row.hits
        for row in rows("quarters"):
            out["quarters"][(row.site_uuid, _plain(row.at))] = (row.hits, row.uniques)
        for row in rows("feeds"):
            out["feeds"][(row.site_uuid, row.source)] = (row.subscribers, _plain(row.reported_at))
        for row in rows("sites"):
            last = _plain(row.last_hit_at)
            out["sites"][row.site_uuid] = (row.hits, row.uniques, row.events, last)
        for row in rows("events"):
            out["events"][row.id] = (row.site_uuid, utc(row.created_at), row.name)
        for row in rows("event_daily"):
            out["event_daily"][(row.site_uuid, row.day, row.name, row.value)] = row.hits
    return dict(out)


def hand_count(
    made: list[Made], events: list[tuple[int, Any]] | None = None
) -> dict[str, dict[Any, Any]]:
    """What `counters` must find after exactly these hits (and (id, custom event) pairs).

    Hourly rollups exist only from the horizon on (the `horizon` fixture fixes it), and
    blocks only when they end by their site's newest hit's UTC day (its seal, blocks.py).
    """
    sealed: dict[UUID, date] = {}
    for hit in made:
        sealed[hit.site] = max(sealed.get(hit.site, EPOCH), hit.at.date())
    uniques = unique_ids(made)
    out: dict[str, dict[Any, Any]] = defaultdict(dict)
    totals: dict[str, dict[Any, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    sites: dict[UUID, list[Any]] = {}
    for hit in made:
        unique = int(hit.id in uniques)
        out["hits"][hit.id] = (hit.site, hit.at, hit.path, bool(unique))
        dims = tuple(getattr(hit, d) for d in DIMENSIONS)
        hour = hit.at.replace(minute=0, second=0, microsecond=0)
        quarter = hour.replace(minute=hit.at.minute - hit.at.minute % 15)
        keys = [
            ("daily", (hit.site, hit.at.date(), *dims)),
            ("paths", (hit.site, hit.path)),
            ("quarters", (hit.site, quarter)),
        ]
        if hit.at >= HORIZON:
            keys.append(("hourly", (hit.site, hour, *dims)))
        for dim, value in zip(DIMENSIONS, dims, strict=True):
            source = hit.source if dim in ("referrer", "source") else None
            keys.append(("dims", (hit.site, dim, hit.at.date(), value, source)))
            number = (hit.at.date() - EPOCH).days
            for span in (2, 4, 8, 16, 32):
                start = EPOCH + timedelta(days=number - number % span)
                if start + timedelta(days=span) <= sealed[hit.site]:
                    keys.append(("blocks", (hit.site, dim, span, start, value, source)))
        for name, key in keys:
            totals[name][key][0] += 1
            totals[name][key][1] += unique
        country = (hit.site, hit.country)
        out["countries"][country] = out["countries"].get(country, 0) + 1
        if hit.subscribers is not None and hit.source is not None:
            reported = out["feeds"].get((hit.site, hit.source))
            if reported is None or hit.at >= reported[1]:
                out["feeds"][(hit.site, hit.source)] = (hit.subscribers, hit.at)
        entry = sites.setdefault(hit.site, [0, 0, 0, hit.at])
        entry[0] += 1
        entry[1] += unique
        entry[3] = max(entry[3], hit.at)
    for name, found in totals.items():
        out[name] = {key: (hits, unique) for key, (hits, unique) in found.items()}
    for nid, event in events or []:
        out["events"][nid] = (event.site_id, event.timestamp, event.name)
        key = (event.site_id, event.timestamp.date(), event.name, event.value)
        out["event_daily"][key] = out["event_daily"].get(key, 0) + 1
        entry = sites.setdefault(event.site_id, [0, 0, 0, None])
        entry[2] += 1
    out["sites"] = {site: tuple(entry) for site, entry in sites.items()}
    return dict(out)


def position(engine: ProjectionRunner) -> int:
    return next(s.position for s in engine.status() if s.name == "traffic")


def fresh_engine(container: Container) -> ProjectionRunner:
    """The traffic projection's runner as a newly started process makes it."""
    engine = ProjectionRunner(
        container.engine,
        sources={"tracking": container.tracking},
        projections=[TrafficProjection()],
    )
    engine.setup()
    return engine


# -- API answers ---------------------------------------------------------------------------
def api_answers(client: FlaskClient, headers: dict[str, str], site_ids: list[int]) -> list[bytes]:
    """Raw bytes of every read answer for these sites (the leaderboard without its cache times)."""
    forget_cached()
    out = [client.get("/api/v1/sites", headers=headers).data]
    ranges = [
        {"start_date": "2026-01-01", "end_date": "2026-03-31"},
        {"start_date": "2026-02-03", "end_date": "2026-02-05", "time_zone": "user"},
    ]
    for site_id in site_ids:
        out.append(client.get(f"/api/v1/sites/{site_id}", headers=headers).data)
        base = f"/api/v1/sites/{site_id}"
        queries: list[tuple[str, dict[str, Any]]] = []
        for dates in ranges:
            queries += [
                ("hits", {**dates, "per_page": 50}),
                ("hits", {**dates, "per_page": 50, "page": 3}),
                ("hits", {**dates, "country": "DE", "referrer": "google"}),
                *(("hits", {**dates, "grouped": "true", "group_by": g}) for g in GROUP_COLUMN),
                ("hits", {**dates, "grouped": "true", "path": "/blog"}),
                ("user_journeys", dates),
                ("user_journeys", {**dates, "per_page": 5, "page": 2}),
            ]
        for what, params in queries:
            response = client.get(f"{base}/{what}", headers=headers, query_string=params)
            assert response.status_code == 200, response.json
            out.append(response.data)
        board = client.get(f"{base}/leaderboard", headers=headers)
        assert board.status_code == 200
        body = json_of(board)
        assert body.pop("cache_info").keys() == {"cached_at", "expires_at"}
        out.append(json.dumps(body, sort_keys=True).encode())
    return out


@pytest.fixture
def busy(world: World, container: Container) -> dict[str, Any]:
    """Two accounts, three sites, a few months of hits and some custom events."""
    ann = world.account("ann@example.com", timezone="Asia/Kolkata")
    bob = world.account("bob@example.com", timezone="America/New_York")
    sites = [
        world.site(ann, "https://ann.example"),
        world.site(ann, "https://blog.ann.example"),
        world.site(bob, "https://bob.example"),
    ]
    days = [date(2026, 1, 20) + timedelta(days=i) for i in range(45)]
    events = sorted(
        (e for i, s in enumerate(sites) for e in traffic(s, 100 + i, days, 250)),
        key=lambda e: e.timestamp,
    )
    # Campaign links and feed readers that report their subscribers, in among the rest.
    for when, source, count in (("02-01T08:00", "feedly", 40), ("02-03T09:30", "feedly", 42)):
        events.append(
            hit_event(
                sites[0].uuid, at(f"2026-{when}:00"), "/feed", source=source, subscribers=count
            )
        )
    events.append(hit_event(sites[1].uuid, at("2026-02-02T11:05:00"), "/", campaign="spring"))
    events.sort(key=lambda e: e.timestamp)
    extras = [custom_event(sites[0].uuid, at("2026-02-04T10:00:00"), "signup.started", "pro")]
    extras += [custom_event(sites[2].uuid, at("2026-02-05T10:00:00"), "signup.done")]
    made: list[Made] = []
    # In several commits, as hits arrive; the projection reads them in uneven batches.
    for start in range(0, len(events), 200):
        made += record(container, events[start : start + 200], catch_up=False)
        while container.projections.step("traffic", limit=137):
            pass
    ids = container.tracking.record(extras)
    container.projections.catch_up()
    return {
        "owners": (ann, bob),
        "sites": sites,
        "made": made,
        "events": list(zip(ids, extras, strict=True)),
        "keys": (bearer(world.key(ann, "reader")), bearer(world.key(bob, "reader"))),
    }


# -- rebuild -------------------------------------------------------------------------------
def test_the_projection_matches_the_hand_count(container: Container, busy: dict) -> None:
    assert counters(container) == hand_count(busy["made"], busy["events"])


def test_rebuild_gives_identical_answers_and_ids(
    client: FlaskClient, container: Container, busy: dict[str, Any]
) -> None:
    ann_key, bob_key = busy["keys"]
    ann_sites = [s.id for s in busy["sites"][:2]]
    bob_sites = [busy["sites"][2].id]

    def everything() -> list[bytes]:
        return api_answers(client, ann_key, ann_sites) + api_answers(client, bob_key, bob_sites)

    before = everything()
    rows_before = snapshot(container)
    ids_before = sorted(h.id for h in busy["made"])
    assert sorted(r[0] for r in rows_before["hits"]) == ids_before

    # Damage the read model, so that a rebuild that did nothing could not pass.
    t = container.projections.tables["traffic"]
    with container.engine.begin() as conn:
        conn.execute(delete(t["daily"]).where(t["daily"].c.path == "/blog"))
        conn.execute(delete(t["dims"]).where(t["dims"].c.value == "/blog"))
        conn.execute(update(t["sites"]).values(hits=1))
        conn.execute(update(t["paths"]).values(uniques=0))
        conn.execute(delete(t["hits"]).where(t["hits"].c.country == "PL"))
    assert everything() != before

    head = container.tracking.recorder.max_notification_id()
    assert container.projections.rebuild("traffic") == head
    assert everything() == before
    assert snapshot(container) == rows_before
    assert position(container.projections) == head
    assert container.projections.step("traffic") == 0

    # A restarted runner carries on in the swapped-in tables, and a second rebuild agrees.
    later = record(
        container,
        [traffic(busy["sites"][0], 9, [date(2026, 3, 10)], 1)[0]],
        catch_up=False,
    )
    assert fresh_engine(container).catch_up() == 1
    assert counters(container) == hand_count(busy["made"] + later, busy["events"])
    with_later = snapshot(container)
    container.projections.rebuild("traffic")
    assert snapshot(container) == with_later


# -- exactly once --------------------------------------------------------------------------
def test_a_version_with_a_new_table_replays_the_projection_from_the_start(
    container: Container, busy: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # As a database made by the version before `traffic_dims` existed looks.
    with container.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE traffic_dims")
    restarted = fresh_engine(container)
    assert position(restarted) == 0
    assert "traffic has new tables (traffic_dims)" in caplog.text
    head = container.tracking.recorder.max_notification_id()
    assert restarted.catch_up() == head
    assert counters(container) == hand_count(busy["made"], busy["events"])
    # Once made, the tables are the projection's own: the next start keeps its place.
    assert position(fresh_engine(container)) == head


@pytest.mark.parametrize(
    "where",
    ["after_first_seen", "traffic_daily", "traffic_dims", "traffic_paths", "traffic_sites"],
)
def test_a_crash_mid_batch_counts_nothing_twice_and_loses_nothing(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    owner = world.account()
    sites = [world.site(owner, "https://one.example"), world.site(owner, "https://two.example")]
    days = [date(2026, 4, 1) + timedelta(days=i) for i in range(4)]
    events = sorted(
        (e for i, s in enumerate(sites) for e in traffic(s, 40 + i, days, 60)),
        key=lambda e: e.timestamp,
    )
    made = record(container, events, catch_up=False)
    assert len(unique_ids(made)) < len(made)  # visitors come back: uniques are at stake

    batches = {"n": 0}
    real_first_seen = TrafficProjection._first_seen
    real_upsert = Bulk.upsert_add

    def first_seen(self: TrafficProjection, *args: Any) -> set[int]:
        batches["n"] += 1
        fresh = real_first_seen(self, *args)
        if where == "after_first_seen" and batches["n"] == 3:
            raise Crash("died after remembering the batch's unique hashes")
        return fresh

    def upsert_add(self: Bulk, table: Any, *args: Any, **kwargs: Any) -> None:
        real_upsert(self, table, *args, **kwargs)
        if table.name == where and batches["n"] == 3:
            raise Crash(f"died after writing {table.name}")

    engine = container.projections
    with monkeypatch.context() as patched, pytest.raises(Crash):
        patched.setattr(TrafficProjection, "_first_seen", first_seen)
        patched.setattr(Bulk, "upsert_add", upsert_add)
        while engine.step("traffic", limit=25):
            pass
    assert batches["n"] == 3
    # Only the two whole batches before the crash are kept, and the position agrees.
    assert position(engine) == made[49].id
    assert counters(container) == hand_count(made[:50])

    restarted = fresh_engine(container)
    assert restarted.catch_up() == made[-1].id - made[49].id
    assert counters(container) == hand_count(made)
    assert restarted.catch_up() == 0
    assert container.projections.catch_up(["traffic"]) == 0
    assert counters(container) == hand_count(made)


@pytest.mark.slow
def test_a_projection_process_killed_mid_batch_counts_nothing_twice_and_loses_nothing(
    world: World, container: Container, env: dict[str, str], tmp_path: Any
) -> None:
    """A real `tinylytics projections run`, killed with SIGKILL while a traffic batch of
    its is open: the read models hold whole batches only, and once a runner is started
    again they equal the hand count of the log."""
    owner = world.account()
    sites = [world.site(owner, "https://one.example"), world.site(owner, "https://two.example")]
    # Before either hourly horizon (this process's and the runner's): no hourly rows.
    days = [date(2026, 1, 5) + timedelta(days=i) for i in range(10)]
    events = sorted(
        (e for i, s in enumerate(sites) for e in traffic(s, 70 + i, days, 12_500)),
        key=lambda e: e.timestamp,
    )
    made: list[Made] = []
    for start in range(0, len(events), runner.BATCH_SIZE):
        made += record(container, events[start : start + runner.BATCH_SIZE], catch_up=False)
    head = made[-1].id
    watch = ReadModelWatch(container.settings)
    try:
        with ProjectionProcess(env, log=tmp_path / "projections.log") as process:
            assert kill_mid_batch(process, watch), "no traffic batch was seen open"
        killed_at = position(container.projections)
        assert 0 < killed_at < head
        assert not watch.batch_open()  # the batch died with the process
    finally:
        watch.close()
    # Whole batches only: what the position says was applied, and nothing of the open one.
    assert counters(container) == hand_count([m for m in made if m.id <= killed_at])

    restarted = fresh_engine(container)
    assert restarted.catch_up() == head - killed_at
    assert counters(container) == hand_count(made)


def test_a_crash_as_the_position_moves_keeps_the_batch_out(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = world.site(world.account())
    made = record(container, traffic(site, 5, [date(2026, 4, 1)], 30), catch_up=False)

    def crash(*_args: Any) -> None:
        raise Crash("died before the position was written")

    with monkeypatch.context() as patched, pytest.raises(Crash):
        patched.setattr(ProjectionRunner, "_set_position", crash)
        container.projections.step("traffic")
    assert counters(container, {site.uuid}) == {}
    assert fresh_engine(container).catch_up() == made[-1].id
    assert counters(container) == hand_count(made)


def test_a_stored_form_only_the_mapper_reads_sends_its_batch_the_librarys_way(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner reads the log as plain rows; a batch with an event the projection cannot
    decode from its state alone is read again as notifications and decoded by the mapper."""
    site = world.site(world.account())
    made = record(container, traffic(site, 7, [date(2026, 4, 1)], 40), catch_up=False)
    odd = decoding.utc_text(made[10].at)
    real_decode_state = TrafficProjection.decode_state

    def decode_state(self: TrafficProjection, topic: str, state: bytes) -> Any:
        decoded = real_decode_state(self, topic, state)
        if isinstance(decoded, decoding.TrafficItem) and decoded.moment == odd:
            return NEEDS_NOTIFICATION
        return decoded

    recorder = container.tracking.recorder
    real_select = recorder.select_notifications
    library_reads: list[int] = []

    def select_notifications(*args: Any, **kwargs: Any) -> Any:
        found = real_select(*args, **kwargs)
        library_reads.append(len(found))
        return found

    monkeypatch.setattr(TrafficProjection, "decode_state", decode_state)
    monkeypatch.setattr(recorder, "select_notifications", select_notifications)
    while container.projections.step("traffic", limit=15):
        pass
    assert library_reads == [15]  # only the batch with the odd event
    assert counters(container) == hand_count(made)


def test_a_stored_hit_decodes_alike_whichever_json_reader_takes_it(
    world: World, container: Container
) -> None:
    """orjson reads the stored JSON; what it refuses (an escaped lone surrogate, NaN) the
    standard library reads, cleaned as before; what neither reads as one document goes
    to the mapper."""
    site = world.site(world.account())
    (made,) = record(container, traffic(site, 1, [date(2026, 4, 1)], 1), catch_up=False)
    stored = container.tracking.recorder.select_notifications(start=made.id, limit=1)[0]
    topic, state = stored.topic, stored.state
    fast = decoding.TrafficDecoder().decode_state(topic, state)
    assert isinstance(fast, decoding.TrafficItem) and fast.moment == decoding.utc_text(made.at)
    fields = json.loads(state)

    def decoded(changed: dict[str, Any]) -> Any:
        text = json.dumps({**fields, **changed}, separators=(",", ":"))
        return decoding.TrafficDecoder().decode_state(topic, text.encode())

    assert decoded({}) == fast
    # A lone surrogate escaped by an older writer: read by the standard library, cleaned.
    surrogate = decoded({"referrer": "https://r.example/\ud800x"})
    assert surrogate == fast._replace(fields={**fast.fields, "referrer": "https://r.example/x"})
    assert math.isnan(decoded({"subscribers": float("nan")}).fields["subscribers"])
    assert decoding.TrafficDecoder().decode_state(topic, state + b" {}") is NEEDS_NOTIFICATION


def test_one_batch_across_many_sites_and_days(
    client: FlaskClient,
    world: World,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owners = [world.account(f"owner{i}@example.com") for i in range(3)]
    sites = [
        world.site(o, f"https://s{j}.o{i}.example") for i, o in enumerate(owners) for j in (0, 1)
    ]
    days = [date(2025, 12, 1) + timedelta(days=i) for i in range(60)]
    events = sorted(
        (e for i, s in enumerate(sites) for e in traffic(s, 70 + i, days, 150)),
        key=lambda e: e.timestamp,
    )
    noon = at("2026-01-15T12:00:00")
    extras = [custom_event(s.uuid, noon, "form.sent", str(n)) for n, s in enumerate(sites)]
    all_events = events + extras
    ids = container.tracking.record(all_events)
    made_hits = [
        Made(
            id=nid, site=e.site_id, at=e.timestamp, path=e.path, url=e.url, referrer=e.referrer,
            country=e.country, browser=e.browser, platform=e.platform, is_mobile=e.is_mobile,
            source=e.source, unique_hash=e.unique_hash, visitor_hash=e.visitor_hash,
        )
        for nid, e in zip(ids, events, strict=False)
    ]  # fmt: skip
    # All of it in one batch: one transaction of many sites, days and both kinds of event.
    assert container.projections.step("traffic", limit=10_000) == ids[-1]
    assert container.projections.step("traffic") == 0
    expected = hand_count(made_hits, list(zip(ids[len(events) :], extras, strict=True)))
    assert counters(container) == expected
    assert len({k[1] for k in expected["daily"]}) == 60
    one_batch = snapshot(container)

    # The same log read a few events at a time gives the very same tables.
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)  # a rebuild reads 10 events per batch
    container.projections.rebuild("traffic")
    assert snapshot(container) == one_batch

    # And the API reads them: grouped by country for each site over a month, and /sites.
    for owner, pair in zip(owners, (sites[0:2], sites[2:4], sites[4:6]), strict=True):
        headers = bearer(world.key(owner, "reader"))
        listed = json_of(client.get("/api/v1/sites", headers=headers))["sites"]
        assert {s["id"]: s["lifetime_hits"] for s in listed} == {
            s.id: sum(1 for h in made_hits if h.site == s.uuid) for s in pair
        }
        for s in pair:
            begin, finish = interval(date(2026, 1, 1), date(2026, 1, 31))
            query = {"start_date": "2026-01-01", "end_date": "2026-01-31", "grouped": "true"}
            response = client.get(
                f"/api/v1/sites/{s.id}/hits",
                headers=headers,
                query_string={**query, "group_by": "country"},
            )
            body = json_of(response)
            selected = select_hits(made_hits, s.uuid, begin, finish)
            assert grouped_as_counts(body["grouped_hits"], "country") == {
                k: (v[0], 0) for k, v in group_counts(made_hits, selected, "country").items()
            }


def test_late_hits_add_to_closed_blocks_and_reads_cross_each_sites_seal(
    client: FlaskClient, world: World, container: Container
) -> None:
    """Blocks are summed once they close (blocks.py): a site's newest day seals the
    blocks that end by it; a late hit for an older day adds to the closed blocks that
    hold it; a read takes blocks up to its site's seal and single days after it, so a
    quiet site (an old seal) answers as right as a busy one."""
    owner = world.account("seal@example.com")
    busy_site, quiet_site = (
        world.site(owner, "https://busy.example"),
        world.site(owner, "https://quiet.example"),
    )
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(40)]
    events = sorted(
        [*traffic(busy_site, 5, days, 400), *traffic(quiet_site, 6, days[:15], 100)],
        key=lambda e: e.timestamp,
    )
    made: list[Made] = []
    for start in range(0, len(events), 90):
        made += record(container, events[start : start + 90])
    # After the seals moved on: hits of closed blocks' days, of a 2-day block that
    # ends on the seal, and of the open day, for both sites.
    late = [
        hit_event(
            busy_site.uuid, at("2026-01-03T10:00:00"), "/late", referrer="https://late.example/"
        ),
        hit_event(busy_site.uuid, at("2026-02-08T23:59:00"), "/late"),
        hit_event(busy_site.uuid, at("2026-02-09T08:00:00"), "/late"),
        hit_event(quiet_site.uuid, at("2026-01-02T10:00:00"), "/late", country="FR"),
    ]
    made += record(container, late)
    with container.engine.connect() as conn:
        seal = container.projections.tables["traffic"]["seal"]
        sealed = dict(conn.execute(select(seal.c.site_uuid, seal.c.day)).all())
    assert sealed == {busy_site.uuid: date(2026, 2, 9), quiet_site.uuid: date(2026, 1, 15)}
    assert counters(container) == hand_count(made)
    live = snapshot(container)

    headers = bearer(world.key(owner, "reader"))
    for site in (busy_site, quiet_site):
        for first, last in (
            (date(2026, 1, 1), date(2026, 2, 9)),
            (date(2026, 1, 2), date(2026, 1, 31)),
        ):
            begin, finish = interval(first, last)
            selected = select_hits(made, site.uuid, begin, finish)
            for group_by in ("path", "referrer", "country"):
                body = json_of(
                    client.get(
                        f"/api/v1/sites/{site.id}/hits",
                        headers=headers,
                        query_string={
                            "start_date": first.isoformat(),
                            "end_date": last.isoformat(),
                            "grouped": "true",
                            "group_by": group_by,
                        },
                    )
                )
                expected = group_counts(made, selected, group_by)
                if group_by != "path":
                    expected = {k: (v[0], 0) for k, v in expected.items()}
                assert grouped_as_counts(body["grouped_hits"], group_by) == expected

    # A rebuild seals each site at its newest day too, and sums the same blocks.
    container.projections.rebuild("traffic")
    assert snapshot(container) == live


def test_a_read_with_a_seal_read_before_it_moved_on_answers_the_same(
    world: World, container: Container
) -> None:
    """A reader keeps the seals it read for a while (blocks.Seals): once the seal has
    moved on, the older seal takes fewer blocks and more single days, and the sums
    are those of the hits all the same."""
    owner = world.account("stale-seal@example.com")
    site = world.site(owner, "https://stale.example")
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(60)]
    made = record(container, traffic(site, 8, days[:20], 300))
    tables = container.projections.tables["traffic"]
    seals = Seals(max_age=3600)
    begin, finish = interval(days[0], days[-1])
    with container.engine.connect() as conn:
        grouping.sums_by(conn, tables, site.uuid, begin, finish, "path", seals=seals)
        old = seals.day(conn, tables, site.uuid)
    made += record(container, traffic(site, 9, days[20:], 300))
    with container.engine.connect() as conn:
        assert old is not None and sealed_day(conn, tables, site.uuid) == days[-1] > old
        assert seals.day(conn, tables, site.uuid) == old  # still the one read before
        for column in ("path", "referrer", "country"):
            for first, last in ((days[0], days[-1]), (days[3], days[41]), (days[17], days[50])):
                begin, finish = interval(first, last)
                count, groups = grouping.sums_by(
                    conn, tables, site.uuid, begin, finish, column, seals=seals
                )
                expected = group_counts(made, select_hits(made, site.uuid, begin, finish), column)
                assert {g.value: (g.hits, g.uniques) for g in groups} == expected
                assert count == len(expected)
                fresh = grouping.sums_by(conn, tables, site.uuid, begin, finish, column)
                assert fresh == (count, groups)


def test_ranges_ending_on_any_day_share_a_statement_and_sum_to_their_hits(
    world: World, container: Container
) -> None:
    """A grouped statement is built once per shape of range (grouping._named): a range's
    blocks are one list and its single days two runs, so 30-day ranges ending on each
    of 40 days (blocks of 2 to 16 days, in every number) share one statement a column."""
    owner = world.account("shapes@example.com")
    site = world.site(owner, "https://shapes.example")
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(80)]
    made = record(container, traffic(site, 10, days, 400))
    tables = container.projections.tables["traffic"]
    grouping._SUMS_STATEMENTS.clear()
    with container.engine.connect() as conn:
        for column in ("path", "country"):
            for end in days[30:70]:
                begin, finish = interval(end - timedelta(days=29), end)
                _, groups = grouping.sums_by(conn, tables, site.uuid, begin, finish, column)
                expected = group_counts(made, select_hits(made, site.uuid, begin, finish), column)
                assert {g.value: (g.hits, g.uniques) for g in groups} == expected
    assert len(grouping._SUMS_STATEMENTS) == 2


def left_as_they_were(container: Container, busy: dict, live: Any) -> None:
    """After a failed rebuild: no fresh table is left and the old ones serve as before."""
    with container.engine.connect() as conn:
        assert [t for t in inspect(conn).get_table_names() if "__r" in t] == []
    assert snapshot(container) == live
    assert counters(container) == hand_count(busy["made"], busy["events"])


def test_a_rebuild_whose_indexes_fail_keeps_the_old_tables_serving(
    container: Container, busy: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fresh tables' indexes and statistics are built beside the replay's end on
    PostgreSQL (runner._Finishing), after it on SQLite: either way, a failure there
    fails the rebuild, drops every fresh table and leaves the old ones as they were."""
    live = snapshot(container)
    real_finish = runner._finish
    calls = {"n": 0}

    def failing(conn: Any, tables: Any, deferred: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Crash("the disk filled up building an index")
        real_finish(conn, tables, deferred)

    monkeypatch.setattr(runner, "_finish", failing)
    with pytest.raises(Crash):
        container.projections.rebuild("traffic")
    left_as_they_were(container, busy, live)
    # The next rebuild goes through and gives the same tables.
    monkeypatch.setattr(runner, "_finish", real_finish)
    container.projections.rebuild("traffic")
    assert snapshot(container) == live


def test_a_rebuild_whose_summing_fails_after_a_step_committed_keeps_the_old_tables(
    container: Container, busy: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild's end sums the single-dimension and block rows in steps, each in a
    transaction of its own (beside each other on PostgreSQL): when one fails after
    another committed, the rebuild fails, every fresh table goes, the old ones serve."""
    live = snapshot(container)
    real_close = traffic_projection.close_blocks
    summed: list[tuple[str, ...]] = []

    def failing(conn: Any, t: Any, moved: Any, dims: tuple[str, ...] = ()) -> None:
        if dims != ("path",):
            raise Crash("the disk filled up summing blocks")
        real_close(conn, t, moved, dims)
        summed.append(dims)

    monkeypatch.setattr(traffic_projection, "close_blocks", failing)
    with pytest.raises(Crash):
        container.projections.rebuild("traffic")
    assert summed == [("path",)]  # the paths' step ran to its end
    left_as_they_were(container, busy, live)
    monkeypatch.setattr(traffic_projection, "close_blocks", real_close)
    container.projections.rebuild("traffic")
    assert snapshot(container) == live


# -- erasure -------------------------------------------------------------------------------
def test_erasure_removes_every_traffic_row_of_the_accounts_sites(
    client: FlaskClient, world: World, container: Container, busy: dict[str, Any]
) -> None:
    ann = busy["owners"][0]
    ann_sites = {s.uuid for s in busy["sites"][:2]}
    bob_sites = {busy["sites"][2].uuid}
    # One more hit through the write API, with real hashes, for the account to go.
    writer = bearer(world.key(ann, "writer", "full_access"))
    created = client.post(
        f"/api/v1/sites/{busy['sites'][0].id}/hits",
        headers=writer,
        json={"path": "/from-the-api", "visitor_id": "ann-reader"},
    )
    assert created.status_code == 201
    container.projections.catch_up()
    before = snapshot(container)
    assert all(before[name] for name in before), "every traffic table has rows to erase"
    bob_before = counters(container, bob_sites)
    bob_answers = api_answers(client, busy["keys"][1], [busy["sites"][2].id])

    scope = container.erasure.delete_account(ann.uuid)
    assert set(scope.site_ids) == ann_sites

    def rows_of(sites: set[UUID]) -> dict[str, int]:
        t = container.projections.tables["traffic"]
        with container.engine.connect() as conn:
            return {
                name: len(conn.execute(select(table).where(table.c.site_uuid.in_(sites))).all())
                for name, table in t.items()
            }

    assert rows_of(ann_sites) == dict.fromkeys(container.projections.tables["traffic"], 0)
    assert counters(container, bob_sites) == bob_before
    assert api_answers(client, busy["keys"][1], [busy["sites"][2].id]) == bob_answers
    # Nothing comes back from the log: not by catching up, not by a rebuild.
    container.projections.catch_up()
    container.projections.rebuild("traffic")
    assert rows_of(ann_sites) == dict.fromkeys(container.projections.tables["traffic"], 0)
    assert counters(container, bob_sites) == bob_before
    assert counters(container) == bob_before


@pytest.mark.parametrize("when", ["early", "late"])
def test_erasure_during_a_rebuild_reaches_what_the_replay_keeps_in_memory(
    world: World,
    container: Container,
    busy: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    when: str,
) -> None:
    """A rebuild remembers recent unique hashes in memory and writes them at the end: an
    erasure that comes while it runs (early, or after the last event was replayed)
    must not have its sites' hashes written back, and the sites that stay keep theirs."""
    monkeypatch.setattr(runner, "BATCH_SIZE", 20)  # the rebuild reads 100 events at a time
    ann, _bob = busy["owners"]
    ann_sites = {s.uuid for s in busy["sites"][:2]}
    bob_site = busy["sites"][2]
    bob_before = counters(container, {bob_site.uuid})
    t = container.projections.tables["traffic"]
    with container.engine.connect() as conn:
        seen_before = conn.execute(select(t["seen"])).all()
    assert {row.site_uuid for row in seen_before} == ann_sites | {bob_site.uuid}

    head = container.tracking.recorder.max_notification_id() or 0
    after = 200 if when == "early" else head
    erased: list[int] = []

    def progress(done: int, _total: int) -> None:
        if not erased and done >= after:
            erased.append(done)
            container.erasure.delete_account(ann.uuid)

    container.projections.rebuild("traffic", progress)
    assert erased and (erased[0] < head if when == "early" else erased[0] == head)

    with container.engine.connect() as conn:
        left = {
            name: conn.execute(select(table).where(table.c.site_uuid.in_(ann_sites))).all()
            for name, table in t.items()
        }
        seen_after = conn.execute(select(t["seen"])).all()
    assert left == {name: [] for name in t}
    assert counters(container) == bob_before
    assert sorted(seen_after) == sorted(r for r in seen_before if r.site_uuid == bob_site.uuid)

    # Bob's remembered hashes still decide: a visitor back on the same page and day is
    # not a unique hit again, a new one is.
    newest = max(h.at for h in busy["made"] if h.site == bob_site.uuid)
    again = traffic(bob_site, 102, [newest.date()], 30)
    made = [h for h in busy["made"] if h.site == bob_site.uuid]
    made += record(container, again)
    assert counters(container) == hand_count(made, busy["events"][1:])
