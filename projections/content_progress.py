"""The progress of each site's running content check: one row per site, written by the
crawl's sampler (application/crawl_progress.py, the `ProgressBoard` port) and read by
the Content tab through `ReadModels.content` (a sample, not an event: it is not in any
log and a rebuild has nothing to replay)."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    select,
)

from application.crawl_progress import CrawlSample
from application.crawling import CrawlCounts
from projections.base import utc


def progress_table(metadata: MetaData) -> Table:
    return Table(
        "content_progress",
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        Column("crawl_id", String(64), nullable=False),
        Column("pages", Integer, nullable=False),
        Column("checked", Integer, nullable=False),
        Column("issues", Integer, nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )


class CrawlProgressRows:
    """The `ProgressBoard` port on the read-model database."""

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table

    def setup(self) -> None:
        self.table.create(self.engine, checkfirst=True)

    def record(self, site_id: UUID, sample: CrawlSample) -> None:
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.site_uuid == site_id))
            conn.execute(
                t.insert().values(
                    site_uuid=site_id,
                    crawl_id=sample.crawl_id,
                    pages=sample.counts.pages,
                    checked=sample.counts.checked,
                    issues=sample.counts.issues,
                    started_at=sample.started_at,
                    updated_at=sample.updated_at,
                )
            )

    def clear(self, site_id: UUID, crawl_id: str) -> None:
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(delete(t).where((t.c.site_uuid == site_id) & (t.c.crawl_id == crawl_id)))

    def get(self, site_id: UUID) -> CrawlSample | None:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.site_uuid == site_id)).first()
        return None if row is None else _sample(row)

    def forget(self, conn: Connection, site_ids: Sequence[UUID]) -> None:
        if site_ids:
            t = self.table
            conn.execute(delete(t).where(t.c.site_uuid.in_(list(site_ids))))


def _sample(row: Any) -> CrawlSample:
    return CrawlSample(
        crawl_id=row.crawl_id,
        counts=CrawlCounts(int(row.pages), int(row.checked), int(row.issues)),
        started_at=utc(row.started_at),
        updated_at=utc(row.updated_at),
    )
