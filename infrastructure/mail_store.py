"""Kept mail (`mail_outbox`): every message the postbox posts, before it is sent.

A row holds the message (as JSON, so every retry sends the same one), its
idempotency key (unique: a second post of a key finds the first), its status and
attempts. It is added together with its retry job in the clock's schedule, in one
transaction: a message is never kept without a way to be sent. Sent rows older
than the retention age are pruned by the clock (`retention.prune`); an erased
account's or site's rows go with it.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
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
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from application.clock import Job
from application.mail import FAILED, MAIL_KIND, PENDING, SENT, MailSummary, Message, Posted
from infrastructure.schedule import SqlSchedule

metadata = MetaData()
mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("key", String(300), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("message", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("account_uuid", Uuid, nullable=True),
    Column("site_uuid", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Index("ix_mail_outbox_key", "key", unique=True),
    Index("ix_mail_outbox_status", "status", "created_at"),
    Index("ix_mail_outbox_site", "site_uuid", "created_at"),
    Index("ix_mail_outbox_account", "account_uuid"),
)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _encode(message: Message) -> dict[str, Any]:
    return {
        "to": message.to,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "links": list(message.links),
        "headers": [list(h) for h in message.headers],
        "id": message.id.hex if message.id else None,
        "date": message.date.isoformat() if message.date else None,
    }


def _decode(data: dict[str, Any]) -> Message:
    return Message(
        to=data["to"],
        subject=data["subject"],
        text=data["text"],
        html=data.get("html"),
        links=tuple(data.get("links") or ()),
        headers=tuple((str(n), str(v)) for n, v in data.get("headers") or ()),
        id=UUID(data["id"]) if data.get("id") else None,
        date=datetime.fromisoformat(data["date"]) if data.get("date") else None,
    )


def _posted(row: Any) -> Posted:
    return Posted(
        id=row.id,
        key=row.key,
        purpose=row.purpose,
        message=_decode(row.message),
        status=row.status,
        attempts=int(row.attempts),
        last_error=row.last_error,
        created_at=_utc(row.created_at),
        sent_at=_utc(row.sent_at),
        next_attempt_at=_utc(row.next_attempt_at),
        account_id=row.account_uuid,
        site_id=row.site_uuid,
    )


class SqlMailStore:
    """The `MailStore` port, beside the schedule on the read-model database."""

    def __init__(self, engine: Engine, schedule: SqlSchedule) -> None:
        self.engine = engine
        self.schedule = schedule
        self.is_postgres = engine.dialect.name == "postgresql"

    def setup(self) -> None:
        metadata.create_all(self.engine)

    def _begin(self) -> Any:
        if self.is_postgres:
            return self.engine.begin()
        return self.engine.execution_options(immediate=True).begin()

    def add(self, posted: Posted, retry_at: datetime) -> tuple[Posted, bool]:
        at = posted.created_at or datetime.now(UTC)
        row = {
            "id": posted.id,
            "key": posted.key[:300],
            "purpose": posted.purpose,
            "recipient": posted.message.to[:254],
            "subject": posted.message.subject[:300],
            "message": _encode(posted.message),
            "status": PENDING,
            "attempts": 0,
            "last_error": None,
            "account_uuid": posted.account_id,
            "site_uuid": posted.site_id,
            "created_at": at,
            "updated_at": at,
            "sent_at": None,
            "next_attempt_at": posted.next_attempt_at,
        }
        insert = pg_insert(mail_outbox) if self.is_postgres else sqlite_insert(mail_outbox)
        with self._begin() as conn:
            # RETURNING says whether the row went in (rowcount is -1 here on psycopg).
            added = (
                conn.execute(
                    insert.values(**row)
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(mail_outbox.c.id)
                ).first()
                is not None
            )
            if added:
                self.schedule.put_in(conn, [Job(MAIL_KIND, str(posted.id), retry_at)])
            else:
                kept = conn.execute(
                    select(mail_outbox).where(mail_outbox.c.key == row["key"])
                ).one()
        if added:
            return posted, True
        return _posted(kept), False

    def get(self, mail_id: UUID) -> Posted | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(mail_outbox).where(mail_outbox.c.id == mail_id)).first()
        return _posted(row) if row is not None else None

    def record(
        self,
        mail_id: UUID,
        status: str,
        attempts: int,
        error: str | None,
        at: datetime,
        next_attempt_at: datetime | None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "attempts": attempts,
            "last_error": error,
            "updated_at": at,
            "next_attempt_at": next_attempt_at,
        }
        if status == SENT:
            values["sent_at"] = at
        with self._begin() as conn:
            conn.execute(update(mail_outbox).where(mail_outbox.c.id == mail_id).values(**values))

    def summary(self) -> MailSummary:
        c = mail_outbox.c
        with self.engine.connect() as conn:
            counts: dict[str, int] = {
                status: int(n)
                for status, n in conn.execute(select(c.status, func.count()).group_by(c.status))
            }
            oldest = conn.execute(
                select(func.min(c.created_at)).where(c.status == PENDING)
            ).scalar()
        return MailSummary(
            pending=int(counts.get(PENDING, 0)),
            sent=int(counts.get(SENT, 0)),
            failed=int(counts.get(FAILED, 0)),
            oldest_pending_at=_utc(oldest),
        )

    def recent(
        self, status: str | None = None, site_id: UUID | None = None, limit: int = 20
    ) -> list[Posted]:
        c = mail_outbox.c
        query = select(mail_outbox).order_by(c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(c.status == status)
        if site_id is not None:
            query = query.where(c.site_uuid == site_id)
        with self.engine.connect() as conn:
            return [_posted(r) for r in conn.execute(query)]

    # -- retention and erasure ---------------------------------------------------------
    def prune(self, before: datetime) -> int:
        """Forget sent and failed messages older than `before` (pending ones stay)."""
        c = mail_outbox.c
        with self._begin() as conn:
            removed = conn.execute(
                delete(mail_outbox).where(c.status != PENDING, c.updated_at < before)
            ).rowcount
        return int(removed or 0)

    def forget(
        self,
        conn: Connection,
        account_id: UUID | None,
        site_ids: Sequence[UUID],
        addresses: Sequence[str] = (),
    ) -> None:
        """Erasure: every message of the account, of its sites, or to its addresses."""
        c = mail_outbox.c
        conditions = []
        if account_id is not None:
            conditions.append(c.account_uuid == account_id)
        if site_ids:
            conditions.append(c.site_uuid.in_(list(site_ids)))
        if addresses:
            conditions.append(func.lower(c.recipient).in_([a.lower() for a in addresses]))
        if not conditions:
            return
        ids = list(conn.execute(select(c.id).where(or_(*conditions))).scalars())
        if ids:
            conn.execute(delete(mail_outbox).where(c.id.in_(ids)))
            self.schedule.clear(conn, MAIL_KIND, [str(i) for i in ids])
