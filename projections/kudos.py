"""The kudos read model: every kudo (for the API and dashboard) and live counts per page."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

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
    func,
    select,
    update,
)

from application.erasure import ErasureScope
from domain.kudos import Kudo
from domain.text import clean
from projections.base import Projection, Tables, cleaned, event_type, upsert_add
from projections.traffic import combo_key


class KudosProjection(Projection):
    name = "kudos"
    source = "tracking"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        kudos = Table(
            "kudos" + suffix,
            metadata,
            Column("uuid", Uuid, primary_key=True),
            Column("id", BigInteger, nullable=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("uid", String(100), nullable=False),
            Column("path", String(2048), nullable=False),
            Column("channel", String(10), nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("withdrawn_at", DateTime(timezone=True), nullable=True),
            Index(f"ix_kudos{suffix}_site_time", "site_uuid", "created_at"),
            Index(f"ix_kudos{suffix}_id", "id"),
        )
        counts = Table(
            "kudo_counts" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("key", String(32), primary_key=True),
            Column("path", String(2048), nullable=False),
            Column("count", BigInteger, nullable=False),
        )
        return {"kudos": kudos, "counts": counts}

    def _count(self, conn: Connection, t: Tables, site: UUID, path: str, delta: int) -> None:
        upsert_add(
            conn,
            t["counts"],
            [{"site_uuid": site, "key": combo_key([path]), "path": path, "count": delta}],
            keys=("site_uuid", "key"),
            add=("count",),
        )

    def _given(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        table = t["kudos"]
        values = {
            "id": nid,
            "site_uuid": e.site_id,
            "uid": e.uid,
            "path": e.path,
            "channel": e.channel,
            "created_at": e.timestamp,
            "withdrawn_at": None,
        }
        changed = conn.execute(
            update(table).where(table.c.uuid == e.originator_id).values(**values)
        ).rowcount
        if not changed:
            conn.execute(table.insert().values(uuid=e.originator_id, **values))
        self._count(conn, t, e.site_id, e.path, 1)

    def _withdrawn(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        table = t["kudos"]
        row = conn.execute(
            select(table.c.site_uuid, table.c.path).where(table.c.uuid == e.originator_id)
        ).first()
        conn.execute(
            update(table).where(table.c.uuid == e.originator_id).values(withdrawn_at=e.timestamp)
        )
        if row is not None:
            self._count(conn, t, row.site_uuid, row.path, -1)

    def _given_again(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        table = t["kudos"]
        row = conn.execute(
            select(table.c.site_uuid, table.c.uid).where(table.c.uuid == e.originator_id)
        ).first()
        if row is None:
            return
        conn.execute(
            update(table)
            .where(table.c.uuid == e.originator_id)
            .values(
                id=nid, path=e.path, channel=e.channel, created_at=e.timestamp, withdrawn_at=None
            )
        )
        self._count(conn, t, row.site_uuid, e.path, 1)

    handlers = {
        event_type(Kudo, "Given"): _given,
        event_type(Kudo, "GivenAgain"): _given_again,
        event_type(Kudo, "Withdrawn"): _withdrawn,
    }

    def decode(self, notification: Any, mapper: Any) -> Any:
        # Most of the tracking log is hits: skip decoding what this projection ignores.
        if not notification.topic.startswith("domain.kudos:"):
            return None
        return cleaned(mapper.to_domain_event(notification))

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        if scope.site_ids:
            for table in tables.values():
                conn.execute(delete(table).where(table.c.site_uuid.in_(scope.site_ids)))


def kudo_page(
    conn: Connection,
    t: Tables,
    site: UUID,
    begin: datetime,
    finish: datetime,
    path: str | None,
    uid: str | None,
    limit: int,
    offset: int,
) -> tuple[int, Sequence[Any]]:
    """Live kudos given in a range, newest first, and how many there are."""
    # Filters compared with stored texts, cleaned as they were (domain/text.py).
    path = clean(path) if path is not None else None
    uid = clean(uid) if uid is not None else None
    table = t["kudos"]
    where = [
        table.c.site_uuid == site,
        table.c.created_at >= begin,
        table.c.created_at < finish,
        table.c.withdrawn_at.is_(None),
    ]
    if path is not None:
        where.append(table.c.path == path)
    if uid is not None:
        where.append(table.c.uid == uid)
    total = int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0)
    rows = conn.execute(
        select(table)
        .where(*where)
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, rows


def kudo_totals(conn: Connection, t: Tables, sites: list[UUID]) -> dict[UUID, int]:
    if not sites:
        return {}
    counts = t["counts"]
    rows = conn.execute(
        select(counts.c.site_uuid, func.sum(counts.c.count))
        .where(counts.c.site_uuid.in_(sites))
        .group_by(counts.c.site_uuid)
    )
    return {site: int(n or 0) for site, n in rows}


def kudo_counts(conn: Connection, t: Tables, site: UUID, paths: list[str]) -> dict[str, int]:
    counts = t["counts"]
    keys = [combo_key([p]) for p in paths]
    rows = conn.execute(
        select(counts.c.path, counts.c.count).where(
            counts.c.site_uuid == site, counts.c.key.in_(keys)
        )
    )
    found = {path: int(n) for path, n in rows}
    return {p: found.get(p, 0) for p in paths}
