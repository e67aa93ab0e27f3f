"""Every setting, read once from the environment; docs/deploy.md lists them."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message says which and why."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    base_url: str | None  # None: taken from each request's host
    db_schema: str | None
    api_rate_limit_per_hour: int
    redis_prefix: str
    run_projections_in_process: bool
    max_body_bytes: int = 1024 * 1024

    @property
    def is_postgres(self) -> bool:
        return self.database_url is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        database_url = env.get("DATABASE_URL", "").strip() or None
        if database_url and not database_url.startswith(
            ("postgresql://", "postgres://", "postgresql+psycopg://")
        ):
            raise SettingsError("DATABASE_URL must be a postgresql:// URL")
        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("REDIS_URL must be a redis:// or rediss:// URL")
        schema = env.get("TINYLYTICS_DB_SCHEMA", "").strip() or None
        if schema and not _SCHEMA.match(schema):
            raise SettingsError("TINYLYTICS_DB_SCHEMA must be a lower-case SQL identifier")
        base_url = env.get("TINYLYTICS_BASE_URL", "").strip().rstrip("/") or None
        if base_url and not base_url.startswith(("http://", "https://")):
            raise SettingsError("TINYLYTICS_BASE_URL must start with http:// or https://")
        return cls(
            data_dir=Path(env.get("TINYLYTICS_DATA_DIR", "").strip() or "data").resolve(),
            database_url=database_url,
            redis_url=redis_url,
            base_url=base_url,
            db_schema=schema,
            api_rate_limit_per_hour=_int(env, "TINYLYTICS_API_RATE_LIMIT", 1000),
            redis_prefix=env.get("TINYLYTICS_REDIS_PREFIX", "").strip() or "tinylytics",
            run_projections_in_process=_flag(
                env.get("TINYLYTICS_INPROCESS_PROJECTIONS"), default=redis_url is None
            ),
        )
