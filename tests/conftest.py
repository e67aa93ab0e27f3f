"""Fixtures: every test gets its own stores — a fresh SQLite folder, or, when
DATABASE_URL is set, a PostgreSQL schema and a Redis key prefix of its own. The
schema is one a fresh start makes, or one an earlier test left in that shape and
emptied (tests/schema_pool.py); the keys are deleted afterwards."""

import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from infrastructure.bootstrap import Container, bootstrap
from infrastructure.persistence import postgres_url
from infrastructure.settings import Settings
from interfaces.app import create_app
from tests.schema_pool import SchemaPool

ON_POSTGRES = bool(os.environ.get("DATABASE_URL"))


def stores_env(data_dir: Path, schema: str) -> dict[str, str]:
    """The environment of a process with stores of its own: a data folder and, on
    PostgreSQL, a schema."""
    # No test fetches the country database from the network (tests/test_reports.py
    # runs the refresh job with a local file instead).
    values = {"TINYLYTICS_DATA_DIR": str(data_dir), "TINYLYTICS_GEOIP_REFRESH": "off"}
    if ON_POSTGRES:
        values["DATABASE_URL"] = os.environ["DATABASE_URL"]
        values["TINYLYTICS_DB_SCHEMA"] = schema
    return values


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment a server process would be started with for this test."""
    tag = uuid.uuid4().hex[:12]
    values = stores_env(tmp_path / "data", f"test_{tag}")
    if os.environ.get("REDIS_URL"):
        values["REDIS_URL"] = os.environ["REDIS_URL"]
        values["TINYLYTICS_REDIS_PREFIX"] = f"test-{tag}"
    settings = Settings.from_env(values)
    pool = schema_pool(settings) if settings.is_postgres and settings.db_schema else None
    if pool is not None:
        pool.take(values["TINYLYTICS_DB_SCHEMA"])
    yield values
    if pool is not None:
        pool.give_back(values["TINYLYTICS_DB_SCHEMA"])
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url)
        for key in client.scan_iter(f"{settings.redis_prefix}*"):
            client.delete(key)


_pools: dict[str, SchemaPool] = {}


def schema_pool(settings: Settings) -> SchemaPool:
    """This process's spare schemas in the test database (tests/schema_pool.py)."""
    url = postgres_url(settings).set(drivername="postgresql").render_as_string(hide_password=False)
    if url not in _pools:

        def pristine(schema: str) -> None:
            with tempfile.TemporaryDirectory() as data:
                fresh = Settings.from_env(stores_env(Path(data), schema))
                bootstrap(fresh, fast_passwords=True).close()

        _pools[url] = SchemaPool(url, pristine)
    return _pools[url]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for pool in _pools.values():
        pool.close()


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    wired = bootstrap(settings, fast_passwords=True)
    yield wired
    wired.close()


@pytest.fixture
def app(container: Container) -> Flask:
    flask_app = create_app(container)
    flask_app.testing = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class World:
    """Makes accounts, sites and keys through the application, then lets projections run."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def account(self, email: str = "owner@example.com", **kwargs: Any) -> Any:
        """An account as sign-up makes it (address not confirmed); `confirmed=True` as the
        operator makes it (the admin CLI), unlocked for kudos (domain/confirmation.py)."""
        created = self.c.configuration.register_account(email, "correct horse", **kwargs)
        self.c.projections.catch_up()
        return created

    def site(self, owner: Any, url: str = "https://example.com", **kwargs: Any) -> Any:
        created = self.c.configuration.register_site(owner.uuid, url, **kwargs)
        self.c.projections.catch_up()
        return created

    def key(self, owner: Any, name: str = "cli", access: str = "read_only") -> str:
        issued = self.c.configuration.issue_key(owner.uuid, name, access)
        self.c.projections.catch_up()
        return issued.secret


@pytest.fixture
def world(container: Container) -> World:
    return World(container)


def noon_tomorrow() -> datetime:
    """A moment ahead of every fixture's and twelve hours from either edge of its day.

    A test that checks what "today" or "the last 24 hours" shows travels there
    (`time_machine.travel(noon_tomorrow(), tick=True)`): on the real clock it would
    fail whenever it straddles midnight, or runs in the hours a planted hit falls out
    of a window. Ahead, so that no session or token made before looks issued in the
    future."""
    return datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(12), UTC)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
