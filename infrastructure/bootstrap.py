"""One place that wires the applications, stores, projections and adapters together."""

import logging
import threading
from dataclasses import dataclass, field

import dramatiq
from sqlalchemy import Engine

from application.configuration import Configuration
from infrastructure.erasure import EventStoreRows, StoreEraser
from infrastructure.jobs import make_broker, start_worker
from infrastructure.key_usage import KeyUsage
from infrastructure.passwords import Argon2Passwords
from infrastructure.persistence import ensure_schema, event_store_env, read_model_engine
from infrastructure.rate_limits import ApiRateLimiter
from infrastructure.settings import Settings
from projections.accounts import AccountsProjection
from projections.api_keys import ApiKeysProjection
from projections.runner import ProjectionEngine
from projections.sites import SitesProjection

log = logging.getLogger("tinylytics")

CONFIGURATION_STORE = "configuration"


@dataclass
class Container:
    settings: Settings
    configuration: Configuration
    engine: Engine
    projections: ProjectionEngine
    key_usage: KeyUsage
    rate_limiter: ApiRateLimiter
    broker: dramatiq.Broker
    wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _worker: dramatiq.Worker | None = None

    def start_background(self) -> None:
        """Run the projections (and, when embedded, the jobs) inside this process."""
        if self.settings.run_projections_in_process:
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

    def close(self) -> None:
        self._stop.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._worker is not None:
            self._worker.stop()
        self.configuration.close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, fast_passwords: bool = False) -> Container:
    settings = settings or Settings.from_env()
    ensure_schema(settings)
    configuration = Configuration(
        env=event_store_env(settings, CONFIGURATION_STORE),
        passwords=Argon2Passwords(fast=fast_passwords),
    )
    engine = read_model_engine(settings)
    projections = ProjectionEngine(
        engine,
        sources={CONFIGURATION_STORE: configuration},
        projections=[AccountsProjection(), SitesProjection(), ApiKeysProjection()],
    )
    projections.setup()
    key_usage = KeyUsage(engine)
    key_usage.setup()
    configuration.use_eraser(
        StoreEraser(
            projections,
            stores=[EventStoreRows(settings, CONFIGURATION_STORE, configuration.name)],
            key_usage=key_usage,
        )
    )
    container = Container(
        settings=settings,
        configuration=configuration,
        engine=engine,
        projections=projections,
        key_usage=key_usage,
        rate_limiter=ApiRateLimiter(settings),
        broker=make_broker(settings),
    )
    configuration.on_saved(container.wake.set)
    return container
