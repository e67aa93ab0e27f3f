"""Retention on the clock: sent mail and finished webhook deliveries older than
TINYLYTICS_DELIVERY_LOG_DAYS are deleted every night; what is pending stays."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from application.mail import Message
from domain.errors import NotFound
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.mail_store import mail_outbox
from infrastructure.retention import RETENTION_KIND
from infrastructure.settings import Settings
from tests.conftest import World
from tests.webhook_helpers import subscriber


@pytest.fixture
def container(env: dict[str, str]) -> Iterator[Container]:
    env = {**env, "TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1"}
    wired = bootstrap(Settings.from_env(env), fast_passwords=True)
    yield wired
    wired.close()


def _deliveries(container: Container) -> int:
    table = container.projections.tables["webhooks"]["deliveries"]
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def _mails(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(mail_outbox)).scalar() or 0)


def test_delivery_logs_past_their_age_are_pruned_every_night(container: Container) -> None:
    world = World(container)
    start = datetime(2026, 10, 1, 12, tzinfo=UTC)
    with subscriber() as sub, time_machine.travel(start, tick=False) as traveller:
        owner = world.account(is_subscribed=True, confirmed=True)
        hook = container.webhooks.create_webhook(owner.uuid, sub.url(), ["new_hit"])
        old = container.webhooks.send_test(hook.uuid, enqueue=False)
        container.webhook_sender.attempt(old.id, 1)  # delivered
        waiting = container.webhooks.send_test(hook.uuid, enqueue=False)  # stays pending
        container.postbox.post(Message("owner@example.com", "Old", "old"), "old", "test")
        traveller.move_to(start + timedelta(days=25))
        recent = container.webhooks.send_test(hook.uuid, enqueue=False)
        container.webhook_sender.attempt(recent.id, 1)
        container.postbox.post(Message("owner@example.com", "New", "new"), "new", "test")
        container.projections.catch_up()
        assert (_deliveries(container), _mails(container)) == (3, 2)

        # The nightly job, on the clock: 30 days after the first ones, at 03:30 UTC.
        traveller.move_to(start + timedelta(days=31))
        container.schedule.put(container.initial_jobs(), replace=False)
        job = container.schedule.get(RETENTION_KIND, "delivery-logs")
        assert job is not None and job.due_at == datetime(2026, 11, 2, 3, 30, tzinfo=UTC)
        traveller.move_to(job.due_at + timedelta(seconds=1))
        container.clock.tick()
        container.projections.catch_up()

        assert _deliveries(container) == 2
        assert _mails(container) == 1
        with pytest.raises(NotFound):
            container.webhooks.get_delivery(old.uuid)
        assert container.webhooks.get_delivery(waiting.uuid).is_pending
        assert container.webhooks.get_delivery(recent.uuid).status == "delivered"
        (kept,) = container.mail_store.recent()
        assert kept.message.subject == "New"
        # Rebuilding the read model brings nothing back: the events are gone too.
        container.projections.rebuild("webhooks")
        assert _deliveries(container) == 2
        # And the job comes round again the next night.
        again = container.schedule.get(RETENTION_KIND, "delivery-logs")
        assert again is not None and again.due_at == datetime(2026, 11, 3, 3, 30, tzinfo=UTC)
