"""Fault runs on demand: Redis stopped under collector load, PostgreSQL restarted under
load, the projection runner killed mid-batch.

    .venv/bin/python benchmarks/faults.py [--runs redis,postgres,projections]
        [--backend postgres|sqlite] [--clients 16] [--redis-outage 10]
        [--postgres-outages 2,30] [--hits 60000] [--kills 3]

Each run starts what it breaks, on a free port, and removes it afterwards: a private
redis-server, a private PostgreSQL cluster (initdb; as the `postgres` user when run
as root), a `tinylytics serve` or `tinylytics projections run` process. The shared
PostgreSQL and Redis of scripts/services are only used as the store of the runs that
do not stop them (a fresh schema, dropped at the end). For each run it prints the
requests sent, acknowledged (2xx), stored (counted in the event store afterwards),
lost (acknowledged but not stored: must be 0) and the answers by status in each
phase (by the phase a request was sent in); the PostgreSQL runs go to a private
cluster (and a private Redis) whatever `--backend` says; the projection run prints the events in the log, the kills and whether the
read models equal a fresh replay of the log. Exits 1 if anything was lost, or a
request got a 5xx it should not have (any 5xx while only Redis is down; anything
but 503 while PostgreSQL is).

The tests keep shorter versions of the same runs (tests/test_redis_outage.py,
tests/test_database_outage.py, tests/test_read_models.py); the parts are shared in
tests/fault_harness.py.
"""

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from infrastructure.bootstrap import bootstrap  # noqa: E402
from infrastructure.persistence import postgres_url  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from tests.analytics_helpers import traffic  # noqa: E402
from tests.fault_harness import (  # noqa: E402
    Books,
    CollectorLoad,
    PrivatePostgres,
    PrivateRedis,
    ProjectionProcess,
    ReadModelWatch,
    Server,
    books,
    kill_mid_batch,
    make_site,
    stored_paths,
)


def say(message: str) -> None:
    print(message, flush=True)


def services() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "scripts" / "services")], check=True, capture_output=True, text=True
    )
    return dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)


def store_env(backend: str, folder: Path) -> dict[str, str]:
    """A fresh store: a new SQLite folder, or a new schema on the shared PostgreSQL."""
    env = {"TINYLYTICS_DATA_DIR": str(folder / "data")}
    if backend == "postgres":
        env["DATABASE_URL"] = services()["DATABASE_URL"]
        env["TINYLYTICS_DB_SCHEMA"] = f"faults_{uuid.uuid4().hex[:10]}"
    return env


def drop_store(env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    if settings.is_postgres and settings.db_schema:
        url = postgres_url(settings).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{settings.db_schema}" CASCADE')


def hold(load: CollectorLoad, phase: str, seconds: float) -> None:
    load.phase = phase
    time.sleep(seconds)


# -- the runs --------------------------------------------------------------------------------
def redis_run(backend: str, clients: int, outage: float, folder: Path) -> tuple[Books, bool]:
    say(f"== Redis stopped for {outage:.0f} s under collector load ({backend}, {clients} clients)")
    env = store_env(backend, folder)
    try:
        with PrivateRedis() as redis:
            env.update(REDIS_URL=redis.url, TINYLYTICS_REDIS_PREFIX="faults")
            site = make_site(env)
            with (
                Server(env, log=folder / "redis-run-server.log") as server,
                CollectorLoad(server, site.uid, clients=clients) as load,
            ):
                hold(load, "before", 5)
                redis.stop()
                hold(load, "outage", outage)
                redis.start()
                hold(load, "after", 5)
            figures = books("Redis outage", load.tally, stored_paths(env))
    finally:
        drop_store(env)
    fives = {a for phase in figures.answers.values() for a in phase if a[0] in "5e"}
    return figures, figures.lost == 0 and not fives


def postgres_run(clients: int, outage: float, folder: Path) -> tuple[Books, bool, int]:
    say(f"== PostgreSQL down for {outage:.0f} s under collector load ({clients} clients)")
    with PrivatePostgres() as cluster, PrivateRedis() as redis:
        env = {
            "TINYLYTICS_DATA_DIR": str(folder / f"pg-{outage}"),
            "DATABASE_URL": cluster.url,
            "TINYLYTICS_DB_SCHEMA": "faults",
            "REDIS_URL": redis.url,
        }
        site = make_site(env)
        with (
            Server(env, log=folder / f"postgres-run-{outage}-server.log") as server,
            CollectorLoad(server, site.uid, clients=clients) as load,
        ):
            hold(load, "before", 5)
            load.phase = "outage"
            cluster.stop("immediate")  # a crash: recovery from the WAL at the next start
            time.sleep(outage)
            cluster.start()
            hold(load, "after", 10)
        figures = books(f"PostgreSQL {outage:.0f} s outage", load.tally, stored_paths(env))
    answers = {a for phase in figures.answers.values() for a in phase}
    fine = figures.lost == 0 and answers <= {"204", "503"} and not load.tally.without_retry_after
    return figures, fine, load.tally.without_retry_after


def _traffic_rows(container: Any) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    with container.engine.connect() as conn:
        for name, table in container.projections.tables["traffic"].items():
            found[name] = sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
    return found


def projections_run(backend: str, hits: int, kills: int, folder: Path) -> bool:
    say(f"== The projection runner killed mid-batch {kills} times ({backend}, {hits} hits)")
    env = store_env(backend, folder)
    settings = Settings.from_env(env)
    container = bootstrap(settings, fast_passwords=True)
    ok = False
    try:
        owner = container.configuration.register_account("faults@example.com", "correct horse")
        sites = [
            container.configuration.register_site(owner.uuid, f"https://site{n}.example")
            for n in range(3)
        ]
        container.projections.catch_up()
        today = datetime.now(UTC).date()
        days = [today - timedelta(days=n) for n in range(30)]
        events = sorted(
            (e for n, s in enumerate(sites) for e in traffic(s, 11 + n, days, hits // 3)),
            key=lambda e: e.timestamp,
        )
        for start in range(0, len(events), 5000):
            container.tracking.record(events[start : start + 5000])
        head = container.tracking.recorder.max_notification_id() or 0
        watch = ReadModelWatch(settings)
        positions = []
        try:
            for n in range(kills):
                with ProjectionProcess(env, log=folder / "projections.log") as runner:
                    # Each runner moves at least one batch before it is killed.
                    at = positions[-1] if positions else 0
                    if not kill_mid_batch(runner, watch, timeout=120, after=at):
                        say(f"  kill {n + 1}: the runner finished before a batch was seen open")
                        break
                positions.append(watch.position())
                say(
                    f"  kill {n + 1}: SIGKILL with a batch open; position {positions[-1]} of {head}"
                )
        finally:
            watch.close()
        container.projections.catch_up()  # a runner started again
        live = _traffic_rows(container)
        table = container.projections.tables["traffic"]["hits"]
        with container.engine.connect() as conn:
            in_read_model = conn.execute(select(func.count()).select_from(table)).scalar_one()
        container.projections.rebuild("traffic")
        replayed = _traffic_rows(container)
        equal = live == replayed
        lost = len(events) - in_read_model
        say(
            f"projection kills: events in the log {len(events)}, kills mid-batch {len(positions)}, "
            f"hits in the read model {in_read_model}, lost {lost}, "
            f"read models equal a fresh replay: {'yes' if equal else 'NO'}"
        )
        ok = equal and lost == 0
    finally:
        container.close()
        drop_store(env)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="redis,postgres,projections")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--redis-outage", type=float, default=10.0)
    parser.add_argument("--postgres-outages", default="2,30", help="seconds, comma-separated")
    parser.add_argument("--hits", type=int, default=60_000)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    runs = set(args.runs.split(","))
    good = True
    with tempfile.TemporaryDirectory(prefix="tinylytics-faults-") as tmp:
        folder = Path(tmp)
        if "redis" in runs:
            figures, fine = redis_run(args.backend, args.clients, args.redis_outage, folder)
            say("\n".join(figures.lines()))
            good &= fine
        if "postgres" in runs:
            for seconds in (float(s) for s in args.postgres_outages.split(",")):
                figures, fine, missing = postgres_run(args.clients, seconds, folder)
                say("\n".join(figures.lines()))
                if missing:
                    say(f"  {missing} answers 503 without Retry-After")
                good &= fine
        if "projections" in runs:
            good &= projections_run(args.backend, args.hits, args.kills, folder)
    say("all fault runs held" if good else "A FAULT RUN LOST SOMETHING OR ANSWERED WRONG")
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
