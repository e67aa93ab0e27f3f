"""Ingest benchmark: the collector, POST /hits and POST /hits/batch against a real server.

    .venv/bin/python benchmarks/ingest.py [--backend sqlite|postgres|both] [--seconds 60]

For each backend it starts `tinylytics serve` on a fresh store, drives it with `wrk`
(Debian package; installed if missing and possible) and prints accepted hits/s
(counted in the event store afterwards, not trusted from the client), p50/p99
latency, and the ratio to a floor measured in the same run on the same database:
a plain multi-row INSERT of the same number of hit rows (1,000 per statement).
PostgreSQL and Redis come from scripts/services.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"

COLLECT_LUA = """
local uid = "%(uid)s"
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["Origin"] = "https://example.com"
wrk.headers["User-Agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
request = function()
  local ip = math.random(1, 223) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
  wrk.headers["X-Forwarded-For"] = ip
  local body = '{"k":"hit","u":"https://example.com/post-' .. math.random(1, 500) .. '","r":"https://www.google.com/"}'
  return wrk.format("POST", "/collect/" .. uid, nil, body)
end
"""

API_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  local body = '{"path":"/post-' .. math.random(1, 500) .. '","country":"DE","visitor_id":"v' .. math.random(1, 100000) .. '"}'
  return wrk.format("POST", "/api/v1/sites/%(site)s/hits", nil, body)
end
"""

BATCH_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local body = [==[%(body)s]==]
request = function()
  return wrk.format("POST", "/api/v1/sites/%(site)s/hits/batch", nil, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install wrk")
    return found


def services() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "scripts" / "services")], check=True, capture_output=True, text=True
    )
    return dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(BIN / "tinylytics"), *args, "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def head(env: dict[str, str]) -> int:
    code = (
        "from infrastructure.bootstrap import bootstrap\n"
        "c = bootstrap()\n"
        "print(c.tracking.recorder.max_notification_id() or 0)\n"
        "c.close()\n"
    )
    out = subprocess.run(
        [str(BIN / "python"), "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return int(out.stdout.strip().splitlines()[-1])


def run_wrk(
    wrk: str, url: str, lua: str, clients: int, seconds: int, threads: int = 2
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    try:
        out = subprocess.run(
            [wrk, f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", script, url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script)

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
    }


def floor_rows_per_second(env: dict[str, str], rows: int) -> float:
    """A plain multi-row INSERT of `rows` hit-shaped rows, 1,000 per statement, same database."""
    code = f"""
import time, uuid
from sqlalchemy import text
from infrastructure.persistence import read_model_engine
from infrastructure.settings import Settings
engine = read_model_engine(Settings.from_env())
with engine.begin() as c:
    c.exec_driver_sql("DROP TABLE IF EXISTS bench_floor")
    c.exec_driver_sql("CREATE TABLE bench_floor (id VARCHAR(36) PRIMARY KEY, site VARCHAR(36), path VARCHAR(2048), url VARCHAR(2048), referrer VARCHAR(2048), country VARCHAR(2), browser VARCHAR(50), platform VARCHAR(50), source VARCHAR(100), unique_hash VARCHAR(32), visitor_hash VARCHAR(32), created_at VARCHAR(40))")
site = str(uuid.uuid4())
rows = [dict(id=str(uuid.uuid4()), site=site, path=f"/post-{{i % 500}}", url=f"https://example.com/post-{{i % 500}}", referrer="https://www.google.com/", country="DE", browser="Chrome", platform="macOS", source="google", unique_hash=uuid.uuid4().hex, visitor_hash=uuid.uuid4().hex, created_at="2026-01-01T00:00:00Z") for i in range({rows})]
stmt = text("INSERT INTO bench_floor VALUES (:id,:site,:path,:url,:referrer,:country,:browser,:platform,:source,:unique_hash,:visitor_hash,:created_at)")
started = time.perf_counter()
for start in range(0, len(rows), 1000):
    with engine.begin() as c:
        c.execute(stmt, rows[start:start + 1000])
elapsed = time.perf_counter() - started
with engine.begin() as c:
    c.exec_driver_sql("DROP TABLE bench_floor")
print(len(rows) / elapsed)
"""
    out = subprocess.run(
        [str(BIN / "python"), "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return float(out.stdout.strip().splitlines()[-1])


def bench_backend(
    backend: str, seconds: int, clients: int, wrk: str, workers: int
) -> list[dict[str, Any]]:
    tmp = tempfile.mkdtemp(prefix="tly-bench-")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        TINYLYTICS_DATA_DIR=tmp,
        TINYLYTICS_TRUSTED_PROXIES="127.0.0.1",
        TINYLYTICS_API_RATE_LIMIT="100000000",
        PYTHONPATH=str(ROOT),
    )
    schema = None
    if backend == "postgres":
        urls = services()
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        env.update(
            DATABASE_URL=urls["DATABASE_URL"],
            REDIS_URL=urls["REDIS_URL"],
            TINYLYTICS_DB_SCHEMA=schema,
            TINYLYTICS_REDIS_PREFIX=schema,
            TINYLYTICS_INPROCESS_PROJECTIONS="true",
        )
    cli(env, "users", "create", "--email", "bench@example.com", "--password", "benchmark-password")
    site = cli(
        env, "sites", "create", "--owner", "bench@example.com", "--url", "https://example.com"
    )
    key = cli(
        env,
        "keys",
        "create",
        "--owner",
        "bench@example.com",
        "--name",
        "bench",
        "--access",
        "full_access",
    )["key"]
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "tinylytics"),
            "serve",
            "--port",
            str(port),
            "--threads",
            "16",
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        batch_body = json.dumps(
            [
                {"path": f"/post-{i % 500}", "country": "DE", "visitor_id": f"v{i}"}
                for i in range(1000)
            ]
        )
        scenarios = [
            ("collector", COLLECT_LUA % {"uid": site["uid"]}, clients, 1),
            ("POST /hits", API_LUA % {"key": key, "site": site["id"]}, clients, 1),
            (
                "POST /hits/batch (1,000 rows)",
                BATCH_LUA % {"key": key, "site": site["id"], "body": batch_body},
                4,
                1000,
            ),
        ]
        for name, lua, conns, rows_per_request in scenarios:
            before = head(env)
            started = time.perf_counter()
            stats = run_wrk(wrk, base, lua, conns, seconds)
            elapsed = time.perf_counter() - started
            accepted = head(env) - before
            results.append(
                {
                    "backend": backend,
                    "scenario": name,
                    "clients": conns,
                    "seconds": round(elapsed, 1),
                    "accepted": accepted,
                    "hits_per_s": accepted / elapsed,
                    **stats,
                    "rows_per_request": rows_per_request,
                }
            )
    finally:
        server.terminate()
        server.wait(30)
    floor = floor_rows_per_second(
        env, max(20_000, min(200_000, max(r["accepted"] for r in results)))
    )
    for r in results:
        r["floor_rows_per_s"] = floor
        r["ratio_to_floor"] = r["hits_per_s"] / floor
    if schema:
        subprocess.run(
            [
                str(BIN / "python"),
                "-c",
                (
                    "import psycopg, os\n"
                    "url = os.environ['DATABASE_URL']\n"
                    f"psycopg.connect(url, autocommit=True).execute('DROP SCHEMA {schema} CASCADE')\n"
                ),
            ],
            env=env,
            check=False,
        )
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="web processes (default: 1 on SQLite, 2 on PostgreSQL)",
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows = []
    for backend in backends:
        workers = args.workers or (1 if backend == "sqlite" else 2)
        rows += bench_backend(backend, args.seconds, args.clients, wrk, workers)
    print(
        f"{'backend':<9} {'scenario':<30} {'clients':>7} {'hits/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'floor/s':>9} {'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r['backend']:<9} {r['scenario']:<30} {r['clients']:>7} {r['hits_per_s']:>9.0f} "
            f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['non_2xx']:>8} {r['floor_rows_per_s']:>9.0f} "
            f"{r['ratio_to_floor']:>6.2f}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
