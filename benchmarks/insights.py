"""Insights benchmark: the nightly run for many sites, CPU per site, and proof that no
raw-hit table is read.

    flock /tmp/tinylytics-bench.lock .venv/bin/python benchmarks/insights.py \
        [--backend sqlite|postgres|both] [--sites 1000] [--min-hits 10000] \
        [--max-hits 1000000] [--big 0]

`--sites` subscribed sites with insights on, each with a number of hits drawn
log-uniformly between `--min-hits` and `--max-hits`, spread over the last 15 days
(what an insight reads: two weeks of rollups and 8 days of hours), through the
Tracking application and projected (benchmarks/readmodels.py's generator: 3,000
paths, 50 referrers, real browsers, platforms and countries). `--big N` adds one site
of N hits. Then every site's insight is generated once, as the 01:00 job does
(`DailyInsights.generate`: rollup reads, signals, the default writer, the save), in
one process. Printed: total time, this process's CPU-ms per site (user + system from
getrusage; the database server's own CPU is not in it on PostgreSQL), wall-ms p50/p99,
statements per site, and every statement that named a raw table (`traffic_hits`,
`traffic_events`): there must be none (the sites are in whole-hour zones; see
docs/decisions/0014-insights.md).
"""

import argparse
import json
import math
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from benchmarks.readmodels import Traffic, drop_schema, say, stores, write  # noqa: E402
from infrastructure.bootstrap import bootstrap  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402

RAW_TABLES = ("traffic_hits", "traffic_events")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
DAYS = 15


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(backend: str, sites: int, min_hits: int, max_hits: int, big: int) -> dict[str, Any]:
    env, schema = stores(backend)
    env["TINYLYTICS_GEOIP_REFRESH"] = "off"
    container = bootstrap(Settings.from_env(env), fast_passwords=True)
    rng = random.Random(17)
    traffic = Traffic(rng)
    try:
        owner = container.configuration.register_account(
            "bench@example.com", "correct horse", is_subscribed=True
        )
        made = []
        counts = []
        for i in range(sites + (1 if big else 0)):
            zone = ZONES[i % len(ZONES)]
            site = container.configuration.register_site(
                owner.uuid, f"https://site{i}.example.com", timezone=zone
            )
            made.append(site.uuid)
            if big and i == sites:
                counts.append(big)
            else:
                counts.append(round(math.exp(rng.uniform(math.log(min_hits), math.log(max_hits)))))
        total = sum(counts)
        say(f"{backend}: {len(made)} sites, generating {total:,} hits")
        now = datetime.now(UTC)
        span = timedelta(days=DAYS).total_seconds() - 60
        started = time.perf_counter()
        for site, count in zip(made, counts, strict=True):
            moments = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(count))
            write(container, (traffic.hit(site, at, False) for at in moments), count)
        say(f"{backend}: generated in {time.perf_counter() - started:.0f}s; projecting")
        started = time.perf_counter()
        container.projections.catch_up()
        for site in made:
            container.insights.enable(site)
        container.projections.catch_up()
        say(f"{backend}: projected in {time.perf_counter() - started:.0f}s; the nightly run")

        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(container.engine, "before_cursor_execute", seen)
        walls: list[float] = []
        made_insights = 0
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        for site in made:
            t0 = time.perf_counter()
            found = container.daily_insights.generate(site)
            walls.append((time.perf_counter() - t0) * 1000)
            made_insights += found.insight_id is not None
        cpu = cpu_seconds() - cpu0
        wall = time.perf_counter() - wall0
        event.remove(container.engine, "before_cursor_execute", seen)
        raw = [s for s in statements if any(t in s for t in RAW_TABLES)]
        walls.sort()
        return {
            "backend": backend,
            "sites": len(made),
            "hits": total,
            "hits_per_site": {"min": min(counts), "max": max(counts)},
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
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = [run(b, args.sites, args.min_hits, args.max_hits, args.big) for b in backends]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
