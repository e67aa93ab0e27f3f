"""Retention on the clock (job `retention.prune`, daily): delivery logs are not kept forever.

- Kept mail (`mail_outbox`) that was sent or given up on more than
  `TINYLYTICS_DELIVERY_LOG_DAYS` days ago (default 30) is deleted; pending mail stays.
- Webhook deliveries that finished (delivered or gave up) that long ago are deleted:
  their events from the Webhooks store and their rows from the read model, under the
  erasure fence (no save to the store can interleave), as erasure removes them.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from application.clock import Firing, Job, JobKind, daily
from application.webhooks import Webhooks
from domain.deliveries import PENDING
from infrastructure.erasure import EventStoreRows
from infrastructure.mail_store import SqlMailStore
from projections.runner import ProjectionRunner
from projections.webhooks import WebhooksProjection

log = logging.getLogger("tinylytics.retention")

RETENTION_KIND = "retention.prune"
BATCH = 1000


class Retention:
    def __init__(
        self,
        mail: SqlMailStore,
        webhooks: Webhooks,
        webhook_rows: EventStoreRows,
        projections: ProjectionRunner,
        keep: timedelta,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.mail = mail
        self.webhooks = webhooks
        self.webhook_rows = webhook_rows
        self.projections = projections
        self.keep = keep
        self.now = now

    def job_kind(self) -> JobKind:
        return JobKind(RETENTION_KIND, self.on_clock, "delete delivery logs past their age")

    def on_clock(self, _firing: Firing) -> None:
        self.prune()

    def initial_job(self) -> Job:
        rule = daily(3, "UTC", minute=30)
        return Job(RETENTION_KIND, "delivery-logs", rule.next_after(self.now()), rule)

    def prune(self) -> tuple[int, int]:
        """Delete what is past its age; (mails, webhook deliveries) removed."""
        cutoff = self.now() - self.keep
        mails = self.mail.prune(cutoff)
        deliveries = 0
        while True:
            removed = self._prune_deliveries(cutoff)
            deliveries += removed
            if removed < BATCH:
                break
        if mails or deliveries:
            log.info("pruned %d mail(s) and %d webhook deliveries", mails, deliveries)
        return mails, deliveries

    def _prune_deliveries(self, cutoff: datetime) -> int:
        table = self.projections.tables[WebhooksProjection.name]["deliveries"]
        with self.webhooks.fence() as conn:
            assert conn is not None
            ids = list(
                conn.execute(
                    select(table.c.uuid)
                    .where(table.c.status != PENDING, table.c.updated_at < cutoff)
                    .order_by(table.c.updated_at)
                    .limit(BATCH)
                ).scalars()
            )
            if not ids:
                return 0
            self.webhook_rows.delete(conn, originator_ids=ids)
            conn.execute(table.delete().where(table.c.uuid.in_(ids)))
        return len(ids)
