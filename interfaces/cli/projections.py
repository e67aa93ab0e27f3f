"""`tinylytics projections …`: run, inspect and rebuild the read-model projections."""

import json
import logging
import sys
import threading
import time
from typing import Any

import click

from infrastructure.bootstrap import Container, bootstrap
from interfaces.cli.shared import Failure, admin_command, emit, stop_on_sigterm, wired
from interfaces.logs import configure_logging

log = logging.getLogger("tinylytics")


@click.group()
def projections() -> None:
    """Run, inspect and rebuild the read-model projections."""


@projections.command("run")
def projections_run() -> None:
    """Follow the event logs and keep every read model current, until stopped."""
    configure_logging()
    container = bootstrap()
    stop = threading.Event()
    stop_on_sigterm()
    log.info("projection runner started")
    try:
        container.projections.run(stop, container.wake)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        container.close()


@projections.command("status")
@admin_command
def projections_status(as_json: bool) -> None:
    """Each projection's position in its log, how far it lags, and how many events it set
    aside because it could not apply them (`projections quarantine` lists them)."""
    with wired(catch_up=False) as c:
        rows = c.projections.status()
    payload = {"projections": [row.__dict__ for row in rows]}
    text = "\n".join(
        f"{r.name:<12} {r.source:<14} position {r.position:>10}  head {r.head:>10}  lag {r.lag}"
        + (f"  quarantined {r.quarantined}" if r.quarantined else "")
        for r in rows
    )
    emit(as_json, payload, text)


def _known_projections(c: Container, names: tuple[str, ...]) -> list[str] | None:
    for n in names:
        if n not in c.projections.projections:
            known = ", ".join(c.projections.projections)
            raise Failure(f"no projection named {n!r} (known: {known})")
    return list(names) or None


@projections.command("quarantine")
@click.argument("names", nargs=-1)
@admin_command
def projections_quarantine(names: tuple[str, ...], as_json: bool) -> None:
    """The events a projection set aside because it could not apply them (all, or NAMES)."""
    with wired(catch_up=False) as c:
        found = c.projections.quarantined(_known_projections(c, names))
    payload = {"quarantined": [entry.__dict__ for entry in found]}
    text = "\n".join(
        f"{e.name:<12} notification {e.notification_id:>10}  {e.quarantined_at:%Y-%m-%d %H:%M:%S}"
        f"  {e.error}"
        for e in found
    )
    emit(as_json, payload, text or "no events set aside")


@projections.command("retry")
@click.argument("names", nargs=-1)
@admin_command
def projections_retry(names: tuple[str, ...], as_json: bool) -> None:
    """Try the events set aside again, after a fix (the projections that have some, or
    NAMES): each is rebuilt, so that its read models are what a clean replay gives."""
    with wired(catch_up=False) as c:
        done = c.projections.retry(_known_projections(c, names))
    payload = {"retried": [entry.__dict__ for entry in done]}
    text = "\n".join(
        f"{r.name:<12} {r.before} set aside before, {r.after} still failing" for r in done
    )
    emit(as_json, payload, text or "no events set aside")


@projections.command("rebuild")
@click.argument("name", required=False)
@admin_command
def projections_rebuild(name: str | None, as_json: bool) -> None:
    """Replay the log into fresh tables and swap them in (all projections, or NAME)."""
    with wired(catch_up=False) as c:
        names = [name] if name else list(c.projections.projections)
        for n in names:
            if n not in c.projections.projections:
                known = ", ".join(c.projections.projections)
                raise Failure(f"no projection named {n!r} (known: {known})")
        results = []
        for n in names:
            started = time.perf_counter()
            if sys.stdout.isatty() and not as_json:
                head = c.projections.head(c.projections.projections[n].source)
                with click.progressbar(length=max(head, 1), label=f"rebuilding {n}") as bar:
                    seen = [0]

                    def progress(
                        done: int, total: int, bar: Any = bar, seen: list[int] = seen
                    ) -> None:
                        bar.update(done - seen[0])
                        seen[0] = done

                    position = c.projections.rebuild(n, progress)
            else:
                position = c.projections.rebuild(n)
            seconds = time.perf_counter() - started
            results.append(
                {
                    "name": n,
                    "position": position,
                    "seconds": round(seconds, 3),
                    "events_per_second": round(position / seconds) if seconds > 0 else None,
                }
            )
            if not as_json:
                click.echo(f"rebuilt {n} up to position {position} in {seconds:.2f}s")
    if as_json:
        click.echo(json.dumps({"rebuilt": results}))
