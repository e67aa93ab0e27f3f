"""The webhooks read model: each account's webhooks and their recent deliveries.

A view of the Webhooks log like any other projection (rebuildable; a rebuild sends
nothing: sending is the dispatcher's and the sender's, never a projection's). The
dashboard's webhook pages and `tinylytics webhooks list/deliveries` read it; the
dispatcher's sweep finds overdue deliveries here.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    delete,
    select,
    update,
)

from application.erasure import ErasureScope
from domain.deliveries import DELIVERED, FAILED, PENDING, Delivery
from domain.webhooks import Webhook
from projections.base import Projection, Tables, event_type, set_columns


def _attempt_columns(attempt: dict[str, Any]) -> dict[str, Any]:
    return {
        "attempts": attempt["number"],
        "last_attempt_at": attempt["at"],
        "last_status_code": attempt["status_code"],
        "last_error": attempt["error"],
        "last_response_body": attempt["response_body"],
    }


class WebhooksProjection(Projection):
    name = "webhooks"
    source = "webhooks"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        webhooks = Table(
            "webhooks" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("uuid", Uuid, nullable=False),
            Column("owner_uuid", Uuid, nullable=False),
            Column("url", String(2048), nullable=False),
            Column("events", JSON, nullable=False),
            Column("platform", String(20), nullable=False),
            Column("wrap", Boolean, nullable=False),
            Column("active", Boolean, nullable=False),
            Column("deleted", Boolean, nullable=False),
            Column("disabled_reason", String(200), nullable=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_webhooks{suffix}_uuid", "uuid", unique=True),
            Index(f"ix_webhooks{suffix}_owner", "owner_uuid", "id"),
        )
        deliveries = Table(
            "webhook_deliveries" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("uuid", Uuid, nullable=False),
            Column("webhook_uuid", Uuid, nullable=False),
            Column("owner_uuid", Uuid, nullable=False),
            Column("site_uuid", Uuid, nullable=True),
            Column("event", String(20), nullable=False),
            Column("test", Boolean, nullable=False),
            Column("status", String(10), nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("next_attempt_at", DateTime(timezone=True), nullable=True),
            Column("last_attempt_at", DateTime(timezone=True), nullable=True),
            Column("last_status_code", Integer, nullable=True),
            Column("last_error", Text, nullable=True),
            Column("last_response_body", Text, nullable=True),
            Column("gave_up_reason", Text, nullable=True),
            Column("payload", JSON, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_webhook_deliveries{suffix}_uuid", "uuid", unique=True),
            Index(f"ix_webhook_deliveries{suffix}_webhook", "webhook_uuid", "id"),
            Index(f"ix_webhook_deliveries{suffix}_due", "status", "next_attempt_at"),
            Index(f"ix_webhook_deliveries{suffix}_owner", "owner_uuid"),
        )
        return {"webhooks": webhooks, "deliveries": deliveries}

    # -- webhooks ----------------------------------------------------------------------
    def _registered(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        conn.execute(
            t["webhooks"]
            .insert()
            .values(
                id=nid,
                uuid=e.originator_id,
                owner_uuid=e.owner_id,
                url=e.url,
                events=list(e.events),
                platform=e.platform,
                wrap=e.wrap,
                active=True,
                deleted=False,
                disabled_reason=None,
                created_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )

    # -- deliveries --------------------------------------------------------------------
    def _scheduled(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        conn.execute(
            t["deliveries"]
            .insert()
            .values(
                id=nid,
                uuid=e.originator_id,
                webhook_uuid=e.webhook_id,
                owner_uuid=e.owner_id,
                site_uuid=e.site_id,
                event=e.event_type,
                test=e.is_test,
                status=PENDING,
                attempts=0,
                next_attempt_at=e.at,
                payload=e.payload,
                created_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )

    def _set_delivery(self, conn: Connection, t: Tables, e: Any, **values: Any) -> None:
        table = t["deliveries"]
        conn.execute(
            update(table)
            .where(table.c.uuid == e.originator_id)
            .values(updated_at=e.timestamp, **values)
        )

    def _attempt_failed(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        self._set_delivery(conn, t, e, next_attempt_at=e.retry_at, **_attempt_columns(e.attempt))

    def _delivered(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        self._set_delivery(
            conn, t, e, status=DELIVERED, next_attempt_at=None, **_attempt_columns(e.attempt)
        )

    def _gave_up(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        self._set_delivery(conn, t, e, status=FAILED, next_attempt_at=None, gave_up_reason=e.reason)

    def _retry_requested(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        self._set_delivery(conn, t, e, status=PENDING, next_attempt_at=e.at, gave_up_reason=None)

    handlers = {
        event_type(Webhook, "Registered"): _registered,
        event_type(Webhook, "UrlChanged"): set_columns("webhooks", url=lambda e: e.url),
        event_type(Webhook, "EventsSelected"): set_columns(
            "webhooks", events=lambda e: list(e.events)
        ),
        event_type(Webhook, "PlatformChanged"): set_columns(
            "webhooks", platform=lambda e: e.platform
        ),
        event_type(Webhook, "WrapSet"): set_columns("webhooks", wrap=lambda e: e.wrap),
        event_type(Webhook, "Activated"): set_columns(
            "webhooks", active=lambda e: True, disabled_reason=lambda e: None
        ),
        event_type(Webhook, "Disabled"): set_columns(
            "webhooks", active=lambda e: False, disabled_reason=lambda e: e.reason[:200]
        ),
        event_type(Webhook, "SecretRotated"): set_columns("webhooks"),
        event_type(Webhook, "Deleted"): set_columns(
            "webhooks", active=lambda e: False, deleted=lambda e: True
        ),
        event_type(Delivery, "Scheduled"): _scheduled,
        event_type(Delivery, "AttemptFailed"): _attempt_failed,
        event_type(Delivery, "Delivered"): _delivered,
        event_type(Delivery, "GaveUp"): _gave_up,
        event_type(Delivery, "RetryRequested"): _retry_requested,
    }

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        for table in (tables["deliveries"], tables["webhooks"]):
            conn.execute(delete(table).where(table.c.owner_uuid == scope.account_id))

    # -- queries -----------------------------------------------------------------------
    @staticmethod
    def for_owner(conn: Connection, tables: Tables, owner_id: UUID) -> list[Any]:
        """The account's webhooks, oldest first, deleted ones left out."""
        table = tables["webhooks"]
        query = (
            select(table)
            .where(table.c.owner_uuid == owner_id, table.c.deleted.is_(False))
            .order_by(table.c.id)
        )
        return list(conn.execute(query))

    @staticmethod
    def deliveries_of(
        conn: Connection,
        tables: Tables,
        webhook_id: UUID,
        limit: int = 50,
        before: int | None = None,
    ) -> list[Any]:
        """A webhook's deliveries, newest first (`before` an id, for the next page)."""
        table = tables["deliveries"]
        query = select(table).where(table.c.webhook_uuid == webhook_id)
        if before is not None:
            query = query.where(table.c.id < before)
        return list(conn.execute(query.order_by(table.c.id.desc()).limit(limit)))

    @staticmethod
    def overdue(conn: Connection, tables: Tables, cutoff: datetime, limit: int = 500) -> list[Any]:
        """Pending deliveries whose next attempt was due before `cutoff`, oldest first."""
        table = tables["deliveries"]
        query = (
            select(table.c.id, table.c.attempts, table.c.next_attempt_at)
            .where(table.c.status == PENDING, table.c.next_attempt_at <= cutoff)
            .order_by(table.c.next_attempt_at)
            .limit(limit)
        )
        return list(conn.execute(query))
