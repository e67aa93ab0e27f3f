"""Background jobs with Dramatiq: a Redis broker in production, in-process when embedded."""

import threading
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, TimeLimit, default_middleware

from infrastructure.redis_link import redis_client
from infrastructure.settings import Settings


class _ProcessTimeLimit(TimeLimit):
    """One time-limit watcher for the whole process. Dramatiq's own starts a thread per
    broker that never ends; a process that builds many containers (the test suite builds
    one a test) kept a thousand of them, each waking every second."""

    _lock = threading.Lock()
    _started = False

    def after_process_boot(self, broker: Any) -> None:
        with self._lock:
            if not self._started:
                super().after_process_boot(broker)
                self._started = True


_TIME_LIMIT = _ProcessTimeLimit()


def _middleware() -> list[Middleware]:
    return [_TIME_LIMIT if m is TimeLimit else m() for m in default_middleware]


def make_broker(settings: Settings) -> dramatiq.Broker:
    """The broker every actor is declared on; set as Dramatiq's global broker."""
    broker: dramatiq.Broker
    if settings.redis_url:
        # A client that gives up quickly: a message that cannot be queued while Redis is
        # down is kept by its sender (the webhook dispatcher) and queued once it is back.
        broker = RedisBroker(
            client=redis_client(settings.redis_url),
            namespace=f"{settings.redis_prefix}:jobs",
            middleware=_middleware(),
        )
    else:
        broker = StubBroker(middleware=_middleware())
        broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    return broker


def start_worker(broker: dramatiq.Broker, threads: int = 2) -> dramatiq.Worker:
    """A worker in this process: the embedded default's way of running jobs."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker
