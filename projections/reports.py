"""What the weekly report reads (application/reports.py `ReportReads`), from rollups.

The week's totals come from the quarter-hour counts and its top pages from the path
rollups cut to the site's local days (projections/traffic/reads.py), so a site with
ten million hits costs what its paths per day cost, never a scan of its hits; kudos
by page from the kudos read model over the week's index range.
"""

from uuid import UUID

from domain.date_ranges import DateRange
from domain.reports import KudosCount, PageCount, ReportNumbers, SiteZone
from projections.kudos import KudoReads
from projections.sites import SiteReads
from projections.traffic.reads import TrafficReads


class ReportReads:
    def __init__(self, traffic: TrafficReads, kudos: KudoReads, sites: SiteReads) -> None:
        self.traffic = traffic
        self.kudos = kudos
        self.sites = sites

    def report_numbers(self, site_id: UUID, span: DateRange, top: int) -> ReportNumbers:
        totals = self.traffic.totals(site_id, span)
        _count, pages = self.traffic.breakdown(site_id, span, "path", top=top)
        kudos = self.kudos.by_path(site_id, span.begin, span.finish)[:top]
        return ReportNumbers(
            hits=totals.hits,
            uniques=totals.uniques,
            top_pages=[PageCount(g.value or "/", g.hits, g.uniques) for g in pages],
            kudos=[KudosCount(k.path, k.count) for k in kudos],
        )

    def active_sites(self) -> list[SiteZone]:
        return [SiteZone(s.uuid, s.timezone) for s in self.sites.of_owner(None) if s.active]
