"""The Webmentions read model: every mention of a site's pages, its status and what it said."""

from collections.abc import Iterator
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
    func,
    select,
)

from application.erasure import ErasureScope
from domain.webmentions import LIKE, QUEUED, REJECTED, REMOVED, VERIFIED, Webmention
from projections.base import (
    Projection,
    Tables,
    erase_sites,
    event_type,
    streamed,
    update_originator,
    utc,
)


class MentionsProjection(Projection):
    name = "mentions"
    source = "tracking"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        mentions = Table(
            "webmentions" + suffix,
            metadata,
            Column("uuid", Uuid, primary_key=True),
            Column("id", BigInteger, nullable=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("source", String(2048), nullable=False),
            Column("target", String(2048), nullable=False),
            Column("path", String(2048), nullable=False),
            Column("status", String(10), nullable=False),
            Column("queued", Boolean, nullable=False),
            Column("reason", String(500), nullable=True),
            Column("kind", String(10), nullable=True),
            Column("author_name", String(200), nullable=True),
            Column("author_url", String(2048), nullable=True),
            Column("author_photo", String(2048), nullable=True),
            Column("title", String(300), nullable=True),
            Column("published", String(40), nullable=True),
            Column("snippet", String(500), nullable=True),
            Column("received_at", DateTime(timezone=True), nullable=False),
            Column("verified_at", DateTime(timezone=True), nullable=True),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_webmentions{suffix}_site_time", "site_uuid", "status", "verified_at"),
        )
        return {"mentions": mentions}

    def _received(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        table = t["mentions"]
        conn.execute(
            table.insert().values(
                uuid=e.originator_id,
                id=nid,
                site_uuid=e.site_id,
                source=e.source,
                target=e.target,
                path=e.path,
                status=QUEUED,
                queued=True,
                received_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )

    def _received_again(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(conn, t["mentions"], e, queued=True)

    def _details(self, e: Any) -> dict[str, Any]:
        return {
            "kind": e.kind,
            "author_name": e.author_name,
            "author_url": e.author_url,
            "author_photo": e.author_photo,
            "title": e.title,
            "published": e.published,
            "snippet": e.snippet,
        }

    def _verified(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(
            conn,
            t["mentions"],
            e,
            status=VERIFIED,
            queued=False,
            reason=None,
            verified_at=e.timestamp,
            **self._details(e),
        )

    def _updated(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(
            conn, t["mentions"], e, status=VERIFIED, queued=False, reason=None, **self._details(e)
        )

    def _kept(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        update_originator(conn, t["mentions"], e, queued=False, reason=e.reason)

    def _rejected(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        table = t["mentions"]
        row = conn.execute(select(table.c.status).where(table.c.uuid == e.originator_id)).first()
        status = REMOVED if row is not None and row.status == REMOVED else REJECTED
        update_originator(conn, t["mentions"], e, status=status, queued=False, reason=e.reason)

    def _removed(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        nothing = dict.fromkeys(
            ("author_name", "author_url", "author_photo", "title", "published", "snippet")
        )
        update_originator(
            conn, t["mentions"], e, status=REMOVED, queued=False, reason=e.reason, **nothing
        )

    handlers = {
        event_type(Webmention, "Received"): _received,
        event_type(Webmention, "ReceivedAgain"): _received_again,
        event_type(Webmention, "Verified"): _verified,
        event_type(Webmention, "Updated"): _updated,
        event_type(Webmention, "Kept"): _kept,
        event_type(Webmention, "Rejected"): _rejected,
        event_type(Webmention, "Removed"): _removed,
    }

    # Most of the tracking log is hits: a batch of hits alone is read as plain rows and
    # skipped, without the library making a notification object of each.
    reads_states = True
    topics = "domain.webmentions:"

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        erase_sites(conn, tables, scope)


@dataclass(frozen=True)
class MentionRow:
    id: int
    uuid: UUID
    source: str
    target: str
    path: str
    status: str
    queued: bool
    reason: str | None
    kind: str | None
    author_name: str | None
    author_url: str | None
    author_photo: str | None
    title: str | None
    published: str | None
    snippet: str | None
    received_at: datetime
    verified_at: datetime | None
    updated_at: datetime


def _row(r: Any) -> MentionRow:
    return MentionRow(
        id=int(r.id),
        uuid=r.uuid,
        source=r.source,
        target=r.target,
        path=r.path,
        status=r.status,
        queued=bool(r.queued),
        reason=r.reason,
        kind=r.kind,
        author_name=r.author_name,
        author_url=r.author_url,
        author_photo=r.author_photo,
        title=r.title,
        published=r.published,
        snippet=r.snippet,
        received_at=utc(r.received_at),
        verified_at=utc(r.verified_at) if r.verified_at is not None else None,
        updated_at=utc(r.updated_at),
    )


class MentionReads:
    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.mentions = tables["mentions"]

    def get(self, site: UUID, mention: UUID) -> MentionRow | None:
        """One mention of this site (for its status page), or None."""
        t = self.mentions
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t).where(t.c.site_uuid == site, t.c.uuid == mention)
            ).first()
        return _row(found) if found is not None else None

    def feed(
        self, site: UUID, limit: int, offset: int = 0, kind: str | None = None
    ) -> tuple[int, list[MentionRow]]:
        """Verified mentions, the most recently verified first, and how many in all."""
        t = self.mentions
        where = [t.c.site_uuid == site, t.c.status == VERIFIED]
        if kind is not None:
            where.append(t.c.kind == kind)
        with self.engine.connect() as conn:
            total = int(
                conn.execute(select(func.count()).select_from(t).where(*where)).scalar() or 0
            )
            rows = conn.execute(
                select(t)
                .where(*where)
                .order_by(t.c.verified_at.desc(), t.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return total, [_row(r) for r in rows]

    def likes(self, site: UUID, limit: int, offset: int = 0) -> tuple[int, list[MentionRow]]:
        """Verified likes (each one an external kudo), newest first."""
        return self.feed(site, limit, offset, kind=LIKE)

    def export(self, site: UUID) -> Iterator[MentionRow]:
        """Every mention of a site, whatever its status, oldest first, streamed."""
        t = self.mentions
        with self.engine.connect() as conn:
            result = streamed(conn, 1000).execute(
                select(t).where(t.c.site_uuid == site).order_by(t.c.received_at, t.c.id)
            )
            for r in result:
                yield _row(r)
