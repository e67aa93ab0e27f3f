"""The kudos read model: every kudo (for the API and dashboard) and live counts per page."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
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
    update,
)

from application.erasure import ErasureScope
from domain.kudos import Kudo
from domain.text import clean
from projections.base import (
    Projection,
    Tables,
    erase_sites,
    event_type,
    streamed,
    upsert_add,
    utc,
)
from projections.traffic.rollups import combo_key


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

    # Most of the tracking log is hits: a batch of hits alone is read as plain rows and
    # skipped, without the library making a notification object of each.
    reads_states = True
    topics = "domain.kudos:"

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        erase_sites(conn, tables, scope)


@dataclass(frozen=True)
class KudoRow:
    """A live kudo: its integer id is the notification id of the event that gave it."""

    id: int
    uid: str
    path: str
    channel: str
    created_at: datetime


@dataclass(frozen=True)
class PathKudos:
    path: str
    count: int


class KudoReads:
    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.kudos = tables["kudos"]
        self.counts = tables["counts"]

    def page(
        self,
        site: UUID,
        begin: datetime | None,
        finish: datetime | None,
        path: str | None,
        uid: str | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[KudoRow]]:
        """Live kudos given in [begin, finish) (either end open), newest first, and how
        many there are in all."""
        # Filters compared with stored texts, cleaned as they were (domain/text.py).
        path = clean(path) if path is not None else None
        uid = clean(uid) if uid is not None else None
        table = self.kudos
        where = [table.c.site_uuid == site, table.c.withdrawn_at.is_(None)]
        if begin is not None:
            where.append(table.c.created_at >= begin)
        if finish is not None:
            where.append(table.c.created_at < finish)
        if path is not None:
            where.append(table.c.path == path)
        if uid is not None:
            where.append(table.c.uid == uid)
        with self.engine.connect() as conn:
            total = int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0
            )
            rows = conn.execute(
                select(table.c.id, table.c.uid, table.c.path, table.c.channel, table.c.created_at)
                .where(*where)
                .order_by(table.c.created_at.desc(), table.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return total, [KudoRow(int(i), u, p, c, utc(at)) for i, u, p, c, at in rows]

    def by_path(self, site: UUID, begin: datetime, finish: datetime) -> list[PathKudos]:
        """Live kudos given in [begin, finish) per page, most first."""
        table = self.kudos
        total = func.count()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.path, total)
                .where(
                    table.c.site_uuid == site,
                    table.c.withdrawn_at.is_(None),
                    table.c.created_at >= begin,
                    table.c.created_at < finish,
                )
                .group_by(table.c.path)
                .order_by(total.desc(), table.c.path)
            )
            return [PathKudos(p, int(n)) for p, n in rows]

    def lifetime(self, sites: list[UUID]) -> dict[UUID, int]:
        """Each site's live kudos."""
        if not sites:
            return {}
        counts = self.counts
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(counts.c.site_uuid, func.sum(counts.c.count))
                .where(counts.c.site_uuid.in_(sites))
                .group_by(counts.c.site_uuid)
            )
            return {site: int(n or 0) for site, n in rows}

    def for_paths(self, site: UUID, paths: list[str]) -> dict[str, int]:
        """Live kudos of each of these pages (0 for one with none)."""
        counts = self.counts
        keys = [combo_key([p]) for p in paths]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(counts.c.path, counts.c.count).where(
                    counts.c.site_uuid == site, counts.c.key.in_(keys)
                )
            )
            found = {path: int(n) for path, n in rows}
        return {p: found.get(p, 0) for p in paths}

    def top(self, site: UUID, limit: int) -> list[PathKudos]:
        """The pages with the most live kudos (lifetime), most first."""
        counts = self.counts
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(counts.c.path, counts.c.count)
                .where(counts.c.site_uuid == site, counts.c.count > 0)
                .order_by(counts.c.count.desc(), counts.c.path)
                .limit(limit)
            )
            return [PathKudos(path, int(n)) for path, n in rows]

    def export(self, site: UUID) -> Iterator[KudoRow]:
        """Every live kudo of a site, oldest first, streamed."""
        table = self.kudos
        with self.engine.connect() as conn:
            result = streamed(conn, 2000).execute(
                select(table.c.id, table.c.uid, table.c.path, table.c.channel, table.c.created_at)
                .where(table.c.site_uuid == site, table.c.withdrawn_at.is_(None))
                .order_by(table.c.created_at, table.c.id)
            )
            for i, u, p, c, at in result:
                yield KudoRow(int(i), u, p, c, utc(at))
