"""Uptime benchmark: monitors checked every minute against a fleet of loopback sites, and
the Uptime reads with a year of history.

    flock /tmp/tinylytics-bench.lock .venv/bin/python benchmarks/uptime.py \\
        [--backend sqlite|postgres] [--monitors 500] [--seconds 120] [--threads 4] \\
        [--workers 1] [--fleet 8] [--reads 200] [--every 60]

Checks: `--monitors` sites, each on one of `--fleet` HTTP servers on 127.0.0.1 (run
in a separate process, so their CPU is not counted), are enabled as owners enable
them (the same events, saved 500 aggregates at a time: 10,000 set up in about
20 s on PostgreSQL), then checked every **60 s** (`--every`; the product checks every 300 s;
the benchmark sets the up interval to 60 to load the clock as 10,000 monitors a
minute would, at `--monitors 10000`) by `--workers` clocks (this process and `--workers - 1` more, each as a
`tinylytics worker` runs one) with `--threads` handler threads each, for `--seconds`.
Figures: checks made per second and per minute, their ratio to the wanted rate
(`--monitors / --every`; run for at least twice `--every`, the first checks are spread
over one interval), lateness p50/p99/max of the check firings (fired
minus due, from the schedule's own record), CPU ms per check of the clock processes
(user + system, summed; the database server's own CPU is not counted), the largest
resident memory of one of them at the end.

Reads: one monitor given a year of history (rollup rows at every grain, 120
downtimes), then `GET /api/v1/sites/:id/uptime` through the Flask app and the Uptime
tab's reads, `--reads` times each after five unmeasured rounds: p50/p95.
"""

import argparse
import json
import multiprocessing
import resource
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import domain.uptime_rules as rules  # noqa: E402
from application.clock import Job, Recurrence  # noqa: E402
from application.monitoring import CHECK_KIND  # noqa: E402
from application.sites import SITE_UID, SiteCreated, site_url_namespace  # noqa: E402
from benchmarks.readmodels import drop_schema, stores  # noqa: E402
from domain.accounts import Account  # noqa: E402
from domain.confirmation import uptime_refusal  # noqa: E402
from domain.monitors import Monitor, monitor_id_for  # noqa: E402
from domain.sites import Site  # noqa: E402
from infrastructure.bootstrap import bootstrap  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from projections.uptime import DAY, HOUR, MINUTE, bucket_of, rollups  # noqa: E402

EVERY = 60
BATCH = 500  # aggregates saved in one transaction while setting up


def register_sites(c: Any, owner_id: UUID, urls: list[str]) -> list[SiteCreated]:
    """The sites, as `register_site` makes them (the site, its url and uid claims, the
    owner's list), saved `BATCH` at a time: one by one, each save reloads an owner
    whose history grows by a site, too slow for 10,000 on PostgreSQL."""
    app = c.configuration
    owner = app.get(owner_id, Account, "Account")
    made: list[SiteCreated] = []
    for n in range(0, len(urls), BATCH):
        batch: list[Any] = []
        for url in urls[n : n + BATCH]:
            site = Site.register(owner_id=owner.id, url=url)
            claims = (
                app.claim(site_url_namespace(owner.id), site.url, site.id, f"Site {site.url}"),
                app.claim(SITE_UID, site.uid, site.id, "Site uid"),
            )
            owner.attach_site(site.id)
            batch += [site, *claims]
        numbers = {
            r.domain_event.originator_id: r.notification.id
            for r in app.save(*batch, owner)
            if r.domain_event.originator_version == 1
        }
        made += [SiteCreated(id=numbers[s.id], uuid=s.id, uid=s.uid) for s in batch[::3]]
    return made


def enable_monitors(c: Any, owner_id: UUID, sites: list[SiteCreated]) -> None:
    """Monitors enabled as `Monitoring.enable` enables them (the owner may: a paid,
    confirmed account), `BATCH` saved at a time. Their check jobs are put by the caller;
    no domain lookups here; a new monitor has no probe row to reschedule."""
    refusal = uptime_refusal(c.configuration.get_account(owner_id))
    assert refusal is None, refusal
    for n in range(0, len(sites), BATCH):
        batch = [
            Monitor.enable_for(s.uuid, owner_id, c.configuration.get_site(s.uuid).url)
            for s in sites[n : n + BATCH]
        ]
        c.monitoring.save(*batch)


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def fleet_process(count: int, ports: Any, stop: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    servers = []
    for _ in range(count):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        ports.append(server.server_address[1])
    stop.wait()


def worker_process(env: dict[str, str], every: int, go: Any, stop: Any, used: Any) -> None:
    """One more clock on the same stores, as another `tinylytics worker` is."""
    rules.UP_EVERY = every
    go.wait()
    c = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        before = resource.getrusage(resource.RUSAGE_SELF)
        stop_clock = threading.Event()
        thread = threading.Thread(target=c.clock.run, args=(stop_clock,), daemon=True)
        thread.start()
        stop.wait()
        stop_clock.set()
        c.clock.wake.set()
        thread.join(timeout=60)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        used.put((cpu, after.ru_maxrss / 1024))
    finally:
        c.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--monitors", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--fleet", type=int, default=8)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--every", type=int, default=EVERY, help="seconds between checks")
    args = parser.parse_args()
    every = args.every

    manager = multiprocessing.Manager()
    ports = manager.list()
    stop = multiprocessing.Event()
    fleet = multiprocessing.Process(target=fleet_process, args=(args.fleet, ports, stop))
    fleet.start()
    while len(ports) < args.fleet:
        time.sleep(0.05)

    env, schema = stores(args.backend)
    env.update(
        TINYLYTICS_GEOIP_REFRESH="off",
        TINYLYTICS_UPTIME_ALLOWED_NETWORKS="127.0.0.1/32",
        TINYLYTICS_RDAP_URL="http://127.0.0.1:9",  # no domain lookups in this benchmark
        TINYLYTICS_CLOCK_THREADS=str(args.threads),
    )
    rules.UP_EVERY = every  # by default checked every minute, not every five
    go, stop_workers = multiprocessing.Event(), multiprocessing.Event()
    used: Any = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=worker_process, args=(env, every, go, stop_workers, used))
        for _ in range(args.workers - 1)
    ]
    for worker in workers:
        worker.start()  # before this process opens connections: they do not fork
    c = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        say(f"{args.backend}: {args.monitors} monitors on {args.fleet} loopback servers")
        owner = c.configuration.register_account(
            "bench@example.com", "correct horse", is_subscribed=True
        )
        c.configuration.confirm_email(owner.uuid)
        t0 = time.monotonic()
        urls = [f"http://127.0.0.1:{ports[i % args.fleet]}/s{i}" for i in range(args.monitors)]
        sites = register_sites(c, owner.uuid, urls)
        enable_monitors(c, owner.uuid, sites)
        c.projections.catch_up()
        say(f"set up in {time.monotonic() - t0:.0f} s")
        # Spread the first checks over a minute, as monitors enabled over time are.
        start = datetime.now(UTC) + timedelta(seconds=2)
        c.schedule.put(
            [
                Job(
                    CHECK_KIND,
                    str(monitor_id_for(s.uuid)),
                    start + timedelta(seconds=every * i / len(sites)),
                    Recurrence(every=every),
                )
                for i, s in enumerate(sites)
            ]
        )
        c.projections.catch_up()
        say(f"monitors enabled; checking for {args.seconds} s with {args.workers} clock(s)")
        go.set()
        before = resource.getrusage(resource.RUSAGE_SELF)
        counted = c.schedule.status(datetime.now(UTC))
        stop_clock = threading.Event()
        thread = threading.Thread(target=c.clock.run, args=(stop_clock,), daemon=True)
        began = time.monotonic()
        thread.start()
        time.sleep(args.seconds)
        stop_clock.set()
        c.clock.wake.set()
        thread.join(timeout=60)
        stop_workers.set()
        elapsed = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_SELF)
        others = [used.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        from sqlalchemy import func, select

        with c.engine.connect() as conn:
            checks = int(
                conn.execute(
                    select(func.coalesce(func.sum(rollups.c.up + rollups.c.down), 0)).where(
                        rollups.c.grain == DAY
                    )
                ).scalar()
                or 0
            )
            from infrastructure.schedule import clock_jobs

            late = [
                int(x)
                for x in conn.execute(
                    select(clock_jobs.c.last_lateness_ms).where(
                        clock_jobs.c.kind == CHECK_KIND, clock_jobs.c.last_fired_at.is_not(None)
                    )
                ).scalars()
                if x is not None
            ]
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        cpu += sum(spent for spent, _rss in others)
        rss = max([after.ru_maxrss / 1024] + [r for _cpu, r in others])
        del counted
        result: dict[str, Any] = {
            "backend": args.backend,
            "monitors": args.monitors,
            "interval_s": every,
            "threads": args.threads,
            "workers": args.workers,
            "seconds": round(elapsed, 1),
            "checks": checks,
            "checks_per_s": round(checks / elapsed, 1),
            "wanted_per_s": round(args.monitors / every, 1),
            "checks_per_min": round(60 * checks / elapsed),
            "goal_ratio": round(checks / elapsed / (args.monitors / every), 3),
            "lateness_p50_ms": percentile(late, 0.5),
            "lateness_p99_ms": percentile(late, 0.99),
            "lateness_max_ms": max(late) if late else None,
            "cpu_ms_per_check": round(1000 * cpu / checks, 2) if checks else None,
            "rss_mb": round(rss, 1),
        }
        result.update(reads(c, sites[0], owner, args.reads))
        print(json.dumps(result, indent=2))
    finally:
        c.close()
        stop_workers.set()
        go.set()
        stop.set()
        fleet.join(timeout=10)
        drop_schema(env, schema)


def reads(c: Any, site: Any, owner: Any, times: int) -> dict[str, Any]:
    """A year of history for one monitor, then the API and the Uptime tab's reads."""
    from interfaces.app import create_app

    monitor_id = monitor_id_for(site.uuid)
    now = datetime.now(UTC)
    rows = []
    for grain, count, step in ((MINUTE, 1440, 60), (HOUR, 2160, 3600), (DAY, 366, 86400)):
        for i in range(count):
            at = bucket_of(now - timedelta(seconds=step * (i + 1)), grain)
            rows.append(
                {
                    "monitor_uuid": monitor_id,
                    "grain": grain,
                    "bucket": at,
                    "up": 1,
                    "down": 0,
                    "ms_sum": 120,
                    "ms_count": 1,
                }
            )
    downtimes = c.projections.tables["uptime"]["downtimes"]
    with c.engine.begin() as conn:
        conn.execute(rollups.delete().where(rollups.c.monitor_uuid == monitor_id))
        conn.execute(rollups.insert(), rows)
        conn.execute(
            downtimes.insert(),
            [
                {
                    "id": 10**12 + i,
                    "monitor_uuid": monitor_id,
                    "site_uuid": site.uuid,
                    "error": "Connection refused",
                    "started_at": now - timedelta(days=3 * i + 1),
                    "ended_at": now - timedelta(days=3 * i + 1) + timedelta(minutes=15),
                }
                for i in range(120)
            ],
        )
    key = c.configuration.issue_key(owner.uuid, "bench", "read_only").secret
    c.projections.catch_up()
    app = create_app(c)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    api: list[float] = []
    tab: list[float] = []
    for turn in range(times + 5):
        if turn == 5:
            api, tab = [], []  # the first rounds warm caches up; they are not counted
        t = time.perf_counter()
        response = client.get(f"/api/v1/sites/{site.id}/uptime", headers=headers)
        api.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.json
        t = time.perf_counter()
        c.reads.uptime.monitor(site.uuid)
        c.reads.uptime.downtimes_of(site.uuid, 0, 20)
        c.reads.uptime.summary(site.uuid)
        c.reads.uptime.response_times(monitor_id, HOUR, now - timedelta(hours=24))
        tab.append((time.perf_counter() - t) * 1000)
    return {
        "api_uptime_p50_ms": round(statistics.median(api), 2),
        "api_uptime_p95_ms": round(percentile(api, 0.95), 2),
        "tab_reads_p50_ms": round(statistics.median(tab), 2),
        "tab_reads_p95_ms": round(percentile(tab, 0.95), 2),
    }


def sites_list_main() -> None:
    """`--sites-list N`: the dashboard's sites list of an owner with N monitored sites.

        flock /tmp/tinylytics-bench.lock .venv/bin/python benchmarks/uptime.py \\
            --sites-list 10000 [--backend sqlite|postgres] [--owned N] [--reads 30]

    N sites with enabled monitors are written straight into the read models (sites,
    monitors, their latest checks): 2 % down, 1 % paused, 1 % with a certificate
    expiring within 30 days, the rest up. `--owned` of them (default all) belong to
    the signed-in owner, the others to other accounts. Then `GET /sites` over HTTP
    from a real `tinylytics serve`, `--reads` times: p50/p95 (goal ≤ 200 ms).
    """
    import os
    import uuid as uuids

    from benchmarks.readmodels import serve
    from projections.uptime import probes

    parser = argparse.ArgumentParser()
    parser.add_argument("--sites-list", type=int, required=True)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--owned", type=int, default=None)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args()
    total = args.sites_list
    owned = total if args.owned is None else min(args.owned, total)

    env, schema = stores(args.backend)
    env.update(TINYLYTICS_GEOIP_REFRESH="off", TINYLYTICS_RDAP_URL="http://127.0.0.1:9")
    c = bootstrap(Settings.from_env(env), fast_passwords=True)
    server = None
    try:
        email, password = "bench@example.com", "a long benchmark password"
        owner = c.configuration.register_account(email, password, is_subscribed=True)
        c.projections.catch_up()
        say(f"{args.backend}: {total:,} monitored sites, {owned:,} of them the owner's")
        now = datetime.now(UTC)
        sites_t = c.projections.tables["sites"]["sites"]
        monitors_t = c.projections.tables["uptime"]["monitors"]
        site_rows, monitor_rows, probe_rows = [], [], []
        for i in range(total):
            site_id, mine = uuids.uuid4(), i < owned
            owner_id = owner.uuid if mine else uuids.uuid4()
            url = f"https://site{i}.example.com"
            down, paused, expiring = i % 50 == 7, i % 100 == 3, i % 100 == 5
            site_rows.append(
                {
                    "id": 10**12 + i,
                    "uuid": site_id,
                    "uid": f"b{i:08d}",
                    "owner_uuid": owner_id,
                    "url": url,
                    "label": f"Site {i:05d}",
                    "timezone": "UTC",
                    "public": False,
                    "unique_tracking": True,
                    "any_domain": False,
                    "ignored_paths": [],
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            monitor_id = monitor_id_for(site_id)
            monitor_rows.append(
                {
                    "id": 10**12 + i,
                    "uuid": monitor_id,
                    "site_uuid": site_id,
                    "owner_uuid": owner_id,
                    "url": url,
                    "enabled": True,
                    "paused": paused,
                    "auto_paused": False,
                    "is_down": down,
                    "down_since": now - timedelta(minutes=20) if down else None,
                    "down_error": "Connection refused" if down else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            probe_rows.append(
                {
                    "monitor_uuid": monitor_id,
                    "site_uuid": site_id,
                    "last_check_at": now - timedelta(minutes=2),
                    "last_ok": not down,
                    "last_status_code": None if down else 200,
                    "last_error": "Connection refused" if down else None,
                    "last_response_ms": 120,
                    "failures": 0,
                    "successes": 0,
                    "interval_s": 300,
                    "next_check_at": None if paused else now + timedelta(minutes=3),
                    "ssl_fingerprint": "ab" * 32,
                    "ssl_expires_at": now + timedelta(days=10 if expiring else 80),
                    "ssl_valid": True,
                }
            )
        with c.engine.begin() as conn:
            for table, rows in ((sites_t, site_rows), (monitors_t, monitor_rows)):
                for n in range(0, total, 1000):
                    conn.execute(table.insert(), rows[n : n + 1000])
            for n in range(0, total, 1000):
                conn.execute(probes.insert(), probe_rows[n : n + 1000])
        server, http = serve(env)
        http.sign_in(email, password)
        status, page = http.get("/sites")
        assert status == 200, page[:300]
        badges = page.count(b"uptime-trouble")
        http.timed("/sites", 2)  # warm: templates, plans
        timings = http.timed("/sites", args.reads)
        floor = http.timed("/healthz", args.reads)
        print(
            json.dumps(
                {
                    "backend": args.backend,
                    "monitored_sites": total,
                    "owned": owned,
                    "trouble_badges": badges,
                    "page_kb": round(len(page) / 1024),
                    "sites_list_p50_ms": round(statistics.median(timings), 1),
                    "sites_list_p95_ms": round(percentile(timings, 0.95), 1),
                    "healthz_p50_ms": round(statistics.median(floor), 1),
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        c.close()
        drop_schema(env, schema)


if __name__ == "__main__":
    sites_list_main() if "--sites-list" in sys.argv else main()
