"""Insights benchmark: the nightly run for many sites, CPU per site, and proof that no
raw-hit table is read.

    flock /tmp/tinylytics-bench.lock .venv/bin/python benchmarks/insights.py \
        [--backend sqlite|postgres|both] [--sites 1000] [--min-hits 10000] \
        [--max-hits 1000000] [--big 0] [--templates 10000,30000,100000,300000,1000000]

`--sites` subscribed sites with insights on, each with a number of hits drawn
log-uniformly between `--min-hits` and `--max-hits`, spread over the last 15 days
(what an insight reads: two weeks of rollups and 8 days of hours). `--big N` adds one
site of N hits, generated for real. Then every site's insight is generated once, as
the 01:00 job does (`DailyInsights.generate`: rollup reads, signals, the default
writer, the save), in one process. Printed: total time, this process's CPU-ms per site
(user + system from getrusage; the database server's own CPU is not in it on
PostgreSQL), wall-ms p50/p99, statements per site, and every statement that named a
raw table (`traffic_hits`, `traffic_events`): there must be none (the sites are in
whole-hour zones; see docs/decisions/0014-insights.md).

How the sites get their traffic: cloned and scaled rollup rows. Writing every hit of
1,000 log-uniform sites through Tracking is about 200M hits, days of work. An insight
never reads a hit: it reads `traffic_quarters` (totals, days, hours) and, for the
path, referrer, platform and country breakdowns, `traffic_dims`,
`traffic_dim_blocks` and the edge hours of `traffic_hourly` (projections/insights.py,
projections/traffic/grouping.py; the statement trace printed confirms it). So only
the `--templates` sites (one per size, in UTC) get real hits, through the Tracking
application and the projections (benchmarks/readmodels.py's generator: 3,000
paths, 50 referrers, real browsers, platforms and countries). Each of the `--sites`
sites then gets, in bulk INSERT ... SELECT, a copy of the rows of the template
nearest its drawn size on a log scale, under its own id, with hits and unique hits
multiplied by drawn / template hits (rounded). Only the rows its own insight will
ask for are copied: all its quarters, and the dims, blocks and hourly rows of the
days, blocks and edge hours that the week and the week before cut into in the
site's zone (the same `rollup_span`, `cut_fewest` and `in_blocks` the reads use: an
edge day read as the whole day less some hours copies that day and those hours).

Why that is equivalent for what is measured: the reads are primary-key range reads
of one site's rows; their cost is the number of rows in the ranges read, and a clone
has exactly its template's rows there, with counts in proportion to its size. What
it does not cover: a clone has its template's number of distinct values (a 50k-hit
site cloned from the 30k one has the 30k one's long tail of pages), every clone of a
template has the same shape (so the same signals; the writer's seed still differs
per site), rows the insight does not read are absent (a real database of 1,000 sites
is larger, so its pages are less often in cache), and nothing of ingestion or
projection is measured here (benchmarks/ingest.py, benchmarks/readmodels.py). A run
that crosses a site's local midnight would read a day the clone did not copy.
"""

import argparse
import json
import math
import random
import resource
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import (  # noqa: E402
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Table,
    Uuid,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
)

from benchmarks.readmodels import (  # noqa: E402
    Traffic,
    drop_schema,
    naming_raw_tables,
    say,
    statements_sent,
    stores,
    write,
)
from domain.date_ranges import DateRange, local_day  # noqa: E402
from infrastructure.bootstrap import bootstrap  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from projections.base import Tables  # noqa: E402
from projections.insights import rollup_span  # noqa: E402
from projections.traffic.blocks import sealed_day  # noqa: E402
from projections.traffic.intervals import cut_fewest, in_blocks  # noqa: E402
from projections.traffic.projection import TrafficProjection  # noqa: E402
from projections.traffic.schema import BLOCK_SPANS, hourly_horizon  # noqa: E402

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
DAYS = 15
TEMPLATES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
# The columns InsightReads.numbers breaks the weeks down by.
READ_DIMS = ("path", "referrer", "platform", "country")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(container: Any, traffic: Traffic, rng: random.Random, site: UUID, count: int) -> None:
    """`count` real hits of a site over the last DAYS days, in time order, through Tracking."""
    now = datetime.now(UTC)
    span = timedelta(days=DAYS).total_seconds() - 60
    moments = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(count))
    write(container, (traffic.hit(site, at, False) for at in moments), count)


class Plan:
    """The rollup rows one site's insight reads, in its zone, now (as InsightReads.numbers
    cuts its week and the week before)."""

    def __init__(self, zone: str, at: datetime, sealed: date | None) -> None:
        for_day = local_day(at, zone) - timedelta(days=1)
        weeks = (
            DateRange(for_day - timedelta(days=6), for_day, zone),
            DateRange(for_day - timedelta(days=13), for_day - timedelta(days=7), zone),
        )
        self.days: list[tuple[date, date]] = []
        self.blocks: dict[int, list[date]] = {}
        self.hours: list[tuple[datetime, datetime]] = []
        self.raw = 0
        for week in weeks:
            span = rollup_span(week)
            pieces = cut_fewest(span.begin, span.finish, hourly_horizon())
            self.hours += pieces.hours + pieces.less
            self.raw += len(pieces.raw)
            if pieces.days:
                split = in_blocks(pieces.days[0], pieces.days[1], BLOCK_SPANS, sealed)
                self.days += split.days
                for size, starts in split.blocks.items():
                    self.blocks.setdefault(size, []).extend(starts)


def clone(
    conn: Connection, t: Tables, template: UUID, site: UUID, factor: float, plan: Plan
) -> None:
    """Copy the template's rows that the site's insight reads, under the site's id, with
    hits and uniques scaled by `factor`."""

    def copy(table: Table, where: ColumnElement[bool]) -> None:
        names = [c.name for c in table.columns]
        scale = literal(factor, Float())
        columns: list[Any] = []
        for name in names:
            if name == "site_uuid":
                columns.append(literal(site, Uuid()))
            elif name in ("hits", "uniques"):
                columns.append(cast(func.round(table.c[name] * scale), BigInteger))
            else:
                columns.append(table.c[name])
        query = select(*columns).where(table.c.site_uuid == template, where)
        conn.execute(table.insert().from_select(names, query))

    quarters, dims, blocks, hourly = t["quarters"], t["dims"], t["blocks"], t["hourly"]
    copy(quarters, quarters.c.at >= datetime(1970, 1, 1, tzinfo=UTC))
    copy(t["seal"], t["seal"].c.day.is_not(None))
    if plan.days:
        copy(
            dims,
            and_(
                dims.c.dim.in_(READ_DIMS),
                or_(*(and_(dims.c.day >= a, dims.c.day < b) for a, b in plan.days)),
            ),
        )
    if plan.blocks:
        chosen = (
            and_(blocks.c.span == size, blocks.c.start.in_(starts))
            for size, starts in plan.blocks.items()
        )
        copy(blocks, and_(blocks.c.dim.in_(READ_DIMS), or_(*chosen)))
    if plan.hours:
        copy(hourly, or_(*(and_(hourly.c.hour >= a, hourly.c.hour < b) for a, b in plan.hours)))


def count_rows(conn: Connection, t: Tables, leave_out: list[UUID]) -> int:
    """The rows of the read tables outside the templates: the cloned ones (a count after
    the fact, as PostgreSQL's driver tells no row count of an INSERT ... SELECT here)."""
    return sum(
        int(
            conn.execute(
                select(func.count())
                .select_from(t[name])
                .where(t[name].c.site_uuid.not_in(leave_out))
            ).scalar_one()
        )
        for name in ("quarters", "dims", "blocks", "hourly")
    )


def nearest(templates: tuple[int, ...], count: int) -> int:
    return min(templates, key=lambda size: abs(math.log(size) - math.log(count)))


def run(
    backend: str, sites: int, min_hits: int, max_hits: int, big: int, templates: tuple[int, ...]
) -> dict[str, Any]:
    env, schema = stores(backend)
    env["TINYLYTICS_GEOIP_REFRESH"] = "off"
    container = bootstrap(Settings.from_env(env), fast_passwords=True)
    rng = random.Random(17)
    traffic = Traffic(rng)
    try:
        owner = container.configuration.register_account(
            "bench@example.com", "correct horse", is_subscribed=True
        )
        seeding: dict[str, float] = {}
        started = time.perf_counter()
        template_sites: dict[int, UUID] = {}
        for size in templates:
            site = container.configuration.register_site(
                owner.uuid, f"https://template{size}.example.com", timezone="UTC"
            )
            template_sites[size] = site.uuid
        say(f"{backend}: {len(templates)} templates, generating {sum(templates):,} hits")
        for size, site_id in template_sites.items():
            generate(container, traffic, rng, site_id, size)
        seeding["templates_generate_s"] = time.perf_counter() - started

        made: list[UUID] = []
        counts: list[int] = []
        zones: list[str] = []
        for i in range(sites + (1 if big else 0)):
            zone = ZONES[i % len(ZONES)]
            site = container.configuration.register_site(
                owner.uuid, f"https://site{i}.example.com", timezone=zone
            )
            made.append(site.uuid)
            zones.append(zone)
            if big and i == sites:
                counts.append(big)
            else:
                counts.append(round(math.exp(rng.uniform(math.log(min_hits), math.log(max_hits)))))
        if big:
            say(f"{backend}: generating the big site's {big:,} hits")
            generate(container, traffic, rng, made[-1], big)
        started = time.perf_counter()
        container.projections.catch_up()
        for site_id in made:
            container.insights.enable(site_id)
        container.projections.catch_up()
        seeding["project_s"] = time.perf_counter() - started

        say(f"{backend}: cloning rollups for {sites} sites")
        started = time.perf_counter()
        tables = container.projections.tables[TrafficProjection.name]
        at = datetime.now(UTC)
        with container.engine.connect() as conn:
            seals = {size: sealed_day(conn, tables, s) for size, s in template_sites.items()}
        # A clone reads the blocks its template's seal closed (it gets that seal, too).
        plans = {
            (zone, sealed): Plan(zone, at, sealed) for zone in ZONES for sealed in seals.values()
        }
        assert not any(p.raw for p in plans.values()), "a whole-hour zone read raw rows"
        per_template: dict[int, int] = dict.fromkeys(templates, 0)
        for start in range(0, sites, 50):
            with container.engine.begin() as conn:
                for i in range(start, min(start + 50, sites)):
                    size = nearest(templates, counts[i])
                    per_template[size] += 1
                    clone(
                        conn,
                        tables,
                        template_sites[size],
                        made[i],
                        counts[i] / size,
                        plans[(zones[i], seals[size])],
                    )
        seeding["clone_s"] = time.perf_counter() - started
        with container.engine.connect() as conn:
            real = [*template_sites.values(), *made[sites:]]
            cloned_rows = count_rows(conn, tables, real)
        say(f"{backend}: cloned {cloned_rows:,} rows in {seeding['clone_s']:.0f}s; the nightly run")

        walls: list[float] = []
        made_insights = 0
        with statements_sent(container.engine) as statements:
            cpu0, wall0 = cpu_seconds(), time.perf_counter()
            for site_id in made:
                t0 = time.perf_counter()
                found = container.daily_insights.generate(site_id)
                walls.append((time.perf_counter() - t0) * 1000)
                made_insights += found.insight_id is not None
            cpu = cpu_seconds() - cpu0
            wall = time.perf_counter() - wall0
        raw = naming_raw_tables(statements)
        walls.sort()
        return {
            "backend": backend,
            "sites": len(made),
            "hits": sum(counts),
            "hits_per_site": {"min": min(counts), "max": max(counts)},
            "templates": [{"hits": size, "sites_cloned": per_template[size]} for size in templates],
            "hits_generated": sum(templates) + big,
            "cloned_rows": cloned_rows,
            "seeding_s": {k: round(v, 1) for k, v in seeding.items()},
            "insights": made_insights,
            "total_s": round(wall, 1),
            "cpu_ms_per_site": round(1000 * cpu / len(made), 1),
            "wall_ms_per_site": {
                "p50": round(statistics.median(walls), 1),
                "p99": round(walls[min(len(walls) - 1, int(0.99 * len(walls)))], 1),
                "max": round(walls[-1], 1),
            },
            "read_model_statements_per_site": round(len(statements) / len(made), 1),
            "statements_naming_raw_tables": len(raw),
            "raw_examples": raw[:3],
        }
    finally:
        container.close()
        drop_schema(env, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--min-hits", type=int, default=10_000)
    parser.add_argument("--max-hits", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=0)
    parser.add_argument(
        "--templates",
        default=",".join(str(size) for size in TEMPLATES),
        help="hits of the template sites generated for real, comma-separated",
    )
    args = parser.parse_args()
    templates = tuple(sorted(int(size) for size in args.templates.split(",")))
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = [
        run(b, args.sites, args.min_hits, args.max_hits, args.big, templates) for b in backends
    ]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
