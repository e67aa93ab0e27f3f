"""The webhooks read model: each account's webhooks and their recent deliveries.

A view of the Webhooks log like any other projection (rebuildable; a rebuild sends
nothing: sending is the dispatcher's and the sender's, never a projection's).
`WebhookReads` answers what is asked of it, in plain dataclasses: the dashboard's
webhook pages and `tinylytics webhooks list/deliveries` list webhooks and deliveries;
the dispatcher (application/webhook_dispatch.py) finds, through its `DispatchReads`
port, what a payload says of a site and which deliveries are overdue.
"""

from collections.abc import Collection
from dataclasses import dataclass
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
    Engine,
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
from application.webhook_dispatch import DueDelivery, SiteCard
from domain.deliveries import DELIVERED, FAILED, PENDING, Delivery
from domain.webhooks import Webhook
from projections.base import Projection, Tables, event_type, set_columns, utc


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
        deliveries = tables["deliveries"]
        if scope.site_ids:
            conn.execute(delete(deliveries).where(deliveries.c.site_uuid.in_(scope.site_ids)))
        if scope.whole_account:
            for table in (deliveries, tables["webhooks"]):
                conn.execute(delete(table).where(table.c.owner_uuid == scope.account_id))


# -- reads ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookListing:
    """One webhook as the webhooks read model lists it."""

    id: int
    uuid: UUID
    owner_id: UUID
    url: str
    events: list[str]
    platform: str
    wrap: bool
    active: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeliveryListing:
    """One delivery as the webhooks read model lists it (its last attempt's outcome)."""

    id: int
    uuid: UUID
    webhook_id: UUID
    owner_id: UUID
    site_id: UUID | None
    event: str
    test: bool
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_response_body: str | None
    gave_up_reason: str | None
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


class WebhookReads:
    """What is read from the webhooks read model (and, for the dispatcher, the sites one).

    Satisfies the dispatcher's `DispatchReads` port; every answer is a dataclass.
    """

    def __init__(self, engine: Engine, tables: Tables, sites: Tables) -> None:
        self.engine = engine
        self.webhooks = tables["webhooks"]
        self.deliveries = tables["deliveries"]
        self.sites = sites["sites"]

    def for_owner(self, owner_id: UUID) -> list[WebhookListing]:
        """The account's webhooks, oldest first, deleted ones left out."""
        t = self.webhooks
        query = select(t).where(t.c.owner_uuid == owner_id, t.c.deleted.is_(False)).order_by(t.c.id)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [
            WebhookListing(
                id=int(r.id),
                uuid=r.uuid,
                owner_id=r.owner_uuid,
                url=r.url,
                events=list(r.events),
                platform=r.platform,
                wrap=bool(r.wrap),
                active=bool(r.active),
                disabled_reason=r.disabled_reason,
                created_at=utc(r.created_at),
                updated_at=utc(r.updated_at),
            )
            for r in rows
        ]

    def deliveries_of(
        self, webhook_id: UUID, limit: int = 50, before: int | None = None
    ) -> list[DeliveryListing]:
        """A webhook's deliveries, newest first (`before` an id, for the next page)."""
        t = self.deliveries
        query = select(t).where(t.c.webhook_uuid == webhook_id)
        if before is not None:
            query = query.where(t.c.id < before)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query.order_by(t.c.id.desc()).limit(limit)))
        return [
            DeliveryListing(
                id=int(r.id),
                uuid=r.uuid,
                webhook_id=r.webhook_uuid,
                owner_id=r.owner_uuid,
                site_id=r.site_uuid,
                event=r.event,
                test=bool(r.test),
                status=r.status,
                attempts=int(r.attempts),
                next_attempt_at=_maybe_utc(r.next_attempt_at),
                last_attempt_at=_maybe_utc(r.last_attempt_at),
                last_status_code=r.last_status_code,
                last_error=r.last_error,
                last_response_body=r.last_response_body,
                gave_up_reason=r.gave_up_reason,
                payload=r.payload,
                created_at=utc(r.created_at),
                updated_at=utc(r.updated_at),
            )
            for r in rows
        ]

    # -- the dispatcher's port (application/webhook_dispatch.py: DispatchReads) ------------
    def site_cards(self, site_ids: Collection[UUID]) -> dict[UUID, SiteCard]:
        """What a webhook payload says of each of these sites that the read model has."""
        if not site_ids:
            return {}
        t = self.sites
        query = select(t.c.uuid, t.c.id, t.c.uid, t.c.owner_uuid, t.c.label, t.c.url).where(
            t.c.uuid.in_(list(site_ids))
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return {r.uuid: SiteCard(int(r.id), r.owner_uuid, r.label, r.url, r.uid) for r in rows}

    def overdue(self, cutoff: datetime, limit: int = 500) -> list[DueDelivery]:
        """Pending deliveries whose next attempt was due before `cutoff`, oldest first."""
        t = self.deliveries
        query = (
            select(t.c.id, t.c.attempts, t.c.next_attempt_at)
            .where(t.c.status == PENDING, t.c.next_attempt_at <= cutoff)
            .order_by(t.c.next_attempt_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [DueDelivery(int(r.id), int(r.attempts), utc(r.next_attempt_at)) for r in rows]
