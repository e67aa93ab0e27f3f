"""Dramatiq actors: the background jobs a worker runs.

Each actor is declared on the broker of the container that does the work (by
infrastructure/bootstrap.py), bound to that container's services: the in-process
worker of the embedded default, `tinylytics worker` and the tests each get their own.
Importing this module declares nothing by itself; `tinylytics worker` consumes every
queue its container declared. What sends a message names the actor and its queue
(`WEBHOOK_QUEUE`, `DELIVER_WEBHOOK`), so it can be made before the actor's service.
"""

from collections.abc import Callable
from typing import Any

import dramatiq

WEBHOOK_QUEUE = "webhooks"
DELIVER_WEBHOOK = "deliver_webhook"


def declare_webhook_actor(
    broker: dramatiq.Broker, attempt: Callable[[int, int], Any]
) -> dramatiq.Actor[[int, int], None]:
    """`deliver_webhook(number, attempt)`: one attempt at one webhook delivery.

    Dramatiq's own retries are off (the sender schedules each retry itself, on the
    documented schedule); the time limit leaves room for the 30-second request.
    """

    def deliver_webhook(number: int, attempt_number: int) -> None:
        attempt(number, attempt_number)

    return dramatiq.Actor(
        deliver_webhook,
        broker=broker,
        actor_name=DELIVER_WEBHOOK,
        queue_name=WEBHOOK_QUEUE,
        priority=0,
        options={"max_retries": 0, "time_limit": 120_000},
    )
