"""`tinylytics serve` and `tinylytics worker`: the processes that run Tinylytics."""

import logging
import threading

import click

from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings, SettingsError
from interfaces.cli.shared import stop_on_sigterm
from interfaces.logs import configure_logging

log = logging.getLogger("tinylytics")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web processes sharing the port (the parent runs projections and jobs);"
    " more than one needs REDIS_URL.",
)
def serve(host: str, port: int, threads: int, workers: int) -> None:
    """Run the web server (and, with no REDIS_URL, the projections and jobs)."""
    from interfaces import server

    configure_logging()
    try:
        settings = Settings.from_env()
        server.check_port(host, port)
    except (SettingsError, OSError) as error:
        raise click.ClickException(str(error)) from None
    if workers > 1 and not settings.redis_url:
        # Rate limits and the seen-hash set of unique visitors live in each process's
        # memory without Redis: N processes would allow N times every limit and count
        # a visitor unique once per process (docs/deploy.md).
        raise click.ClickException(
            f"--workers {workers} needs REDIS_URL: without Redis, rate limits and unique"
            " visitors are kept in one process's memory, so serve with one worker"
            " (raise --threads instead) or set REDIS_URL"
        )
    store = "PostgreSQL" if settings.is_postgres else str(settings.data_dir)
    click.echo(
        f"Tinylytics is listening on http://{host}:{port} (data: {store}).\n"
        "First steps, in another terminal:\n"
        "  tinylytics users create --email you@example.com --password 'a long password'\n"
        "  tinylytics sites create --owner you@example.com --url https://example.com\n"
        "  tinylytics keys create --owner you@example.com --name cli --access read_only\n"
        f"  curl -H 'Authorization: Bearer <key>' http://{host}:{port}/api/v1/me"
    )
    server.run(host, port, threads, workers)


@click.command()
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--clock/--no-clock",
    default=True,
    show_default=True,
    help="Also fire due jobs (reports, mail retries, retention); any number may.",
)
def worker(threads: int, clock: bool) -> None:
    """Run a Dramatiq worker for background jobs and the clock (production: needs REDIS_URL)."""
    import dramatiq

    configure_logging()
    container = bootstrap()  # declares every actor on its broker
    if not container.settings.redis_url:
        container.close()
        raise click.ClickException(
            "the worker needs REDIS_URL; without Redis, `tinylytics serve` runs jobs itself"
        )
    running = dramatiq.Worker(container.broker, worker_threads=threads)
    running.start()
    log.info("worker started with %d threads on queues %s", threads, container.broker.queues)
    if clock:
        container.start_clock(shared=True)
    stop_on_sigterm()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        container.close()
