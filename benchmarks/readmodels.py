"""Read-model benchmark: rebuild and catch-up rates, 30-day grouped and leaderboard latency.

    .venv/bin/python benchmarks/readmodels.py [--backend sqlite|postgres|both] [--hits 1000000]
        [--shape spread|recent|both]

A generator of realistic traffic (Zipf-distributed paths, referrers, countries and
user agents over a year, several sites) writes hits through the Tracking
application. Then, on each backend, it measures: the steady catch-up rate of the
projections over the new events, the rebuild rate, and p50/p95 latency of 30-day
grouped queries (each group_by) and of the leaderboard query. Floors, measured in
the same run on the same database: reading the whole notification log without
projecting it (for the rates) and the same 30-day grouping done by scanning the
raw hits (for the queries).

The `recent` shape is the one a new user meets (and Shynet's own load uses): ONE
site whose hits all fall inside the last 30 days. Its figures are taken end to end
over HTTP from a real `tinylytics serve` on the same stores: the dashboard overview
for 30 days (signed in) and `GET /sites/:id/hits?grouped=true` for 30 days by each
group_by, 20 times each (median and p95). Floor: `GET /healthz` on the same server,
the cost of a request that reads nothing.
"""

import argparse
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from domain.date_ranges import DateRange  # noqa: E402
from domain.hits import Hit, created_event, new_site_scoped_id  # noqa: E402
from infrastructure.bootstrap import bootstrap  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from projections.reads import Filters  # noqa: E402

# The tables of single hits and events: a report is read from rollups, never from these.
RAW_TABLES = ("traffic_hits", "traffic_events")

SITES = 5
PATHS = 3000
COUNTRIES = [
    "US",
    "DE",
    "GB",
    "FR",
    "IN",
    "CA",
    "NL",
    "PL",
    "BR",
    "JP",
    "ES",
    "IT",
    "SE",
    "AU",
    "CH",
    "AT",
    "BE",
    "DK",
    "NO",
    "FI",
    "IE",
    "PT",
    "CZ",
    "RU",
    "UA",
    "MX",
    "AR",
    "KR",
    "CN",
    "SG",
    "NZ",
    "ZA",
    "TR",
    "IL",
    "GR",
    "HU",
    "RO",
    "XX",
]
REFERRERS = [
    None,
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "https://t.co/",
    "https://www.reddit.com/r/programming/",
    "https://duckduckgo.com/",
    "https://www.bing.com/",
    "https://lobste.rs/",
    "https://github.com/",
    "https://www.linkedin.com/",
    "https://mastodon.social/",
    "https://feedly.com/",
] + [f"https://blog{i}.example/" for i in range(40)]
SOURCES = {
    None: "direct",
    "https://www.google.com/": "google",
    "https://news.ycombinator.com/": "hackernews",
    "https://t.co/": "twitter",
    "https://www.reddit.com/r/programming/": "reddit",
}
BROWSERS = [
    ("Chrome", "macOS", False),
    ("Safari", "iOS", True),
    ("Chrome", "Windows", False),
    ("Firefox", "Linux", False),
    ("Chrome", "Android", True),
    ("Safari", "macOS", False),
    ("Edge", "Windows", False),
    ("Firefox", "Windows", False),
    ("Samsung Internet", "Android", True),
]


def say(message: str) -> None:
    """Progress on stderr, so a long run (10M hits takes about an hour) shows its phase."""
    print(f"{datetime.now():%H:%M:%S} {message}", file=sys.stderr, flush=True)


def digest(text: str) -> str:
    # Not hash(): string hashes change from one run to the next.
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (i + 1) ** s for i in range(n)]


class Traffic:
    """Realistic hits: Zipf-distributed paths, referrers, countries and user agents."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.paths = [f"/posts/{i}-some-title" for i in range(PATHS)]
        # Cumulative weights: given plain weights, choices() sums all 3,000 path weights
        # again on every draw (two thirds of the generator's time); the draws are the same.
        self.path_w = list(itertools.accumulate(zipf_weights(PATHS)))
        self.ref_w = list(itertools.accumulate(zipf_weights(len(REFERRERS), 0.9)))
        self.country_w = list(itertools.accumulate(zipf_weights(len(COUNTRIES), 1.0)))
        self.browser_w = list(itertools.accumulate(zipf_weights(len(BROWSERS), 0.8)))

    def hit(self, site: uuid.UUID, at: datetime, campaigns: bool) -> Any:
        rng = self.rng
        path = rng.choices(self.paths, cum_weights=self.path_w)[0]
        referrer = rng.choices(REFERRERS, cum_weights=self.ref_w)[0]
        browser, platform, mobile = rng.choices(BROWSERS, cum_weights=self.browser_w)[0]
        visitor = f"{rng.getrandbits(20):x}"
        campaign = f"spring-{rng.randrange(12)}" if campaigns and rng.random() < 0.03 else None
        return created_event(
            Hit,
            new_site_scoped_id(site),
            at,
            site_id=site,
            path=path,
            url=f"https://example.com{path}",
            referrer=referrer,
            country=rng.choices(COUNTRIES, cum_weights=self.country_w)[0],
            browser=browser,
            platform=platform,
            is_mobile=mobile,
            source=SOURCES.get(referrer, referrer and referrer.split("/")[2]),
            utm_campaign=campaign,
            utm_medium="email" if campaign else None,
            unique_hash=digest(f"{site}{path}{visitor}{at:%Y%m%d}"),
            visitor_hash=digest(f"{site}{visitor}{at:%Y%m%d}"),
            channel="script",
            subscribers=None,
        )


def write(container: Any, hits: Any, total: int) -> None:
    """Record hits in batches of 5,000 through the Tracking application."""
    batch = []
    for i, made in enumerate(hits):
        batch.append(made)
        if len(batch) == 5000 or i == total - 1:
            container.tracking.record(batch)
            batch = []
        if (i + 1) % 1_000_000 == 0:
            say(f"generated {i + 1:,} hits")


def generate(container: Any, total: int, seed: int = 7) -> list[uuid.UUID]:
    """Write `total` hits of several sites over the last year."""
    rng = random.Random(seed)
    sites = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(SITES)]
    site_weights = zipf_weights(SITES, 1.0)
    traffic = Traffic(rng)
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    span = (now - start).total_seconds()
    # Timestamps in order, as a live log would have them.
    moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(total))
    hits = (traffic.hit(rng.choices(sites, site_weights)[0], at, False) for at in moments)
    write(container, hits, total)
    return sites


def generate_recent(container: Any, site: uuid.UUID, total: int, seed: int = 11) -> None:
    """Write `total` hits of one site, all inside the last 30 days, in time order."""
    rng = random.Random(seed)
    traffic = Traffic(rng)
    now = datetime.now(UTC)
    span = timedelta(days=30).total_seconds() - 60
    moments = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(total))
    write(container, (traffic.hit(site, at, True) for at in moments), total)


@contextlib.contextmanager
def statements_sent(engine: Any) -> Iterator[list[str]]:
    """Every statement the engine sends inside the block, in order."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def naming_raw_tables(statements: list[str]) -> list[str]:
    return [s for s in statements if any(t in s for t in RAW_TABLES)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(backend: str, total: int) -> dict[str, Any]:
    env = {"TINYLYTICS_DATA_DIR": tempfile.mkdtemp(prefix="tly-rm-")}
    schema = None
    if backend == "postgres":
        out = subprocess.run(
            [str(ROOT / "scripts" / "services")], check=True, capture_output=True, text=True
        ).stdout
        urls = dict(line.split("=", 1) for line in out.split() if "=" in line)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        env.update(
            DATABASE_URL=urls["DATABASE_URL"],
            REDIS_URL=urls["REDIS_URL"],
            TINYLYTICS_DB_SCHEMA=schema,
            TINYLYTICS_REDIS_PREFIX=schema,
        )
    container = bootstrap(Settings.from_env(env), fast_passwords=True)
    result: dict[str, Any] = {"backend": backend, "hits": total}
    try:
        say(f"{backend}: generating {total:,} hits")
        started = time.perf_counter()
        sites = generate(container, total)
        result["generate_per_s"] = total / (time.perf_counter() - started)

        started = time.perf_counter()
        count = 0
        app = container.tracking
        position = 0
        while True:
            found = app.recorder.select_notifications(
                start=position, limit=5000, inclusive_of_start=False
            )
            if not found:
                break
            count += len(found)
            position = found[-1].id
        result["floor_log_read_per_s"] = count / (time.perf_counter() - started)

        say(f"{backend}: catching up")
        started = time.perf_counter()
        container.projections.catch_up(["traffic"])
        result["catch_up_per_s"] = total / (time.perf_counter() - started)

        say(f"{backend}: rebuilding")
        started = time.perf_counter()
        container.projections.rebuild("traffic")
        result["rebuild_per_s"] = total / (time.perf_counter() - started)

        say(f"{backend}: querying")
        tables = container.projections.tables["traffic"]
        rng = random.Random(3)
        timings: dict[str, list[float]] = {}
        floor: list[float] = []
        today = datetime.now(UTC).date()
        for _ in range(20):
            site = rng.choice(sites[:3])
            end = today - timedelta(days=rng.randrange(0, 300))
            span = DateRange(end - timedelta(days=29), end, "UTC")
            begin, finish = span.begin, span.finish
            for group_by in (
                "path",
                "country",
                "referrer",
                "browser_name",
                "platform_name",
                "source",
            ):
                t0 = time.perf_counter()
                container.reads.traffic.grouped(site, span, group_by, Filters())
                timings.setdefault(f"grouped_{group_by}", []).append(
                    (time.perf_counter() - t0) * 1000
                )
            t0 = time.perf_counter()
            container.reads.traffic.leaderboard(site)
            timings.setdefault("leaderboard", []).append((time.perf_counter() - t0) * 1000)
            with container.engine.connect() as conn:
                hits = tables["hits"]
                from sqlalchemy import func, select

                t0 = time.perf_counter()
                conn.execute(
                    select(hits.c.path, func.count())
                    .where(
                        hits.c.site_uuid == site,
                        hits.c.created_at >= begin,
                        hits.c.created_at < finish,
                    )
                    .group_by(hits.c.path)
                ).all()
                floor.append((time.perf_counter() - t0) * 1000)
        all_grouped = [v for k, vs in timings.items() if k.startswith("grouped") for v in vs]
        result["grouped_30d_p50_ms"] = statistics.median(all_grouped)
        result["grouped_30d_p95_ms"] = percentile(all_grouped, 0.95)
        result["leaderboard_p50_ms"] = statistics.median(timings["leaderboard"])
        result["leaderboard_p95_ms"] = percentile(timings["leaderboard"], 0.95)
        result["floor_raw_scan_30d_p50_ms"] = statistics.median(floor)
        result["floor_raw_scan_30d_p95_ms"] = percentile(floor, 0.95)
    finally:
        container.close()
        if schema:
            import psycopg

            with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return result


def stores(backend: str) -> tuple[dict[str, str], str | None]:
    """The environment of a fresh set of stores on a backend (and its PostgreSQL schema)."""
    env = {"TINYLYTICS_DATA_DIR": tempfile.mkdtemp(prefix="tly-rm-")}
    if backend != "postgres":
        return env, None
    out = subprocess.run(
        [str(ROOT / "scripts" / "services")], check=True, capture_output=True, text=True
    ).stdout
    urls = dict(line.split("=", 1) for line in out.split() if "=" in line)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    env.update(
        DATABASE_URL=urls["DATABASE_URL"],
        REDIS_URL=urls["REDIS_URL"],
        TINYLYTICS_DB_SCHEMA=schema,
        TINYLYTICS_REDIS_PREFIX=schema,
    )
    return env, schema


def drop_schema(env: dict[str, str], schema: str | None) -> None:
    if schema:
        import psycopg

        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Http:
    """A client with cookies, as a browser signed in to the dashboard is."""

    def __init__(self, base: str) -> None:
        import http.cookiejar
        import urllib.request

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def sign_in(self, email: str, password: str) -> None:
        import html
        import re
        import urllib.parse
        import urllib.request

        _, page = self.get("/auth/sign_in")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, "no CSRF token on the sign-in page"
        body = urllib.parse.urlencode(
            {
                "csrf_token": html.unescape(token.group(1).decode()),
                "email": email,
                "password": password,
            }
        ).encode()
        with self.opener.open(
            urllib.request.Request(self.base + "/auth/sign_in", data=body), timeout=60
        ) as answer:
            assert b"Sign out" in answer.read() or answer.status == 200

    def timed(self, path: str, times: int, headers: dict[str, str] | None = None) -> list[float]:
        found = []
        for _ in range(times):
            t0 = time.perf_counter()
            status, body = self.get(path, headers)
            found.append((time.perf_counter() - t0) * 1000)
            assert status == 200, (path, status, body[:300])
        return found


@contextlib.contextmanager
def held(lock: str | None) -> Any:
    """The machine-wide benchmark lock, held only while timing when `--lock` names it, so
    that seeding a large run (not measured) can go on beside other work."""
    if lock is None:
        yield
        return
    with open(lock, "a") as file:
        say(f"waiting for {lock}")
        fcntl.flock(file, fcntl.LOCK_EX)
        say(f"holding {lock}; load average {os.getloadavg()[0]:.2f}")
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Http]:
    """A real `tinylytics serve` on these stores (projections left to the benchmark), and a
    client for it, once it answers."""
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "tinylytics"), "serve", "--port", str(port)],
        env={**os.environ, **env, "TINYLYTICS_INPROCESS_PROJECTIONS": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    http = Http(f"http://127.0.0.1:{port}")
    for _ in range(300):
        try:
            if http.get("/healthz")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    return server, http


def run_recent(backend: str, total: int, lock: str | None = None) -> dict[str, Any]:
    """One site, every hit in the last 30 days; the overview and grouped API over HTTP,
    and the site's weekly report built in process."""
    env, schema = stores(backend)
    container = bootstrap(Settings.from_env(env), fast_passwords=True)
    result: dict[str, Any] = {"backend": backend, "shape": "recent", "hits": total}
    server = None
    try:
        email, password = "bench@example.com", "a long benchmark password"
        owner = container.configuration.register_account(email, password)
        site = container.configuration.register_site(owner.uuid, "https://example.com")
        secret = container.configuration.issue_key(owner.uuid, "bench", "read_only").secret
        say(f"{backend}: generating {total:,} hits of one site in the last 30 days")
        generate_recent(container, site.uuid, total)
        say(f"{backend}: catching up")
        started = time.perf_counter()
        container.projections.catch_up()
        result["catch_up_per_s"] = total / (time.perf_counter() - started)
        server, http = serve(env)
        http.sign_in(email, password)
        with held(lock):
            timings = time_recent(container, http, site, secret)
        result["load_average"] = os.getloadavg()[0]
        for name, values in timings.items():
            result[f"{name}_p50_ms"] = statistics.median(values)
            result[f"{name}_p95_ms"] = percentile(values, 0.95)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        container.close()
        drop_schema(env, schema)
    return result


def time_recent(container: Any, http: Http, site: Any, secret: str) -> dict[str, list[float]]:
    say("querying over HTTP")
    overview = f"/sites/{site.uid}?period=30d"
    http.timed(overview, 2)  # warm: templates, plans, caches
    timings = {"overview_30d": http.timed(overview, 20)}
    auth = {"Authorization": f"Bearer {secret}"}
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=29)).isoformat()
    for group_by in ("path", "referrer", "country", "browser_name", "platform_name", "source"):
        query = (
            f"/api/v1/sites/{site.id}/hits?grouped=true&group_by={group_by}"
            f"&start_date={start}&end_date={today.isoformat()}"
        )
        http.timed(query, 2, auth)
        timings[f"grouped_{group_by}"] = http.timed(query, 20, auth)
    timings["floor_healthz"] = http.timed("/healthz", 20)
    # The weekly report (issue 14): built and rendered in process, as the clock does,
    # with every statement it sends watched for the raw-hit tables it must not read.
    reports = []
    with statements_sent(container.engine) as statements:
        for _ in range(10):
            t0 = time.perf_counter()
            report = container.reports.build(site.uuid)
            container.reports.message(report, "bench@example.com")
            reports.append((time.perf_counter() - t0) * 1000)
    timings["weekly_report_build"] = reports
    raw = naming_raw_tables(statements)
    say(f"weekly report: {len(statements)} statements, {len(raw)} naming a raw-hit table")
    return timings


def print_recent(results: list[dict[str, Any]]) -> None:
    print("\nrecent shape: one site, every hit in the last 30 days; over HTTP, 20 requests each")
    print(f"{'backend':<9} {'hits':>9} {'what':<22} {'p50 ms':>8} {'p95 ms':>8} {'p50/floor':>10}")
    for r in results:
        floor = r["floor_healthz_p50_ms"]
        names = [k[: -len("_p50_ms")] for k in r if k.endswith("_p50_ms")]
        for name in names:
            p50, p95 = r[f"{name}_p50_ms"], r[f"{name}_p95_ms"]
            print(
                f"{r['backend']:<9} {r['hits']:>9} {name:<22} {p50:>8.1f} {p95:>8.1f} {p50 / floor:>10.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--hits", type=int, default=1_000_000)
    parser.add_argument("--shape", choices=["spread", "recent", "both"], default="both")
    parser.add_argument(
        "--lock",
        help="a lock file (e.g. /tmp/tinylytics-bench.lock) held only while the recent "
        "shape is timed, so a 10M-hit seeding can run beside other work",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if args.shape in ("recent", "both"):
        recent = [run_recent(b, args.hits, args.lock) for b in backends]
        print_recent(recent)
        print(json.dumps(recent))
        if args.shape == "recent":
            return
    results = [run(b, args.hits) for b in backends]
    print(
        f"{'backend':<9} {'hits':>9} {'catch-up/s':>11} {'rebuild/s':>10} {'log read/s':>11} "
        f"{'ratio':>6} {'grouped p50/p95 ms':>19} {'leaderboard p50/p95':>20} {'raw scan p50/p95':>17}"
    )
    for r in results:
        print(
            f"{r['backend']:<9} {r['hits']:>9} {r['catch_up_per_s']:>11.0f} {r['rebuild_per_s']:>10.0f} "
            f"{r['floor_log_read_per_s']:>11.0f} {r['rebuild_per_s'] / r['floor_log_read_per_s']:>6.2f} "
            f"{r['grouped_30d_p50_ms']:>8.1f} / {r['grouped_30d_p95_ms']:>7.1f} "
            f"{r['leaderboard_p50_ms']:>9.1f} / {r['leaderboard_p95_ms']:>7.1f} "
            f"{r['floor_raw_scan_30d_p50_ms']:>7.1f} / {r['floor_raw_scan_30d_p95_ms']:>7.1f}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
