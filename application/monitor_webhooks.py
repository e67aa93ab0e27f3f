"""`monitor_down` and `monitor_up` webhooks: the dispatcher's triggers for the Monitoring log.

The webhook dispatcher (application/webhook_dispatch.py) follows the Monitoring log
with a position of its own, as it follows Tracking: one delivery per webhook and
change, never on a rebuild or a replay. A trigger turns "went down" and "recovered"
into the payload keys webhooks.md documents (`monitor`, `downtime`); the monitor's
integer id comes from the uptime read model, which the runner brings up to date
before its followers turn (until it has the monitor, the batch waits: NotReady).
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from application.webhook_dispatch import NotReady, Occurrence, Trigger
from domain.downtimes import downtime_payload
from domain.text import clean_event
from domain.webhooks import MONITOR_DOWN, MONITOR_UP

WENT_DOWN_TOPIC = "domain.monitors:Monitor.WentDown"
RECOVERED_TOPIC = "domain.monitors:Monitor.Recovered"

MonitorNumbers = Callable[[UUID], int | None]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def monitor_triggers(numbers: MonitorNumbers) -> Mapping[str, Trigger]:
    def number_of(monitor_id: UUID) -> int:
        found = numbers(monitor_id)
        if found is None:
            raise NotReady(f"monitor {monitor_id} is not in the uptime read model yet")
        return found

    def went_down(notification: Notification, app: Application[Any]) -> Occurrence | None:
        event: Any = clean_event(app.mapper.to_domain_event(notification))
        monitor: Any = app.repository.get(event.originator_id, version=event.originator_version)
        at = _utc(event.timestamp)
        parts = {
            "monitor": {"id": number_of(event.originator_id), "status": "down"},
            "downtime": downtime_payload(_utc(event.started_at), None, event.error, at),
        }
        return Occurrence(MONITOR_DOWN, monitor.site_id, at, notification.id, parts)

    def recovered(notification: Notification, app: Application[Any]) -> Occurrence | None:
        event: Any = clean_event(app.mapper.to_domain_event(notification))
        monitor: Any = app.repository.get(event.originator_id, version=event.originator_version)
        ended = _utc(event.at)
        parts = {
            "monitor": {"id": number_of(event.originator_id), "status": "up"},
            "downtime": downtime_payload(_utc(event.started_at), ended, event.error, ended),
        }
        return Occurrence(
            MONITOR_UP, monitor.site_id, _utc(event.timestamp), notification.id, parts
        )

    return {WENT_DOWN_TOPIC: went_down, RECOVERED_TOPIC: recovered}
