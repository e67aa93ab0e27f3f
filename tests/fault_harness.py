"""The fault suite's parts: a private Redis and a private PostgreSQL to stop and start, a
`tinylytics serve` to load, collector clients that keep the books, and the event store
to count what was kept.

The shared Redis (6379) and PostgreSQL (5432) are never stopped: every outage here
happens to an instance started for it, on a free port, and removed afterwards. The
tests (tests/test_*_outage.py, tests/test_read_models.py) and `benchmarks/faults.py`
use the same parts, with loads of different sizes.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from infrastructure.bootstrap import bootstrap
from infrastructure.persistence import postgres_url
from infrastructure.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


# -- Redis -----------------------------------------------------------------------------------
class PrivateRedis:
    """A redis-server of our own on a free port, without persistence: stop() kills it,
    start() brings an empty one back on the same port (what a restart without AOF does)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="tinylytics-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, 10, self.process)

    def stop(self) -> None:
        """As a crash: no shutdown, connections reset."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PrivateRedis":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- PostgreSQL ------------------------------------------------------------------------------
def _pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if versions:
        return str(versions[-1] / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found (install postgresql)")
    return found


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, trust on loopback).

    We run as root in CI: the cluster belongs to the `postgres` user and its commands
    run through `runuser`. `stop("immediate")` is a crash of the server (no checkpoint,
    recovery from the WAL at the next start).
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="tinylytics-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.running = False

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, cwd=self.folder)

    @property
    def url(self) -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "start",
        )
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        if self.running:
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
            self.running = False

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PrivatePostgres":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the server ------------------------------------------------------------------------------
class Server:
    """`tinylytics serve` in a process of its own, on a free port, with this environment."""

    def __init__(self, env: dict[str, str], threads: int = 16, log: Path | None = None) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            **env,
            "TINYLYTICS_TRUSTED_PROXIES": "127.0.0.1",
            "TINYLYTICS_VISITOR_RATE_LIMIT": "100000",
        }
        self.threads = threads
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        tinylytics = Path(sys.executable).parent / "tinylytics"
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(tinylytics), "serve", "--port", str(self.port), "--threads", str(self.threads)],
            env=self.env,
            stdout=output,
            stderr=output,
            cwd=ROOT,
        )
        _wait_for_port(self.port, 60, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the projection runner -------------------------------------------------------------------
class ProjectionProcess:
    """`tinylytics projections run` in a process of its own, to be killed with SIGKILL."""

    def __init__(self, env: dict[str, str], log: Path | None = None) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        tinylytics = Path(sys.executable).parent / "tinylytics"
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(tinylytics), "projections", "run"],
            env=self.env,
            stdout=output,
            stderr=output,
            cwd=ROOT,
        )

    def kill(self) -> None:
        """As a crash: no signal handler runs, the open transaction dies with the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def __enter__(self) -> "ProjectionProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class ReadModelWatch:
    """Looks at the read-model store from outside: a projection's position, and whether
    a batch transaction is open in it right now."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pg: psycopg.Connection[Any] | None = None
        if settings.is_postgres:
            url = postgres_url(settings).set(drivername="postgresql")
            self._pg = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self._file = settings.data_dir / "readmodels.sqlite3"

    def position(self, name: str = "traffic") -> int:
        query = "SELECT position FROM projection_positions WHERE name = %s"
        if self._pg is not None:
            schema = self.settings.db_schema or "public"
            row = self._pg.execute(
                query.replace("projection_positions", f'"{schema}".projection_positions'), (name,)
            ).fetchone()
        else:
            with sqlite3.connect(self._file, timeout=30) as conn:
                row = conn.execute(query.replace("%s", "?"), (name,)).fetchone()
        return int(row[0]) if row else 0

    def batch_open(self) -> bool:
        """True while another process holds a projection's position row locked (a batch
        runs): on PostgreSQL its FOR UPDATE shows in pg_locks; on SQLite a batch holds
        the write lock, so taking it without waiting fails."""
        if self._pg is not None:
            row = self._pg.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'projection_positions' AND n.nspname = %s "
                "AND l.mode = 'RowShareLock' AND l.granted AND l.pid <> pg_backend_pid()",
                (self.settings.db_schema or "public",),
            ).fetchone()
            return bool(row and row[0])
        conn = sqlite3.connect(self._file, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()


def kill_mid_batch(
    runner: ProjectionProcess, watch: ReadModelWatch, timeout: float = 60, after: int = 0
) -> bool:
    """Kill the runner while a traffic batch of its is open, once the traffic position
    is past `after` (past 0: the other projections' start-up catch-up is over). False
    if no such batch was seen in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if watch.position() > after and watch.batch_open():
            runner.kill()
            return True
        time.sleep(0.005)
    return False


# -- the load --------------------------------------------------------------------------------
@dataclass
class Tally:
    """What the clients saw: every request sent, by phase and answer."""

    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)  # paths answered 2xx
    by_phase: dict[str, Counter[str]] = field(default_factory=dict)
    without_retry_after: int = 0  # 503s that did not say when to come back

    def count(self, phase: str, answer: str) -> None:
        self.by_phase.setdefault(phase, Counter())[answer] += 1

    @property
    def answers(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for found in self.by_phase.values():
            total.update(found)
        return total

    def acknowledged_in(self, phase: str) -> int:
        return sum(
            n for answer, n in self.by_phase.get(phase, Counter()).items() if answer[0] == "2"
        )


class CollectorLoad:
    """Clients posting hits to the collector, each hit on a path of its own.

    A hit answered 2xx is acknowledged (the collector answers 204 only once it is
    committed); anything else is kept by status (or `error` when no answer came).
    `phase` names the part of the run a request was sent in.
    """

    def __init__(
        self, server: Server, uid: str, clients: int = 8, origin: str = "https://example.com"
    ) -> None:
        self.server = server
        self.uid = uid
        self.origin = origin
        self.clients = clients
        self.phase = "before"
        self.tally = Tally()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def _client(self, n: int) -> None:
        i = 0
        while not self._stop.is_set():
            path = f"/c{n}-{i}"
            phase = self.phase
            body = json.dumps({"k": "hit", "u": f"{self.origin}{path}"}).encode()
            request = urllib.request.Request(
                self.server.url(f"/collect/{self.uid}"),
                data=body,
                headers={
                    "Content-Type": "text/plain",
                    "Origin": self.origin,
                    "User-Agent": CHROME,
                    "X-Forwarded-For": f"10.{n}.{(i // 250) % 250}.{i % 250 + 1}",
                },
            )
            answer, retry_after = "error", None
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = str(response.status)
            except urllib.error.HTTPError as error:
                answer, retry_after = str(error.code), error.headers.get("Retry-After")
            except (urllib.error.URLError, OSError):
                self._stop.wait(0.05)  # the server is away: do not spin
            with self._lock:
                self.tally.sent += 1
                self.tally.count(phase, answer)
                if answer.startswith("2"):
                    self.tally.acknowledged.append(path)
                if answer == "503" and not retry_after:
                    self.tally.without_retry_after += 1
            i += 1

    def wait_for(self, phase: str, acknowledged: int, timeout: float) -> bool:
        """Wait until `acknowledged` requests sent in `phase` were acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.tally.acknowledged_in(phase) >= acknowledged:
                    return True
            time.sleep(0.02)
        return False

    def wait_for_requests(self, phase: str, count: int, timeout: float) -> None:
        """Wait until `count` requests sent in `phase` were answered (any answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if sum(self.tally.by_phase.get(phase, Counter()).values()) >= count:
                    return
            time.sleep(0.02)

    def __enter__(self) -> "CollectorLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


# -- what was kept ---------------------------------------------------------------------------
def make_site(env: dict[str, str], url: str = "https://example.com") -> Any:
    """An account and a site in a fresh store (the server started later finds them)."""
    setup = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        owner = setup.configuration.register_account("faults@example.com", "correct horse")
        return setup.configuration.register_site(owner.uuid, url)
    finally:
        setup.close()


def stored_paths(env: dict[str, str]) -> Counter[str]:
    """The path of every hit in the tracking event store, with how often it is there."""
    container = bootstrap(Settings.from_env(env), fast_passwords=True)
    found: Counter[str] = Counter()
    try:
        recorder, mapper = container.tracking.recorder, container.tracking.mapper
        start = 1
        while True:
            page = recorder.select_notifications(start=start, limit=10_000)
            if not page:
                break
            for notification in page:
                event: Any = mapper.to_domain_event(notification)
                path = getattr(event, "path", None)
                if path is not None and notification.topic.endswith("Hit.Recorded"):
                    found[path] += 1
            start = page[-1].id + 1
    finally:
        container.close()
    return found


@dataclass(frozen=True)
class Books:
    """The figures of one fault run."""

    name: str
    sent: int
    acknowledged: int
    stored: int
    lost: int
    answers: dict[str, dict[str, int]]

    def lines(self) -> Iterator[str]:
        yield (
            f"{self.name}: sent {self.sent}, acknowledged {self.acknowledged}, "
            f"stored {self.stored}, lost {self.lost}"
        )
        for phase, answers in self.answers.items():
            shown = ", ".join(f"{k} x {v}" for k, v in sorted(answers.items()))
            yield f"  {phase:<10} {shown}"


def books(name: str, tally: Tally, stored: Counter[str]) -> Books:
    acknowledged = set(tally.acknowledged)
    return Books(
        name=name,
        sent=tally.sent,
        acknowledged=len(acknowledged),
        stored=sum(stored.values()),
        lost=len([p for p in acknowledged if p not in stored]),
        answers={phase: dict(found) for phase, found in tally.by_phase.items()},
    )
