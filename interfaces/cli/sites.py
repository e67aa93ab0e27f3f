"""`tinylytics sites …`: create, change and list sites."""

from typing import Any

import click

from application.sites import SiteChanges
from domain.errors import DomainError
from domain.sites import names_site
from interfaces.cli.shared import ON_OFF, Failure, admin_command, emit, on_off, wired


@click.group()
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
@click.option(
    "--allow-query-param",
    "query_params",
    multiple=True,
    help="A query parameter hit URLs keep (repeat for each; paths never keep any).",
)
@click.option("--clear-query-params", is_flag=True, help="Hit URLs keep no query parameter.")
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
    query_params: tuple[str, ...],
    clear_query_params: bool,
    archived: str | None,
    as_json: bool,
) -> None:
    """Change a site's settings; every change is applied, or none."""
    if ignore_paths and clear_ignored_paths:
        raise Failure("use --ignore-path or --clear-ignored-paths, not both")
    paths = [] if clear_ignored_paths else (list(ignore_paths) if ignore_paths else None)
    if query_params and clear_query_params:
        raise Failure("use --allow-query-param or --clear-query-params, not both")
    allowed = [] if clear_query_params else (list(query_params) if query_params else None)
    changes = SiteChanges(
        url=url,
        label=label,
        timezone=timezone,
        public=on_off(public),
        unique_tracking=on_off(unique),
        any_domain=on_off(any_domain),
        ignored_paths=paths,
        allowed_query_params=allowed,
        archived=on_off(archived),
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
        c.reads.settle()
        rows = c.reads.sites.of_owner(owner_id)
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


@sites.command("delete")
@click.argument("target")
@click.option(
    "--confirm",
    "confirmation",
    required=True,
    help="The site's domain again: the site and all its data are erased.",
)
@click.option("--owner", help="The owner's email (to tell apart sites with one domain).")
@admin_command
def sites_delete(target: str, confirmation: str, owner: str | None, as_json: bool) -> None:
    """Erase one site (by uid or domain) and all its data, from every store; the
    account and its other sites stay."""
    with wired() as c:
        owner_id = c.configuration.find_account(owner).id if owner else None
        site = _site_named(c, target, owner_id)
        c.erasure.delete_site(site.id, confirmation, owner_id)
        email = c.configuration.get_account(site.owner_id).email
    emit(
        as_json,
        {"deleted": True, "uid": site.uid, "url": site.url, "owner": email},
        f"erased site {site.url} (uid {site.uid}) of {email} and all its data",
    )


def _site_named(c: Any, target: str, owner_id: Any) -> Any:
    """The site whose uid is `target`, or else the one site (of the owner, if given)
    whose domain it is."""
    try:
        return c.configuration.site_by_uid(target)
    except DomainError:
        pass
    c.reads.settle()
    found = [r for r in c.reads.sites.of_owner(owner_id) if names_site(r.url, target)]
    if not found:
        raise Failure(f"No site with uid or domain {target!r}")
    if len(found) > 1:
        raise Failure(f"{len(found)} sites have the domain {target!r}: give the uid or --owner")
    return c.configuration.get_site(found[0].uuid)
