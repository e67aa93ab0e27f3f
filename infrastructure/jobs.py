"""Background jobs with Dramatiq: a Redis broker in production, in-process when embedded."""

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from infrastructure.redis_link import redis_client
from infrastructure.settings import Settings


def make_broker(settings: Settings) -> dramatiq.Broker:
    """The broker every actor is declared on; set as Dramatiq's global broker."""
    broker: dramatiq.Broker
    if settings.redis_url:
        # A client that gives up quickly: a message that cannot be queued while Redis is
        # down is kept by its sender (the webhook dispatcher) and queued once it is back.
        broker = RedisBroker(
            client=redis_client(settings.redis_url), namespace=f"{settings.redis_prefix}:jobs"
        )
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    return broker


def start_worker(broker: dramatiq.Broker, threads: int = 2) -> dramatiq.Worker:
    """A worker in this process: the embedded default's way of running jobs."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker
