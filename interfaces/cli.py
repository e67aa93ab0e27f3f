"""The `tinylytics` command: run the server, the worker and the projections; administer it.

Every administrative command takes `--json` for scripts. A command that fails says
why on stderr (and as `{"error": ...}` with `--json`) and exits non-zero.
"""

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click

from application.sites import SiteChanges
from domain.errors import DomainError
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings, SettingsError
from interfaces.logs import configure_logging
from projections.sites import SitesProjection

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("tinylytics")


class Failure(Exception):
    """A command could not do what was asked; the message says why."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(payload, default=_jsonable))
    else:
        click.echo(text)


def admin_command(func: F) -> F:
    """Add `--json` and turn domain and settings errors into a clear message and exit 1."""

    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @wraps(func)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        try:
            return func(*args, as_json=as_json, **kwargs)
        except (DomainError, SettingsError, Failure) as error:
            message = getattr(error, "message", None) or str(error)
            if as_json:
                click.echo(json.dumps({"error": message}))
            click.echo(f"error: {message}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@contextmanager
def wired(catch_up: bool = True) -> Iterator[Container]:
    container = bootstrap()
    try:
        yield container
        if catch_up:
            # So that the next command (and the API) sees what this one did at once.
            container.projections.catch_up()
    finally:
        container.close()


def _on_off(value: str | None) -> bool | None:
    return None if value is None else value == "on"


ON_OFF = click.Choice(["on", "off"])


@click.group()
@click.version_option(package_name="tinylytics")
def main() -> None:
    """Tinylytics: privacy-first web analytics."""


# -- running ----------------------------------------------------------------------------
def _stop_on_sigterm() -> None:
    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@main.command()
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


@main.command()
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

    from interfaces import actors  # noqa: F401  (declares the actors on the broker)

    configure_logging()
    container = bootstrap()
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
    _stop_on_sigterm()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        container.close()


# -- projections ------------------------------------------------------------------------
@main.group()
def projections() -> None:
    """Run, inspect and rebuild the read-model projections."""


@projections.command("run")
def projections_run() -> None:
    """Follow the event logs and keep every read model current, until stopped."""
    configure_logging()
    container = bootstrap()
    stop = threading.Event()
    _stop_on_sigterm()
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


# -- users ------------------------------------------------------------------------------
@main.group()
def users() -> None:
    """Create and manage accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--subscribed", is_flag=True, help="Start on the paid plan (premium features).")
@admin_command
def users_create(email: str, password: str, timezone: str, subscribed: bool, as_json: bool) -> None:
    """Register an account."""
    with wired() as c:
        created = c.configuration.register_account(email, password, timezone, subscribed)
        account = c.configuration.get_account(created.uuid)
    emit(
        as_json,
        {"id": created.id, "email": account.email},
        f"created user {account.email} (id {created.id})",
    )


def _plan(email: str, as_json: bool, subscribed: bool) -> None:
    with wired() as c:
        account = c.configuration.find_account(email)
        c.configuration.set_subscribed(account.id, subscribed)
    state = "subscribed" if subscribed else "unsubscribed"
    emit(as_json, {"email": account.email, "is_subscribed": subscribed}, f"{account.email} {state}")


@users.command("subscribe")
@click.option("--email", required=True)
@admin_command
def users_subscribe(email: str, as_json: bool) -> None:
    """Put an account on the paid plan."""
    _plan(email, as_json, True)


@users.command("unsubscribe")
@click.option("--email", required=True)
@admin_command
def users_unsubscribe(email: str, as_json: bool) -> None:
    """Put an account back on the free plan."""
    _plan(email, as_json, False)


@users.command("delete")
@click.option("--email", required=True)
@admin_command
def users_delete(email: str, as_json: bool) -> None:
    """Erase an account, its sites, keys and all their data, from every store."""
    with wired() as c:
        account = c.configuration.find_account(email)
        scope = c.configuration.delete_account(account.id)
    emit(
        as_json,
        {"deleted": True, "email": account.email, "sites": len(scope.site_ids)},
        f"erased {account.email} and {len(scope.site_ids)} site(s)",
    )


# -- sites ------------------------------------------------------------------------------
@main.group()
def sites() -> None:
    """Create, change and list sites."""


def _site_payload(site: Any, number: int) -> dict[str, Any]:
    return {
        "id": number,
        "uid": site.uid,
        "url": site.url,
        "label": site.label,
        "timezone": site.timezone,
        "public": site.is_public,
        "unique": site.tracks_uniques,
        "any_domain": site.allows_any_domain,
        "ignored_paths": list(site.ignored_paths),
        "active": not site.is_archived,
    }


@sites.command("create")
@click.option("--owner", required=True, help="The owner's email.")
@click.option("--url", required=True)
@click.option("--label")
@click.option("--timezone", default="UTC", show_default=True)
@admin_command
def sites_create(owner: str, url: str, label: str | None, timezone: str, as_json: bool) -> None:
    """Register a site for an account."""
    with wired() as c:
        account = c.configuration.find_account(owner)
        created = c.configuration.register_site(account.id, url, label, timezone)
        site = c.configuration.get_site(created.uuid)
    emit(
        as_json,
        {"id": created.id, "uid": created.uid, "url": site.url, "label": site.label},
        f"created site {site.url} (id {created.id}, uid {created.uid})",
    )


@sites.command("update")
@click.option("--id", "number", required=True, type=click.IntRange(min=1))
@click.option("--label")
@click.option("--url")
@click.option("--timezone")
@click.option("--public", type=ON_OFF, help="Public stats page.")
@click.option("--unique", type=ON_OFF, help="Unique-hit tracking.")
@click.option("--any-domain", type=ON_OFF, help="Accept hits from any domain.")
@click.option("--ignore-path", "ignore_paths", multiple=True, help="Repeat for each pattern.")
@click.option("--clear-ignored-paths", is_flag=True, help="Remove every ignored path pattern.")
@click.option("--archived", type=ON_OFF)
@admin_command
def sites_update(
    number: int,
    label: str | None,
    url: str | None,
    timezone: str | None,
    public: str | None,
    unique: str | None,
    any_domain: str | None,
    ignore_paths: tuple[str, ...],
    clear_ignored_paths: bool,
    archived: str | None,
    as_json: bool,
) -> None:
    """Change a site's settings; every change is applied, or none."""
    if ignore_paths and clear_ignored_paths:
        raise Failure("use --ignore-path or --clear-ignored-paths, not both")
    paths = [] if clear_ignored_paths else (list(ignore_paths) if ignore_paths else None)
    changes = SiteChanges(
        url=url,
        label=label,
        timezone=timezone,
        public=_on_off(public),
        unique_tracking=_on_off(unique),
        any_domain=_on_off(any_domain),
        ignored_paths=paths,
        archived=_on_off(archived),
    )
    with wired() as c:
        site = c.configuration.site_by_number(number)
        site = c.configuration.change_site(site.id, changes)
    emit(as_json, _site_payload(site, number), f"updated site {site.url} (id {number})")


@sites.command("list")
@click.option("--owner", help="Only this owner's sites (email).")
@admin_command
def sites_list(owner: str | None, as_json: bool) -> None:
    """List sites, all or one owner's."""
    with wired() as c:
        owner_id = c.configuration.find_account(owner).id if owner else None
        c.projections.catch_up()
        with c.engine.connect() as conn:
            rows = SitesProjection.for_owner(conn, c.projections.tables["sites"], owner_id)
    listed = [
        {
            "id": r.id,
            "uid": r.uid,
            "url": r.url,
            "label": r.label,
            "timezone": r.timezone,
            "public": r.public,
            "unique": r.unique_tracking,
            "any_domain": r.any_domain,
            "ignored_paths": r.ignored_paths,
            "active": r.active,
        }
        for r in rows
    ]
    text = "\n".join(f"{s['id']:>6}  {s['uid']}  {s['url']}  {s['label']}" for s in listed)
    emit(as_json, {"sites": listed}, text or "no sites")


# -- keys -------------------------------------------------------------------------------
@main.group()
def keys() -> None:
    """Issue and revoke API keys."""


@keys.command("create")
@click.option("--owner", required=True, help="The owner's email.")
@click.option("--name", required=True)
@click.option("--access", required=True, type=click.Choice(["read_only", "full_access"]))
@admin_command
def keys_create(owner: str, name: str, access: str, as_json: bool) -> None:
    """Issue a key; its secret is printed once and never stored."""
    with wired() as c:
        account = c.configuration.find_account(owner)
        issued = c.configuration.issue_key(account.id, name, access)
    emit(
        as_json,
        {"key": issued.secret, "id": issued.id, "name": issued.name, "access": issued.access},
        f"{issued.secret}\n(key {issued.name!r}, {issued.access}; shown once, keep it safe)",
    )


@keys.command("revoke")
@click.option("--owner", required=True, help="The owner's email.")
@click.option("--name", required=True)
@admin_command
def keys_revoke(owner: str, name: str, as_json: bool) -> None:
    """Revoke a key: it answers 401 from now on."""
    with wired() as c:
        account = c.configuration.find_account(owner)
        key = c.configuration.revoke_key(account.id, name)
    emit(as_json, {"revoked": True, "name": key.name}, f"revoked key {key.name!r}")


from interfaces import cli_webhooks  # noqa: E402, F401  (registers `tinylytics webhooks`)


# -- webring ----------------------------------------------------------------------------
@main.group()
def webring() -> None:
    """Curate the webring that `?webring` pages link to."""


@webring.command("add")
@click.option("--url", required=True, help="The member site's URL.")
@click.option("--label")
@click.option("--avatar", type=click.Path(dir_okay=False), help="An image file for the avatar.")
@admin_command
def webring_add(url: str, label: str | None, avatar: str | None, as_json: bool) -> None:
    """Add (or update) a member."""
    from pathlib import Path

    with wired() as c:
        digest = c.avatars.add(Path(avatar)) if avatar else None
        added = c.configuration.add_webring_member(url, label, digest)
        member = c.configuration.webring().members[added]
    emit(
        as_json,
        {"url": added, "label": member["label"], "avatar": digest},
        f"webring member {added} ({member['label']})",
    )


@webring.command("remove")
@click.option("--url", required=True)
@admin_command
def webring_remove(url: str, as_json: bool) -> None:
    """Remove a member."""
    with wired() as c:
        removed = c.configuration.remove_webring_member(url)
    emit(as_json, {"removed": True, "url": removed}, f"removed {removed} from the webring")


@webring.command("list")
@admin_command
def webring_list(as_json: bool) -> None:
    """List the members."""
    with wired(catch_up=False) as c:
        members = c.configuration.webring().members
    listed = [{"url": u, "label": m["label"], "avatar": m["avatar"]} for u, m in members.items()]
    text = "\n".join(f"{m['url']}  {m['label']}" for m in listed)
    emit(as_json, {"members": listed}, text or "the webring is empty")


from interfaces import cli_jobs  # noqa: E402, F401  (registers `jobs`, `mail`, `reports`)
