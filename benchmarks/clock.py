"""Clock benchmark: many due jobs fired by several clocks, and a big site's weekly report.

    .venv/bin/python benchmarks/clock.py [--backend postgres|embedded|both] [--jobs 100000]
        [--minutes 10] [--workers 3] [--hits 1000000] [--skip-clock] [--skip-report]

Clock: `--jobs` one-shot jobs due evenly across `--minutes` (100,000 across ten minutes is
~167 firings a second, the rate of 10,000 uptime monitors checked every minute), put
in a fresh schedule. On PostgreSQL (+ Redis, as production runs), `--workers` processes
each run a clock loop on its own connections, as `tinylytics worker` does; on the
embedded default (SQLite), one clock, as `tinylytics serve` runs it. Each firing's
handler records (key, due, fired) in its process; at the end: lateness p50/p99/max
(fired - due), jobs fired twice (must be 0) and never, and the clock processes' CPU
time per firing once started (user + system, from getrusage; idle polling, at most once a
second, included; the database server's own CPU is not). Floor: up to 20,000 jobs all
due at once, claimed and finished by one clock as fast as it goes: what the schedule
table itself costs per firing.

Report: `--hits` hits of one site over the last 30 days (benchmarks/readmodels.py's
generator), projected, then the weekly report built (rollup reads and both templates)
ten times: median and worst build time.
"""

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from application.clock import Clock, Firing, Job, JobKind  # noqa: E402
from infrastructure.persistence import ensure_schema, read_model_engine  # noqa: E402
from infrastructure.schedule import SqlSchedule, clock_jobs  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402

KIND = "bench.tick"


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def stores(backend: str) -> tuple[dict[str, str], str | None]:
    from benchmarks.readmodels import stores as readmodel_stores

    env, schema = readmodel_stores("postgres" if backend == "postgres" else "sqlite")
    env["TINYLYTICS_GEOIP_REFRESH"] = "off"
    return env, schema


def drop(env: dict[str, str], schema: str | None) -> None:
    from benchmarks.readmodels import drop_schema

    drop_schema(env, schema)


# -- the clock ---------------------------------------------------------------------------
def clock_process(env: dict[str, str], out: str, stop: Any, ready: Any, threads: int) -> None:
    """One clock, as a worker process runs it; writes its firings to `out`."""
    settings = Settings.from_env(env)
    engine = read_model_engine(settings)
    fired: list[tuple[str, float, float]] = []

    def record(firing: Firing) -> None:
        fired.append((firing.key, firing.due_at.timestamp(), time.time()))

    clock = Clock(SqlSchedule(engine), [JobKind(KIND, record)], host="bench", threads=threads)
    import threading

    halt = threading.Event()
    runner = threading.Thread(target=clock.run, args=(halt,))
    # CPU from here on: the imports and the connection pool of a start are not firings.
    begun = resource.getrusage(resource.RUSAGE_SELF)
    ready.set()
    runner.start()
    stop.wait()
    halt.set()
    clock.wake.set()
    runner.join(60)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - begun.ru_utime - begun.ru_stime
    with open(out, "w") as handle:
        json.dump({"fired": fired, "cpu": cpu}, handle)
    engine.dispose()


def run_clock(backend: str, jobs: int, minutes: float, workers: int) -> dict[str, Any]:
    env, schema = stores(backend)
    settings = Settings.from_env(env)
    ensure_schema(settings)
    engine = read_model_engine(settings)
    schedule = SqlSchedule(engine)
    schedule.setup()
    try:
        # Floor: claim and finish every job in one process with an empty handler, as
        # fast as it goes (all due at once): the schedule table's own cost.
        now = datetime.now(UTC)
        floor_jobs = min(jobs, 20_000)
        schedule.put([Job(KIND, f"f{i}", now) for i in range(floor_jobs)])
        floor_clock = Clock(schedule, [JobKind(KIND, lambda f: None)], host="bench")
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        floor_clock.tick()
        floor_seconds = time.perf_counter() - t0
        floor_cpu_ms = (time.process_time() - cpu0) * 1000 / floor_jobs
        say(f"{backend}: floor {floor_jobs / floor_seconds:,.0f} firings/s in one process")

        span = minutes * 60
        start = datetime.now(UTC) + timedelta(seconds=15)
        say(f"{backend}: putting {jobs:,} jobs due across {minutes:g} min")
        schedule.put(
            [Job(KIND, f"j{i}", start + timedelta(seconds=span * i / jobs)) for i in range(jobs)]
        )
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        outs = []
        procs = []
        for n in range(workers):
            out = tempfile.mktemp(prefix=f"clock-{n}-", suffix=".json")
            ready = context.Event()
            proc = context.Process(target=clock_process, args=(env, out, stop, ready, 4))
            proc.start()
            ready.wait(60)
            outs.append(out)
            procs.append(proc)
        say(f"{backend}: {workers} clock process(es) running")
        deadline = time.time() + span + 15 + 300
        while time.time() < deadline:
            with engine.connect() as conn:
                from sqlalchemy import func, select

                left = conn.execute(
                    select(func.count()).select_from(clock_jobs).where(clock_jobs.c.kind == KIND)
                ).scalar()
            if not left and datetime.now(UTC) > start + timedelta(seconds=span):
                break
            time.sleep(2)
        stop.set()
        for proc in procs:
            proc.join(120)
        fired: list[tuple[str, float, float]] = []
        cpu = 0.0
        per_worker = []
        for out in outs:
            with open(out) as handle:
                data = json.load(handle)
            os.unlink(out)
            fired += [tuple(x) for x in data["fired"]]
            cpu += data["cpu"]
            per_worker.append(len(data["fired"]))
        keys = [k for k, _, _ in fired]
        twice = len(keys) - len(set(keys))
        never = jobs - len(set(keys))
        lateness = [(f - d) * 1000 for _, d, f in fired]
        return {
            "backend": backend,
            "workers": workers,
            "jobs": jobs,
            "minutes": minutes,
            "fired": len(fired),
            "fired_twice": twice,
            "never_fired": never,
            "per_worker": per_worker,
            "lateness_ms": {
                "p50": round(percentile(lateness, 0.5), 1),
                "p99": round(percentile(lateness, 0.99), 1),
                "max": round(max(lateness), 1) if lateness else None,
            },
            "cpu_ms_per_firing": round(cpu * 1000 / max(1, len(fired)), 3),
            "floor_firings_per_s": round(floor_jobs / floor_seconds),
            "floor_cpu_ms_per_firing": round(floor_cpu_ms, 3),
        }
    finally:
        engine.dispose()
        drop(env, schema)


# -- the report --------------------------------------------------------------------------
def run_report(backend: str, hits: int) -> dict[str, Any]:
    from benchmarks.readmodels import generate_recent
    from infrastructure.bootstrap import bootstrap

    env, schema = stores(backend)
    container = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        owner = container.configuration.register_account("big@example.com", "correct horse")
        site = container.configuration.register_site(owner.uuid, "https://big.example.com")
        say(f"{backend}: generating {hits:,} hits")
        t0 = time.perf_counter()
        generate_recent(container, site.uuid, hits)
        say(f"{backend}: generated in {time.perf_counter() - t0:.0f}s; projecting")
        t0 = time.perf_counter()
        container.projections.rebuild("traffic")
        container.projections.catch_up()
        say(f"{backend}: projected in {time.perf_counter() - t0:.0f}s")
        timings = []
        report = None
        for _ in range(10):
            t0 = time.perf_counter()
            report = container.reports.build(site.uuid)
            container.reports.message(report, "big@example.com")
            timings.append((time.perf_counter() - t0) * 1000)
        assert report is not None
        return {
            "backend": backend,
            "hits": hits,
            "week_hits": report.numbers.hits,
            "top_pages": len(report.numbers.top_pages),
            "build_ms": {
                "median": round(statistics.median(timings), 1),
                "max": round(max(timings), 1),
            },
        }
    finally:
        container.close()
        drop(env, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "embedded", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--hits", type=int, default=1_000_000)
    parser.add_argument("--skip-clock", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args()
    backends = ["postgres", "embedded"] if args.backend == "both" else [args.backend]
    say(f"load average at start: {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {"clock": [], "report": []}
    for backend in backends:
        if not args.skip_clock:
            workers = args.workers if backend == "postgres" else 1
            results["clock"].append(run_clock(backend, args.jobs, args.minutes, workers))
            say(json.dumps(results["clock"][-1]))
        if not args.skip_report:
            results["report"].append(run_report(backend, args.hits))
            say(json.dumps(results["report"][-1]))
    say(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
