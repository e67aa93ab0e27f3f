"""The API keys read model: an account's keys by name, access and state (never the secret)."""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
)

from application.erasure import ErasureScope
from domain.api_keys import ApiKey
from projections.base import Projection, Tables, event_type, set_columns


class ApiKeysProjection(Projection):
    name = "api_keys"
    source = "configuration"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        table = Table(
            "api_keys" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("uuid", Uuid, nullable=False),
            Column("owner_uuid", Uuid, nullable=False),
            Column("name", String(100), nullable=False),
            Column("access_type", String(20), nullable=False),
            Column("hint", String(20), nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("revoked_at", DateTime(timezone=True), nullable=True),
            Index(f"ix_api_keys{suffix}_uuid", "uuid", unique=True),
            Index(f"ix_api_keys{suffix}_owner", "owner_uuid", "id"),
        )
        return {"api_keys": table}

    def _issued(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        conn.execute(
            t["api_keys"]
            .insert()
            .values(
                id=nid,
                uuid=e.originator_id,
                owner_uuid=e.owner_id,
                name=e.name,
                access_type=e.access,
                hint=e.hint,
                created_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )

    handlers = {
        event_type(ApiKey, "Issued"): _issued,
        event_type(ApiKey, "Revoked"): set_columns("api_keys", revoked_at=lambda e: e.timestamp),
    }

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        if scope.whole_account:
            table = tables["api_keys"]
            conn.execute(delete(table).where(table.c.owner_uuid == scope.account_id))
