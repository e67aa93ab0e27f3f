"""The database down: every surface answers 503 with Retry-After (never 500, never a 2xx
for a hit it did not keep), /healthz says which dependency is down, everything answers
again once the database is back, and a server under load loses no acknowledged hit
when PostgreSQL restarts.

The database that goes down is a private PostgreSQL cluster (tests/fault_harness.py),
on both passes of the suite: the shared server on 5432 is never stopped.
"""

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder
from flask.testing import FlaskClient

from infrastructure.bootstrap import Container
from infrastructure.database_watch import DatabaseWatch
from infrastructure.persistence import ensure_schema, event_store_env
from infrastructure.settings import Settings
from tests.conftest import World, bearer
from tests.dashboard.conftest import Browser, csrf_token
from tests.fault_harness import (
    CollectorLoad,
    PrivatePostgres,
    Server,
    books,
    make_site,
    stored_paths,
)
from tests.tracking_helpers import CHROME

OUTAGE_SECONDS = 7.0  # longer than the collector's site cache (5 s)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as running:
        yield running


@pytest.fixture
def db_env(env: dict[str, str], cluster: PrivatePostgres) -> dict[str, str]:
    if not cluster.running:
        cluster.start()
    # A copy: the `env` fixture drops its own schema (if any) on the shared server.
    return {
        **env,
        "DATABASE_URL": cluster.url,
        "TINYLYTICS_DB_SCHEMA": f"outage_{uuid.uuid4().hex[:12]}",
        "TINYLYTICS_TRUSTED_PROXIES": "127.0.0.1",
    }


@pytest.fixture
def settings(db_env: dict[str, str]) -> Settings:
    return Settings.from_env(db_env)


def collect(client: FlaskClient, uid: str, path: str) -> Any:
    return client.post(
        f"/collect/{uid}",
        data=json.dumps({"k": "hit", "u": f"https://example.com{path}"}),
        headers={
            "Content-Type": "text/plain",
            "Origin": "https://example.com",
            "User-Agent": CHROME,
        },
    )


def test_health_reports_each_dependency(client: FlaskClient, settings: Settings) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["projections"]["status"] == "ok"
    assert isinstance(body["checks"]["projections"]["lag"], int)
    assert ("redis" in body["checks"]) is bool(settings.redis_url)


@dataclass
class Surfaces:
    """One site, keys and signed-in browsers, to ask every surface of the server."""

    app: Any
    client: FlaskClient
    person: Browser
    visitor: Browser
    token: str
    hit_site: Any
    cold_site: Any
    reader: dict[str, str]
    writer: dict[str, str]

    def fresh(self) -> FlaskClient:
        # One client per request that runs beside others: a test client is not shared.
        return self.app.test_client()

    def ask(self) -> dict[str, Any]:
        """Every surface at once (each may wait for the database), by name."""
        calls: dict[str, Callable[[], Any]] = {
            "api read": lambda: self.fresh().get("/api/v1/me", headers=self.reader),
            "api hits": lambda: self.fresh().get(
                f"/api/v1/sites/{self.hit_site.id}/hits", headers=self.reader
            ),
            "api write": lambda: self.fresh().post(
                f"/api/v1/sites/{self.hit_site.id}/hits",
                data=json.dumps({"path": "/x"}),
                headers={**self.writer, "Content-Type": "application/json"},
            ),
            "collector (site cached)": lambda: collect(self.fresh(), self.hit_site.uid, "/down"),
            "collector (site not cached)": lambda: collect(
                self.client, self.cold_site.uid, "/down"
            ),
            "widget": lambda: self.fresh().get(f"/widgets/{self.hit_site.uid}.json?hits"),
            "pixel": lambda: self.fresh().get(
                f"/pixel/{self.hit_site.uid}.gif?path=/px", headers={"User-Agent": CHROME}
            ),
            "dashboard": lambda: self.person.get("/sites"),
            "sign in": lambda: self.visitor.client.post(
                "/auth/sign_in",
                data={"email": "owner@example.com", "password": "x", "csrf_token": self.token},
            ),
            "health": lambda: self.fresh().get("/healthz"),
        }
        with ThreadPoolExecutor(len(calls)) as pool:
            futures = {name: pool.submit(call) for name, call in calls.items()}
            return {name: future.result() for name, future in futures.items()}


@pytest.fixture
def surfaces(world: World, container: Container, app: Any, client: FlaskClient) -> Surfaces:
    owner = world.account("owner@example.com")
    hit_site = world.site(owner, "https://example.com")
    cold_site = world.site(owner, "https://example.com/cold")  # never looked up before
    person = Browser(app.test_client(), container)
    assert person.sign_in("owner@example.com").status_code == 302
    assert collect(client, hit_site.uid, "/warm").status_code == 204  # the site is cached now
    visitor = Browser(app.test_client(), container)
    token = csrf_token(visitor.get("/auth/sign_in").get_data(as_text=True))
    return Surfaces(
        app=app,
        client=client,
        person=person,
        visitor=visitor,
        token=token,
        hit_site=hit_site,
        cold_site=cold_site,
        reader=bearer(world.key(owner, "reader")),
        writer=bearer(world.key(owner, "writer", "full_access")),
    )


def check_503s(answers: dict[str, Any]) -> None:
    for name, answer in answers.items():
        body = answer.get_data().decode("utf-8", "replace")
        assert answer.status_code == 503, (name, answer.status_code, body[:300])
        assert answer.headers.get("Retry-After", "").isdigit(), name
        if name in ("dashboard", "sign in"):
            assert "try again" in body.lower(), name
        elif name == "pixel":  # its GIF, so that a reader's page shows no broken image
            assert answer.mimetype == "image/gif", name
        elif name == "health":
            assert answer.get_json()["status"] == "down"
            assert answer.get_json()["checks"]["database"] == {"status": "down"}
        else:
            assert set(answer.get_json()) == {"error"}, (name, body)


def check_back(s: Surfaces) -> None:
    """Every surface answers again, with no restart of the server."""
    assert s.client.get("/healthz").status_code == 200
    assert s.client.get("/api/v1/me", headers=s.reader).status_code == 200
    assert collect(s.client, s.cold_site.uid, "/back").status_code == 204
    assert s.person.get("/sites").status_code == 200


def test_once_the_database_has_been_down_a_while_every_surface_answers_503_at_once(
    surfaces: Surfaces, cluster: PrivatePostgres
) -> None:
    cluster.stop()
    try:
        with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
            first = surfaces.client.get("/healthz")  # finds the database down
            assert first.status_code == 503
            traveller.shift(timedelta(seconds=DatabaseWatch.GRACE_SECONDS + 1))
            started = time.monotonic()
            answers = surfaces.ask()
            took = time.monotonic() - started
    finally:
        cluster.start()
    check_503s(answers)
    assert took < 3, f"the answers took {took:.1f} s: requests still wait for the database"
    check_back(surfaces)


@pytest.mark.slow
def test_every_surface_answers_503_with_retry_after_while_the_database_is_down(
    surfaces: Surfaces, cluster: PrivatePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the grace is over each request meets the database down itself (and
    waits for it a while): its handler must still answer 503, never 500."""
    monkeypatch.setattr(DatabaseWatch, "GRACE_SECONDS", float("inf"))
    cluster.stop()
    try:
        answers = surfaces.ask()
    finally:
        cluster.start()
    check_503s(answers)
    check_back(surfaces)


@pytest.mark.slow
def test_a_server_under_load_loses_no_acknowledged_hit_when_postgresql_restarts(
    db_env: dict[str, str], cluster: PrivatePostgres, tmp_path: Any
) -> None:
    site = make_site(db_env)
    with (
        Server(db_env, log=tmp_path / "server.log") as server,
        CollectorLoad(server, site.uid) as load,
    ):
        assert load.wait_for("before", 300, timeout=30)
        load.phase = "outage"
        cluster.stop("immediate")  # a crash: recovery from the WAL at the next start
        load.wait_for_requests("outage", 10**9, timeout=OUTAGE_SECONDS)
        cluster.start()
        load.phase = "after"
        assert load.wait_for("after", 300, timeout=60)
    figures = books("PostgreSQL restart", load.tally, stored_paths(db_env))
    print("\n".join(figures.lines()))
    assert figures.lost == 0, figures
    answers = {answer for phase in figures.answers.values() for answer in phase}
    assert answers <= {"204", "503"}, figures
    assert load.tally.without_retry_after == 0, figures


class Probe(Application):
    """An event store as our applications make it (our recorder)."""


class ProcessProbe(Probe):
    """An event store as the webhooks make it (a process recorder)."""

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()


@pytest.mark.slow
def test_an_event_store_made_while_the_database_is_down_waits_for_it_to_come_back(
    settings: Settings, cluster: PrivatePostgres
) -> None:
    """Making a recorder reads the database (its composite types, then its table): a
    process starting during a restart, or a pool whose first connection is slow to come,
    waits as the library's calls do instead of failing after one wait of 2 s."""
    ensure_schema(settings)
    made: list[Probe] = []
    failed: list[BaseException] = []

    def make(kind: type[Probe], name: str) -> None:
        try:
            made.append(kind(env=event_store_env(settings, name)))
        except BaseException as error:
            failed.append(error)

    cluster.stop()
    makers = [
        threading.Thread(target=make, args=(Probe, "probe")),
        threading.Thread(target=make, args=(ProcessProbe, "process_probe")),
    ]
    try:
        for maker in makers:
            maker.start()
        for maker in makers:
            maker.join(timeout=4)  # past one wait for a connection (2 s)
        assert not failed, failed
        assert all(maker.is_alive() for maker in makers)
    finally:
        cluster.start()
    for maker in makers:
        maker.join(timeout=30)
    assert not failed, failed
    assert len(made) == 2
    for probe in made:
        kept = Aggregate()
        probe.save(kept)
        assert probe.repository.get(kept.id).version == kept.version
        probe.close()
