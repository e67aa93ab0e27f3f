"""What `/healthz` reports: each dependency, and whether this node can serve.

A load balancer takes a node out when it answers 503: that is the case when the
database does not answer (nothing can be read or kept). Redis down leaves the node
serving on in-process limits (infrastructure/redis_link.py): it is reported as
`degraded`, still 200, since taking every node out for it would stop collection
that works. Projection lag is reported, never a reason to take a node out: the
read models catch up on their own.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from infrastructure.database_watch import DatabaseWatch
from infrastructure.redis_link import RedisLink
from projections.runner import ProjectionRunner

log = logging.getLogger("tinylytics.health")

OK, DEGRADED, DOWN = "ok", "degraded", "down"


@dataclass(frozen=True)
class HealthReport:
    status: str  # ok, degraded (serving without Redis) or down (no database)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def serving(self) -> bool:
        return self.status != DOWN


class Health:
    def __init__(
        self,
        engine: Engine,
        projections: ProjectionRunner,
        database: DatabaseWatch,
        redis: RedisLink | None,
    ) -> None:
        self.engine = engine
        self.projections = projections
        self.database = database
        self.redis = redis

    def report(self) -> HealthReport:
        checks: dict[str, dict[str, Any]] = {"database": self._database()}
        database_up = checks["database"]["status"] == OK
        if database_up:
            checks["projections"] = self._projections()
        if self.redis is not None:
            checks["redis"] = self._redis(self.redis)
        if not database_up:
            status = DOWN
        elif self.redis is not None and checks["redis"]["status"] != OK:
            status = DEGRADED
        else:
            status = OK
        return HealthReport(status, checks)

    def _database(self) -> dict[str, Any]:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as error:
            # The reason goes to the log, not to whoever asks (it may name hosts).
            log.warning("health: the database does not answer (%s)", type(error).__name__)
            self.database.failed()
            return {"status": DOWN}
        self.database.answered()
        return {"status": OK}

    def _projections(self) -> dict[str, Any]:
        try:
            rows = self.projections.status()
        except Exception as error:
            log.warning("health: projection status unavailable (%s)", type(error).__name__)
            return {"status": "unknown"}
        return {"status": OK, "lag": sum(row.lag for row in rows)}

    @staticmethod
    def _redis(link: RedisLink) -> dict[str, Any]:
        found: dict[str, Any] = {"status": OK if link.check() else DOWN}
        degraded = sum(link.degraded_calls().values())
        if degraded:
            found["degraded_calls"] = degraded
        return found
