"""One place that wires the applications, stores, projections and adapters together."""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import dramatiq
from sqlalchemy import Connection, Engine

from application.clock import Clock, Job
from application.collection import Collection
from application.configuration import Configuration
from application.confirmation import ConfirmationPurge
from application.content_checks import CHECK_KIND as CONTENT_CHECK_KIND
from application.content_checks import ContentChecks
from application.content_monitoring import CONTENT_TRIGGERS, ContentMonitoring
from application.enrichment import CountryResolver
from application.erasure import Erasure, ErasureScope
from application.insights import DAILY_KIND as INSIGHT_KIND
from application.insights import FIRST_KIND as FIRST_INSIGHT_KIND
from application.insights import DailyInsights, DefaultWriter, Insights, InsightWriter
from application.mail import Mailer, Postbox
from application.monitor_site_changes import MonitorSiteChanges
from application.monitor_webhooks import monitor_triggers
from application.monitoring import CHECK_KIND, DOMAIN_KIND, Monitoring
from application.premium import Premium
from application.reports import REPORT_KIND, WeeklyReports
from application.tracking import Tracking
from application.uptime_alerts import UptimeAlerts
from application.visitor_hashing import SeenHashes, VisitorHasher
from application.webhook_delivery import WebhookSender
from application.webhook_dispatch import (
    INSIGHTS_TRIGGERS,
    TRACKING_TRIGGERS,
    Followed,
    WebhookDispatch,
)
from application.webhooks import Webhooks, utcnow
from application.webmentions import Webmentions
from domain.addresses import AddressPolicy
from domain.bounded_cache import set_budget as set_cache_budget
from domain.content_monitoring import monitor_id
from domain.insights import insights_id
from domain.monitors import monitor_id_for
from infrastructure.actors import declare_webhook_actor
from infrastructure.avatars import AvatarStore
from infrastructure.crawler import SafeCrawler
from infrastructure.database_watch import DatabaseWatch
from infrastructure.drops import SqlDropCounter
from infrastructure.erasure import EventStoreRows, StoreEraser
from infrastructure.geo_refresh import FILE_NAME as GEO_FILE
from infrastructure.geo_refresh import GeoRefresh, this_host
from infrastructure.geoip import IpinfoLiteFallback, MmdbCountryLookup
from infrastructure.health import Health
from infrastructure.insight_writer import ChatCompletionsWriter
from infrastructure.jobs import make_broker, start_worker
from infrastructure.key_usage import KeyUsage
from infrastructure.login_throttle import LoginThrottle
from infrastructure.mail import make_mailer
from infrastructure.mail_store import SqlMailStore
from infrastructure.mail_templates import JinjaMailTemplates
from infrastructure.passwords import Argon2Passwords
from infrastructure.persistence import (
    ensure_schema,
    event_store_env,
    read_model_engine,
    store_unavailable,
)
from infrastructure.rate_limits import ApiRateLimiter, VisitorRateLimiter
from infrastructure.rdap import RdapLookup
from infrastructure.redis_link import RedisLink
from infrastructure.report_links import SignedReportLinks
from infrastructure.retention import Retention
from infrastructure.safe_http import SafeHttpClient
from infrastructure.salts import SqlSaltStore
from infrastructure.schedule import SqlSchedule
from infrastructure.secret_key import session_secret
from infrastructure.seen_hashes import MemorySeenHashes, RedisSeenHashes
from infrastructure.settings import Settings
from infrastructure.uptime_check import TOTAL_TIMEOUT as CHECK_TIMEOUT
from infrastructure.uptime_check import HttpChecker, uptime_policy
from infrastructure.uptime_store import SqlPositions, SqlProbes
from infrastructure.user_agents import UaParserAdapter
from infrastructure.webhooks import (
    WEBHOOKS_STORE,
    DramatiqDeliveryQueue,
    ErasureFence,
    WebhookEraser,
    host_resolver,
    webhook_policy,
)
from infrastructure.webmention_limits import WebmentionLimiter
from infrastructure.webmention_sources import SafeSourceReader
from projections.accounts import AccountsProjection
from projections.api_keys import ApiKeysProjection
from projections.base import ReadModelTables, for_reading
from projections.content import ContentProjection
from projections.insights import InsightsProjection
from projections.kudos import KudosProjection
from projections.mentions import MentionsProjection
from projections.reads import ReadModels
from projections.runner import PositionLocks, ProjectionRunner
from projections.sites import SitesProjection
from projections.traffic.projection import TrafficProjection
from projections.uptime import UptimeProjection, UptimeReads
from projections.webhooks import WebhookReads, WebhooksProjection

log = logging.getLogger("tinylytics")

CONFIGURATION_STORE = "configuration"
TRACKING_STORE = "tracking"
MONITORING_STORE = "monitoring"
INSIGHTS_STORE = "insights"
CONTENT_STORE = "content"


@dataclass
class Container:
    settings: Settings
    configuration: Configuration
    tracking: Tracking
    engine: Engine
    projections: ProjectionRunner
    reads: ReadModels
    session_secret: str  # signs the dashboard's session cookies
    login_throttle: LoginThrottle
    key_usage: KeyUsage
    drops: SqlDropCounter
    rate_limiter: ApiRateLimiter
    collection: Collection
    erasure: Erasure
    broker: dramatiq.Broker
    webhooks: Webhooks
    webhook_dispatch: WebhookDispatch
    webhook_sender: WebhookSender
    mailer: Mailer
    avatars: AvatarStore
    health: Health
    database: DatabaseWatch  # whether to stop waiting for a database that is down
    redis: RedisLink | None  # shared state's connection; None on the embedded default
    wake: threading.Event  # set by every save: the in-process projection runner wakes
    schedule: SqlSchedule
    clock: Clock
    mail_store: SqlMailStore
    postbox: Postbox
    reports: WeeklyReports
    report_links: SignedReportLinks
    templates: JinjaMailTemplates
    premium: Premium
    monitoring: Monitoring
    uptime_alerts: UptimeAlerts
    monitor_site_changes: MonitorSiteChanges
    insights: Insights
    daily_insights: DailyInsights
    webmentions: Webmentions
    # Jobs every install has (report sync, retention, the country database): put, if
    # missing, when a clock starts (their first due time counted from then).
    initial_jobs: Callable[[], list[Job]]
    content_monitoring: ContentMonitoring
    content: ContentChecks  # content monitoring's use cases: enable, check, crawl, alert
    confirmation_purge: ConfirmationPurge  # accounts never confirmed, erased after 7 days
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _worker: dramatiq.Worker | None = None

    def start_background(self, projections: bool = True, clock: bool | None = None) -> None:
        """Run the projections (and, when embedded, the jobs and the clock) here.

        The clock runs where the projections may (the `serve` parent, not its web
        workers) unless told otherwise. With Redis (production) the clock of `serve`
        only fires this host's own jobs (the country database); `tinylytics worker`
        runs the shared clock."""
        if projections and self.settings.run_projections_in_process:
            thread = threading.Thread(
                target=self.projections.run,
                args=(self._stop, self.wake),
                name="projections",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            log.info("projections run in this process")
        if not self.settings.redis_url:
            self._worker = start_worker(self.broker)
            log.info("background jobs run in this process")
        if projections if clock is None else clock:
            self.start_clock(shared=not self.settings.redis_url)

    def start_clock(self, shared: bool = True) -> None:
        """Fire due jobs in a thread of this process (every job, or only this host's)."""
        self.schedule.put(
            [j for j in self.initial_jobs() if shared or j.host is not None], replace=False
        )
        thread = threading.Thread(
            target=self.clock.run, args=(self._stop, not shared), name="clock", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        log.info("the clock runs in this process (%s jobs)", "all" if shared else "this host's")

    def close(self) -> None:
        self._stop.set()
        self.wake.set()
        self.clock.wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._worker is not None:
            self._worker.stop()
        self.collection.close()
        self.drops.flush()
        self.configuration.close()
        self.tracking.close()
        self.webhooks.close()
        self.monitoring.close()
        self.insights.close()
        self.content_monitoring.close()
        if self.redis is not None:
            self.redis.close()
        self.database.close()
        self.engine.dispose()


def _forget_monitors(
    conn: Any,
    site_ids: Sequence[UUID],
    probes: SqlProbes,
    schedule: SqlSchedule,
    rows: EventStoreRows,
) -> None:
    """Erasure of sites: their monitors' events, samples and check jobs."""
    monitor_ids = [monitor_id_for(s) for s in site_ids]
    rows.delete(conn, originator_ids=monitor_ids)
    probes.forget(conn, monitor_ids)
    schedule.clear(conn, CHECK_KIND, [str(m) for m in monitor_ids])
    schedule.clear(conn, DOMAIN_KIND, [str(m) for m in monitor_ids])


def _country_resolver(settings: Settings) -> CountryResolver:
    path = settings.geoip_path()
    if path is None:
        log.warning(
            "no country database yet (run scripts/geo-db or set TINYLYTICS_GEOIP_DB): "
            "countries are XX unless a client or CDN gives them"
        )
        path = settings.data_dir / "geo" / "geo-whois-asn-country.mmdb"
    # Created even when the file is missing: it rechecks the file every few minutes, so
    # a database fetched after start-up is used without a restart.
    local = MmdbCountryLookup(path)
    fallback = (
        IpinfoLiteFallback(settings.ipinfo_token, base_url=settings.ipinfo_url)
        if settings.ipinfo_token
        else None
    )
    return CountryResolver(local=local, fallback=fallback)


def _quiet_store_env(settings: Settings, store: str) -> dict[str, str]:
    """A store written a few times a site a day (insights): on PostgreSQL its pool keeps
    one connection open instead of five, and opens more only while they are needed."""
    env = event_store_env(settings, store)
    if settings.is_postgres:
        env.update(POSTGRES_POOL_SIZE="1", POSTGRES_MAX_OVERFLOW="4")
    return env


def _webmention_client(settings: Settings) -> SafeHttpClient:
    """The guarded client for Webmention sources: anyone may send a Webmention, so
    its own allowances (not the webhooks'), and one deadline for every hop."""
    seconds = float(settings.webmention_timeout_seconds)
    policy = AddressPolicy(
        allowed_networks=settings.webmention_allowed_networks,
        allowed_hosts=settings.webmention_allowed_hosts,
    )
    return SafeHttpClient(policy, connect_timeout=min(5.0, seconds), total_timeout=seconds)


def bootstrap(settings: Settings | None = None, fast_passwords: bool = False) -> Container:
    """Make every part once, each given its collaborators when it is made."""
    settings = settings or Settings.from_env()
    set_cache_budget(settings.cache_bytes)
    ensure_schema(settings)
    wake = threading.Event()
    stop = threading.Event()  # the container's: a shutdown also cuts a running crawl short
    engine = read_model_engine(settings)
    read_models = [
        AccountsProjection(),
        SitesProjection(),
        ApiKeysProjection(),
        TrafficProjection(),
        KudosProjection(),
        WebhooksProjection(),
        UptimeProjection(),
        InsightsProjection(),
        MentionsProjection(),
        ContentProjection(),
    ]
    # The tables first: the dispatcher's reads need them, and the runner needs the
    # dispatcher (its follower) when it is made.
    schema = ReadModelTables.of(read_models)
    tables = schema.by_projection
    broker = make_broker(settings)
    configuration = Configuration(
        env=event_store_env(settings, CONFIGURATION_STORE),
        passwords=Argon2Passwords(fast=fast_passwords),
        listeners=[wake.set],
    )
    tracking = Tracking(env=event_store_env(settings, TRACKING_STORE), listeners=[wake.set])
    insights = Insights(env=_quiet_store_env(settings, INSIGHTS_STORE), listeners=[wake.set])
    # Position locks hold rows of the read-model database only: the fence can take the
    # webhooks projection's before the runner (which reads the Webhooks log) exists.
    fence = ErasureFence(PositionLocks(engine))
    webhooks = Webhooks(
        env=event_store_env(settings, WEBHOOKS_STORE),
        accounts=configuration,
        policy=webhook_policy(settings),
        queue=DramatiqDeliveryQueue(broker, utcnow),
        fence=fence,
        base_url=settings.base_url,
        resolver=host_resolver,
        listeners=[wake.set],
    )
    content_monitoring = ContentMonitoring(
        env=event_store_env(settings, CONTENT_STORE), sites=configuration, listeners=[wake.set]
    )
    content_rows = EventStoreRows(settings, CONTENT_STORE, content_monitoring.name)
    # The readers made before the front door ask as its own readers do (for_reading).
    reading = for_reading(engine)
    webhook_reads = WebhookReads(reading, tables[WebhooksProjection.name], tables["sites"])
    # Made before the runner: the uptime check and its alerts are the runner's sources
    # and followers, and they use the schedule and the postbox.
    schedule = SqlSchedule(engine)
    schedule.setup()
    mail_store = SqlMailStore(engine, schedule)
    mail_store.setup()
    mailer = make_mailer(settings)
    postbox = Postbox(mail_store, mailer, schedule)
    templates = JinjaMailTemplates()
    secret = session_secret(settings, engine)
    links = SignedReportLinks(secret, settings.base_url)
    probes = SqlProbes(engine)
    probes.setup()
    positions = SqlPositions(engine)
    positions.setup()
    uptime_reads = UptimeReads(reading, tables[UptimeProjection.name])
    monitoring = Monitoring(
        env=event_store_env(settings, MONITORING_STORE),
        owners=configuration,
        checker=HttpChecker(SafeHttpClient(uptime_policy(settings), total_timeout=CHECK_TIMEOUT)),
        domains=RdapLookup(uptime_policy(settings), settings.rdap_url),
        probes=probes,
        schedule=schedule,
        listeners=[wake.set],
    )
    uptime_alerts = UptimeAlerts(monitoring, positions, postbox, templates, configuration, links)
    monitor_site_changes = MonitorSiteChanges(configuration, configuration, positions, monitoring)
    dispatch = WebhookDispatch(
        webhooks=webhooks,
        followed=[
            Followed(tracking, TRACKING_TRIGGERS),
            Followed(monitoring, monitor_triggers(uptime_reads.number_of)),
            Followed(insights, INSIGHTS_TRIGGERS),
            Followed(content_monitoring, CONTENT_TRIGGERS),
        ],
        reads=webhook_reads,
        configuration=configuration,
        fence=fence,
    )
    projections = ProjectionRunner(
        engine,
        sources={
            CONFIGURATION_STORE: configuration,
            TRACKING_STORE: tracking,
            WEBHOOKS_STORE: webhooks,
            MONITORING_STORE: monitoring,
            INSIGHTS_STORE: insights,
            CONTENT_STORE: content_monitoring,
        },
        projections=read_models,
        followers=[dispatch, uptime_alerts, monitor_site_changes],
        schema=schema,
    )
    projections.setup()
    dispatch.setup()
    uptime_alerts.setup()
    monitor_site_changes.setup()
    sender = WebhookSender(webhooks, SafeHttpClient(webhook_policy(settings)))
    # The queue sends to this actor by name (infrastructure/webhooks.py).
    declare_webhook_actor(broker, sender.attempt)
    key_usage = KeyUsage(engine)
    key_usage.setup()
    drops = SqlDropCounter(engine)
    drops.setup()
    salts = SqlSaltStore(engine)
    salts.setup()
    # One connection to Redis for what the web side shares through it (limits, seen
    # hashes): each call has an in-process stand-in while Redis is away.
    redis = RedisLink(settings.redis_url) if settings.redis_url else None
    seen: SeenHashes = (
        RedisSeenHashes(settings.redis_url, settings.redis_prefix, redis)
        if settings.redis_url
        else MemorySeenHashes()
    )
    monitor_rows = EventStoreRows(settings, MONITORING_STORE, monitoring.name)
    insight_rows = EventStoreRows(settings, INSIGHTS_STORE, insights.name)

    def erase_insights(conn: Connection, site_ids: Sequence[UUID]) -> None:
        """Each site's insights aggregate and its jobs."""
        insight_rows.delete(conn, originator_ids=[insights_id(s) for s in site_ids])
        for kind in (INSIGHT_KIND, FIRST_INSIGHT_KIND):
            schedule.clear(conn, kind, [str(s) for s in site_ids])

    def forget_content(conn: Connection, scope: ErasureScope) -> None:
        content_rows.delete(conn, originator_ids=[monitor_id(s) for s in scope.site_ids])

    eraser = StoreEraser(
        projections,
        configuration=EventStoreRows(settings, CONFIGURATION_STORE, configuration.name),
        tracking=EventStoreRows(settings, TRACKING_STORE, tracking.name),
        forgetters=[
            lambda conn, scope: key_usage.forget(conn, scope.key_ids),
            lambda conn, scope: drops.forget(conn, scope.site_ids),
            WebhookEraser(webhooks, EventStoreRows(settings, WEBHOOKS_STORE, webhooks.name)),
            lambda conn, scope: mail_store.forget(
                conn, scope.account_id if scope.whole_account else None, scope.site_ids
            ),
            lambda conn, scope: schedule.clear(conn, REPORT_KIND, [str(s) for s in scope.site_ids]),
            lambda conn, scope: _forget_monitors(
                conn, scope.site_ids, probes, schedule, monitor_rows
            ),
            lambda conn, scope: erase_insights(conn, scope.site_ids),
            lambda conn, scope: schedule.clear(
                conn, CONTENT_CHECK_KIND, [str(s) for s in scope.site_ids]
            ),
            lambda conn, scope: reads.content_checks.forget(conn, scope.site_ids),
            forget_content,
            lambda conn, scope: reads.content_progress.forget(conn, scope.site_ids),
        ],
    )
    collection = Collection(
        sites=configuration,
        user_agents=UaParserAdapter(),
        countries=_country_resolver(settings),
        hasher=VisitorHasher(salts, seen),
        limiter=VisitorRateLimiter(settings, redis),
        drops=drops,
        save=tracking.record,
        is_outage=store_unavailable,
        kudos=tracking,
        settings_head=configuration.recorder.max_notification_id,
    )
    avatars = AvatarStore(engine)
    avatars.setup()
    database = DatabaseWatch(engine)
    reads = ReadModels(projections, webhook_reads, uptime_reads)
    reports = WeeklyReports(
        sites=configuration,
        reads=reads.reports,
        postbox=postbox,
        templates=templates,
        links=links,
        schedule=schedule,
    )
    writer: InsightWriter = DefaultWriter()
    if settings.insights_llm_url:
        writer = ChatCompletionsWriter(
            settings.insights_llm_url,
            settings.insights_llm_model,
            settings.insights_llm_key,
            timeout=settings.insights_llm_timeout,
        )
    daily_insights = DailyInsights(
        insights=insights,
        sites=configuration,
        reads=reads.insights,
        writer=writer,
        postbox=postbox,
        templates=templates,
        links=links,
        schedule=schedule,
    )
    retention = Retention(
        mail_store,
        webhooks,
        EventStoreRows(settings, WEBHOOKS_STORE, webhooks.name),
        projections,
        keep=timedelta(days=settings.delivery_log_days),
    )
    webmentions = Webmentions(
        store=tracking,
        sites=configuration,
        collection=collection,
        schedule=schedule,
        reader=SafeSourceReader(_webmention_client(settings)),
        limiter=WebmentionLimiter(settings, redis),
    )
    reads.content_checks.setup()
    reads.content_progress.setup()
    content_checks = ContentChecks(
        monitoring=content_monitoring,
        crawler=SafeCrawler(webhook_policy(settings), stop=stop),
        rows=reads.content_checks,
        schedule=schedule,
        postbox=postbox,
        templates=templates,
        links=links,
        progress=reads.content_progress,
    )
    erasure = Erasure(configuration, eraser, collection.settings_changed)
    confirmation_purge = ConfirmationPurge(reads.accounts, configuration, erasure)
    kinds = [
        postbox.job_kind(),
        *reports.job_kinds(),
        retention.job_kind(),
        *monitoring.job_kinds(),
        *daily_insights.job_kinds(),
        webmentions.job_kind(),
        *content_checks.job_kinds(),
        confirmation_purge.job_kind(),
    ]
    makers: list[Callable[[], list[Job]]] = [
        reports.initial_jobs,
        daily_insights.initial_jobs,
        lambda: [retention.initial_job()],
        lambda: [confirmation_purge.initial_job()],
    ]
    host = this_host(settings.data_dir)
    if settings.geoip_refresh and settings.geoip_db is None:
        geo = GeoRefresh(settings.data_dir / "geo" / GEO_FILE, host)
        kinds.append(geo.job_kind())
        makers.append(lambda: [geo.initial_job()])

    def initial_jobs() -> list[Job]:
        return [job for make in makers for job in make()]

    clock = Clock(schedule, kinds, host=host, threads=settings.clock_threads)
    return Container(
        settings=settings,
        configuration=configuration,
        tracking=tracking,
        engine=engine,
        projections=projections,
        reads=reads,
        session_secret=secret,
        login_throttle=LoginThrottle(settings, secret),
        key_usage=key_usage,
        drops=drops,
        rate_limiter=ApiRateLimiter(settings, redis),
        collection=collection,
        erasure=erasure,
        broker=broker,
        webhooks=webhooks,
        webhook_dispatch=dispatch,
        webhook_sender=sender,
        mailer=mailer,
        avatars=avatars,
        health=Health(engine, projections, database, redis),
        database=database,
        redis=redis,
        wake=wake,
        schedule=schedule,
        clock=clock,
        mail_store=mail_store,
        postbox=postbox,
        reports=reports,
        report_links=links,
        templates=templates,
        premium=Premium(configuration),
        monitoring=monitoring,
        uptime_alerts=uptime_alerts,
        monitor_site_changes=monitor_site_changes,
        insights=insights,
        daily_insights=daily_insights,
        webmentions=webmentions,
        initial_jobs=initial_jobs,
        content_monitoring=content_monitoring,
        content=content_checks,
        confirmation_purge=confirmation_purge,
        _stop=stop,
    )
