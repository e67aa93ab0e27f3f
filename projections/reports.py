"""What the weekly report reads (application/reports.py `ReportReads`), from rollups.

Totals and top pages are one path breakdown of the period (`traffic_queries.breakdown`:
whole UTC days from `traffic_dims`, the edge hours from `traffic_hourly`, and for a
zone whose offset is not a whole hour the minutes left over from at most two partial
hours of raw rows), so a site with ten million hits costs what its paths per day
cost, never a scan of its hits. Kudos by page are counted from the kudos read model
(one row per kudo, few beside hits) over the period's index range.
"""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine, func, select

from domain.reports import KudosCount, PageCount, ReportNumbers, SiteZone
from projections.base import Tables
from projections.traffic_queries import breakdown


class RollupReportReads:
    def __init__(self, engine: Engine, traffic: Tables, kudos: Tables, sites: Tables) -> None:
        self.engine = engine
        self.traffic = traffic
        self.kudos = kudos
        self.sites = sites

    def report_numbers(
        self, site_id: UUID, begin: datetime, finish: datetime, top: int
    ) -> ReportNumbers:
        table = self.kudos["kudos"]
        count = func.count()
        with self.engine.connect() as conn:
            pages = breakdown(conn, self.traffic, site_id, begin, finish, "path")
            kudos = conn.execute(
                select(table.c.path, count)
                .where(
                    table.c.site_uuid == site_id,
                    table.c.created_at >= begin,
                    table.c.created_at < finish,
                    table.c.withdrawn_at.is_(None),
                )
                .group_by(table.c.path)
                .order_by(count.desc(), table.c.path)
                .limit(top)
            ).all()
        return ReportNumbers(
            hits=sum(g.hits for g in pages),
            uniques=sum(g.uniques for g in pages),
            top_pages=[PageCount(g.value or "/", g.hits, g.uniques) for g in pages[:top]],
            kudos=[KudosCount(path, int(n)) for path, n in kudos],
        )

    def active_sites(self) -> list[SiteZone]:
        table = self.sites["sites"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.uuid, table.c.timezone).where(table.c.active.is_(True))
            ).all()
        return [SiteZone(uuid, zone) for uuid, zone in rows]
