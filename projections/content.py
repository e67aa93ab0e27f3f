"""The content monitoring read model: each site's monitoring status and its issues
(a projection of the ContentMonitoring log), and the rows of its latest checks.

An issue's integer id is the notification id of the event that found it: stable
across rebuilds. The check rows (one per site and URL, `content_checks`) are not
events: `LinkCheckRows` is the application's `CheckRows` port, written once per crawl,
and read here for `ok_links` and the stats. `ContentReads` answers the API and the
dashboard (through `ReadModels.content`).
"""

import hashlib
from collections.abc import Sequence
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
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    delete,
    func,
    select,
    update,
)

from application.crawl_progress import CrawlSample
from application.crawling import LinkCheck
from application.erasure import ErasureScope
from domain.content_monitoring import ContentMonitor
from domain.links import BROKEN_LINK, MIXED_CONTENT
from projections.base import Projection, Tables, event_type, update_originator, utc
from projections.content_progress import CrawlProgressRows


class ContentProjection(Projection):
    name = "content"
    source = "content"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        monitors = Table(
            "content_monitors" + suffix,
            metadata,
            Column("uuid", Uuid, primary_key=True),
            Column("site_uuid", Uuid, nullable=False),
            Column("enabled", Boolean, nullable=False),
            Column("root_path", String(512), nullable=False),
            Column("last_check_at", DateTime(timezone=True), nullable=True),
            Column("crawls", Integer, nullable=False),
            Column("running", Boolean, nullable=False),
            Column("alerts_on", Boolean, nullable=False),
            Column("emails_paused_until", DateTime(timezone=True), nullable=True),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_content_monitors{suffix}_site", "site_uuid", unique=True),
        )
        issues = Table(
            "content_issues" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("site_uuid", Uuid, nullable=False),
            Column("key", String(64), nullable=False),
            Column("url", String(2048), nullable=False),
            Column("issue_type", String(20), nullable=False),
            Column("status_code", Integer, nullable=True),
            Column("error_message", Text, nullable=True),
            Column("checked_at", DateTime(timezone=True), nullable=True),
            Column("open", Boolean, nullable=False),
            Column("ignored", Boolean, nullable=False),
            Index(f"ix_content_issues{suffix}_site", "site_uuid", "key"),
        )
        return {"monitors": monitors, "issues": issues}

    # -- monitors ----------------------------------------------------------------------
    def _registered(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        conn.execute(
            t["monitors"]
            .insert()
            .values(
                uuid=e.originator_id,
                site_uuid=e.site_id,
                enabled=True,
                root_path=e.root_path,
                last_check_at=None,
                crawls=0,
                running=False,
                alerts_on=True,
                emails_paused_until=None,
                updated_at=e.timestamp,
            )
        )

    def _enabled(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        update_originator(conn, t["monitors"], e, enabled=True, root_path=e.root_path)

    def _disabled(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        update_originator(conn, t["monitors"], e, enabled=False, running=False)

    def _paused(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        update_originator(conn, t["monitors"], e, emails_paused_until=e.until)

    def _resumed(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        update_originator(conn, t["monitors"], e, emails_paused_until=None)

    def _alerts(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        update_originator(conn, t["monitors"], e, alerts_on=e.on)

    def _started(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        update_originator(conn, t["monitors"], e, running=True)

    def _finished(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        table = t["monitors"]
        update_originator(
            conn, t["monitors"], e, running=False, last_check_at=e.at, crawls=table.c.crawls + 1
        )

    # -- issues ------------------------------------------------------------------------
    def _site(self, conn: Connection, t: Tables, e: Any) -> UUID:
        table = t["monitors"]
        found = conn.execute(
            select(table.c.site_uuid).where(table.c.uuid == e.originator_id)
        ).scalar_one()
        return UUID(str(found))

    def _issue(self, t: Tables, site: UUID, key: str) -> Any:
        table = t["issues"]
        return (table.c.site_uuid == site) & (table.c.key == _digest(key))

    def _found(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        site = self._site(conn, t, e)
        table = t["issues"]
        ignored = conn.execute(
            select(table.c.ignored).where(self._issue(t, site, e.key) & table.c.ignored)
        ).first()
        conn.execute(delete(table).where(self._issue(t, site, e.key)))
        conn.execute(
            table.insert().values(
                id=nid,
                site_uuid=site,
                key=_digest(e.key),
                url=e.url,
                issue_type=e.issue_type,
                status_code=e.status_code,
                error_message=e.error_message,
                checked_at=e.checked_at,
                open=True,
                ignored=ignored is not None,
            )
        )

    def _fixed(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        site = self._site(conn, t, e)
        table = t["issues"]
        # An ignored issue stays on the ignored list (closed); others go.
        conn.execute(update(table).where(self._issue(t, site, e.key)).values(open=False))
        conn.execute(delete(table).where(self._issue(t, site, e.key) & ~table.c.ignored))

    def _ignored(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        site = self._site(conn, t, e)
        conn.execute(update(t["issues"]).where(self._issue(t, site, e.key)).values(ignored=True))

    def _unignored(self, conn: Connection, t: Tables, e: Any, _nid: int) -> None:
        site = self._site(conn, t, e)
        table = t["issues"]
        conn.execute(update(table).where(self._issue(t, site, e.key)).values(ignored=False))
        conn.execute(delete(table).where(self._issue(t, site, e.key) & ~table.c.open))

    handlers = {
        event_type(ContentMonitor, "Registered"): _registered,
        event_type(ContentMonitor, "Enabled"): _enabled,
        event_type(ContentMonitor, "Disabled"): _disabled,
        event_type(ContentMonitor, "EmailsPaused"): _paused,
        event_type(ContentMonitor, "EmailsResumed"): _resumed,
        event_type(ContentMonitor, "AlertsSwitched"): _alerts,
        event_type(ContentMonitor, "CrawlStarted"): _started,
        event_type(ContentMonitor, "CrawlFinished"): _finished,
        event_type(ContentMonitor, "IssueFound"): _found,
        event_type(ContentMonitor, "IssueFixed"): _fixed,
        event_type(ContentMonitor, "Ignored"): _ignored,
        event_type(ContentMonitor, "Unignored"): _unignored,
    }

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        if scope.site_ids:
            for name in ("monitors", "issues"):
                table = tables[name]
                conn.execute(delete(table).where(table.c.site_uuid.in_(scope.site_ids)))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- check rows ------------------------------------------------------------------------
def check_rows_table(metadata: MetaData) -> Table:
    return Table(
        "content_checks",
        metadata,
        Column("site_uuid", Uuid, primary_key=True),
        Column("url_key", String(64), primary_key=True),
        Column("url", String(2048), nullable=False),
        Column("role", String(10), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("error_message", Text, nullable=True),
        Column("mixed", Boolean, nullable=False),
        Column("checked_at", DateTime(timezone=True), nullable=False),
    )


class LinkCheckRows:
    """The rows of each site's latest checks (the `CheckRows` port)."""

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table

    def setup(self) -> None:
        self.table.create(self.engine, checkfirst=True)

    def replace(self, site_id: UUID, checks: Sequence[LinkCheck], everything: bool) -> None:
        rows = {}
        for c in checks:
            key = _digest(c.url)
            rows[key] = {
                "site_uuid": site_id,
                "url_key": key,
                "url": c.url[:2048],
                "role": c.role.value,
                "status_code": c.status_code,
                "error_message": c.error_message,
                "mixed": c.mixed,
                "checked_at": c.checked_at,
            }
        t = self.table
        with self.engine.begin() as conn:
            if everything:
                conn.execute(delete(t).where(t.c.site_uuid == site_id))
            else:
                keys = list(rows)
                for start in range(0, len(keys), 500):
                    conn.execute(
                        delete(t).where(
                            (t.c.site_uuid == site_id) & t.c.url_key.in_(keys[start : start + 500])
                        )
                    )
            if rows:
                conn.execute(t.insert(), list(rows.values()))

    def forget(self, conn: Connection, site_ids: Sequence[UUID]) -> None:
        if site_ids:
            conn.execute(delete(self.table).where(self.table.c.site_uuid.in_(site_ids)))


# -- reads -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentIssue:
    id: int
    url: str
    status_code: int | None
    error_message: str | None
    issue_type: str
    checked_at: datetime | None
    ignored: bool


@dataclass(frozen=True)
class MonitoringStatus:
    enabled: bool
    root_path: str | None
    last_check_at: datetime | None
    is_initial_check: bool
    is_rechecking: bool
    has_issues: bool
    emails_paused: bool
    emails_paused_until: datetime | None
    alerts_on: bool
    running: bool = False  # a check is running now (queued otherwise, while initial)


@dataclass(frozen=True)
class ContentStats:
    total_checked: int
    broken_links_count: int
    mixed_content_count: int
    ignored_count: int
    ok_count: int


@dataclass(frozen=True)
class ContentReport:
    """A site's content monitoring as `GET /sites/:id/content` and the Content tab show it."""

    monitoring_status: MonitoringStatus
    broken_links: list[ContentIssue]
    mixed_content: list[ContentIssue]
    ignored_issues: list[ContentIssue]
    ok_links: list[ContentIssue]
    stats: ContentStats
    progress: CrawlSample | None = None  # how far the running check is (a sample)


class ContentReads:
    def __init__(
        self,
        engine: Engine,
        tables: Tables,
        checks: Table,
        progress: CrawlProgressRows | None = None,
    ) -> None:
        self.engine = engine
        self.monitors = tables["monitors"]
        self.issues = tables["issues"]
        self.checks = checks
        self.progress = progress

    def running(self, site_id: UUID) -> tuple[bool, CrawlSample | None] | None:
        """Whether a check of the site is running and how far it is; None while off."""
        m = self.monitors
        with self.engine.connect() as conn:
            row = conn.execute(
                select(m.c.enabled, m.c.running).where(m.c.site_uuid == site_id)
            ).first()
        if row is None or not row.enabled:
            return None
        if not row.running:
            return False, None
        return True, self.progress.get(site_id) if self.progress is not None else None

    def report(self, site_id: UUID, now: datetime, ok_limit: int = 1000) -> ContentReport | None:
        """The site's monitoring, or None while it is off (never enabled, or disabled)."""
        m, i, c = self.monitors, self.issues, self.checks
        with self.engine.connect() as conn:
            row = conn.execute(select(m).where(m.c.site_uuid == site_id)).first()
            if row is None or not row.enabled:
                return None
            issues = conn.execute(select(i).where(i.c.site_uuid == site_id).order_by(i.c.id)).all()
            total = conn.execute(
                select(func.count()).select_from(c).where(c.c.site_uuid == site_id)
            ).scalar_one()
            ok_rows = conn.execute(
                select(c)
                .where(
                    (c.c.site_uuid == site_id)
                    & (c.c.error_message.is_(None))
                    & (c.c.status_code < 400)
                    & ~c.c.mixed
                )
                .order_by(c.c.url)
                .limit(ok_limit)
            ).all()
            ok_count = conn.execute(
                select(func.count())
                .select_from(c)
                .where(
                    (c.c.site_uuid == site_id)
                    & (c.c.error_message.is_(None))
                    & (c.c.status_code < 400)
                    & ~c.c.mixed
                )
            ).scalar_one()
        found = [_issue(r) for r in issues]
        broken = [x for x in found if x.issue_type == BROKEN_LINK and not x.ignored]
        mixed = [x for x in found if x.issue_type == MIXED_CONTENT and not x.ignored]
        ignored = [x for x in found if x.ignored]
        paused_until = utc(row.emails_paused_until) if row.emails_paused_until else None
        paused = paused_until is not None and now < paused_until
        status = MonitoringStatus(
            enabled=True,
            root_path=row.root_path if row.root_path != "/" else None,
            last_check_at=utc(row.last_check_at) if row.last_check_at else None,
            is_initial_check=row.crawls == 0,
            is_rechecking=bool(row.running) and row.crawls > 0,
            has_issues=bool(broken or mixed),
            emails_paused=paused,
            emails_paused_until=paused_until if paused else None,
            alerts_on=bool(row.alerts_on),
            running=bool(row.running),
        )
        ok = [
            ContentIssue(
                id=int(r.url_key[:13], 16),  # stable for the URL; fits a JSON number
                url=r.url,
                status_code=r.status_code,
                error_message=None,
                issue_type="ok",
                checked_at=utc(r.checked_at),
                ignored=False,
            )
            for r in ok_rows
        ]
        stats = ContentStats(
            total_checked=int(total),
            broken_links_count=len(broken),
            mixed_content_count=len(mixed),
            ignored_count=len(ignored),
            ok_count=int(ok_count),
        )
        sample = None
        if row.running and self.progress is not None:
            sample = self.progress.get(site_id)
        return ContentReport(status, broken, mixed, ignored, ok, stats, sample)


def _issue(r: Any) -> ContentIssue:
    return ContentIssue(
        id=int(r.id),
        url=r.url,
        status_code=r.status_code,
        error_message=r.error_message,
        issue_type=r.issue_type,
        checked_at=utc(r.checked_at) if r.checked_at else None,
        ignored=bool(r.ignored),
    )
