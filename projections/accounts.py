"""The accounts read model: who has an account, on which plan, in which time zone."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    select,
)

from application.erasure import ErasureScope
from domain.accounts import Account
from projections.base import Projection, Tables, event_type, set_columns, utc


class AccountsProjection(Projection):
    name = "accounts"
    source = "configuration"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        table = Table(
            "accounts" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("uuid", Uuid, nullable=False),
            Column("email", String(254), nullable=False),
            Column("timezone", String(64), nullable=False),
            Column("is_subscribed", Boolean, nullable=False),
            Column("email_confirmed", Boolean, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_accounts{suffix}_uuid", "uuid", unique=True),
        )
        return {"accounts": table}

    def _registered(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        conn.execute(
            t["accounts"]
            .insert()
            .values(
                id=nid,
                uuid=e.originator_id,
                email=e.email,
                timezone=e.timezone,
                is_subscribed=e.is_subscribed,
                email_confirmed=False,
                created_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )

    handlers = {
        event_type(Account, "Registered"): _registered,
        event_type(Account, "EmailConfirmed"): set_columns(
            "accounts", email_confirmed=lambda e: True
        ),
        event_type(Account, "EmailChanged"): set_columns(
            "accounts", email=lambda e: e.email, email_confirmed=lambda e: False
        ),
        event_type(Account, "TimezoneChanged"): set_columns(
            "accounts", timezone=lambda e: e.timezone
        ),
        event_type(Account, "Subscribed"): set_columns("accounts", is_subscribed=lambda e: True),
        event_type(Account, "Unsubscribed"): set_columns("accounts", is_subscribed=lambda e: False),
        event_type(Account, "PasswordChanged"): set_columns("accounts"),
    }

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        if scope.whole_account:
            table = tables["accounts"]
            conn.execute(delete(table).where(table.c.uuid == scope.account_id))


@dataclass(frozen=True)
class AccountRow:
    id: int
    uuid: UUID
    email: str
    timezone: str
    is_subscribed: bool
    email_confirmed: bool
    created_at: datetime
    updated_at: datetime


class AccountReads:
    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.table = tables["accounts"]

    def by_uuid(self, account_id: UUID) -> AccountRow | None:
        """The account as the read model has it (None until the projection has run)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.uuid == account_id)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["created_at"] = utc(values["created_at"])
        values["updated_at"] = utc(values["updated_at"])
        return AccountRow(**values)

    def unconfirmed_before(self, cutoff: datetime) -> list[UUID]:
        """Accounts signed up before `cutoff` whose current address is not confirmed
        (the purge reads each again from the event store: application/confirmation.py)."""
        table = self.table
        with self.engine.connect() as conn:
            found = conn.execute(
                select(table.c.uuid)
                .where(table.c.email_confirmed.is_(False), table.c.created_at <= cutoff)
                .order_by(table.c.created_at)
            ).scalars()
            return list(found)
