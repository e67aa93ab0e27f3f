"""The key that signs dashboard sessions and emailed links.

`TINYLYTICS_SECRET_KEY` when set; otherwise one is generated on first start and kept,
so a restart logs nobody out: in the data folder on SQLite (file mode 0600), in the
database on PostgreSQL, where several web processes must agree on it. The first
process to store one wins; the others read it back.
"""

import contextlib
import os
import secrets
from pathlib import Path

from sqlalchemy import Column, Engine, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from infrastructure.settings import Settings

metadata = MetaData()
app_secrets = Table(
    "app_secrets",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", String(200), nullable=False),
)

NAME = "session"
FILE_NAME = "secret_key"


def session_secret(settings: Settings, engine: Engine) -> str:
    if settings.secret_key:
        return settings.secret_key
    if settings.is_postgres:
        return _from_database(engine)
    return _from_file(settings.data_dir / FILE_NAME)


def _from_file(path: Path) -> str:
    with contextlib.suppress(FileNotFoundError):
        found = path.read_text(encoding="ascii").strip()
        if found:
            return found
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{FILE_NAME}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(temporary, path)  # atomic, and fails if another process got there first
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def _from_database(engine: Engine) -> str:
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(
            pg_insert(app_secrets)
            .values(name=NAME, value=secrets.token_urlsafe(48))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        found = conn.execute(select(app_secrets.c.value).where(app_secrets.c.name == NAME))
        return str(found.scalar_one())
