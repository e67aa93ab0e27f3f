"""Fixtures: every test gets its own stores — a fresh SQLite folder, or, when
DATABASE_URL is set, a fresh PostgreSQL schema and Redis key prefix that are
dropped afterwards."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from infrastructure.bootstrap import Container, bootstrap
from infrastructure.persistence import postgres_url
from infrastructure.settings import Settings
from interfaces.app import create_app

ON_POSTGRES = bool(os.environ.get("DATABASE_URL"))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment a server process would be started with for this test."""
    tag = uuid.uuid4().hex[:12]
    # No test fetches the country database from the network (tests/test_reports.py
    # runs the refresh job with a local file instead).
    values = {"TINYLYTICS_DATA_DIR": str(tmp_path / "data"), "TINYLYTICS_GEOIP_REFRESH": "off"}
    if ON_POSTGRES:
        values["DATABASE_URL"] = os.environ["DATABASE_URL"]
        values["TINYLYTICS_DB_SCHEMA"] = f"test_{tag}"
    if os.environ.get("REDIS_URL"):
        values["REDIS_URL"] = os.environ["REDIS_URL"]
        values["TINYLYTICS_REDIS_PREFIX"] = f"test-{tag}"
    yield values
    settings = Settings.from_env(values)
    if settings.is_postgres and settings.db_schema:
        url = postgres_url(settings).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{settings.db_schema}" CASCADE')
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url)
        for key in client.scan_iter(f"{settings.redis_prefix}*"):
            client.delete(key)


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


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
