"""`tinylytics webring …`: curate the webring that `?webring` pages link to."""

from pathlib import Path

import click

from interfaces.cli.shared import admin_command, emit, wired


@click.group()
def webring() -> None:
    """Curate the webring that `?webring` pages link to."""


@webring.command("add")
@click.option("--url", required=True, help="The member site's URL.")
@click.option("--label")
@click.option("--avatar", type=click.Path(dir_okay=False), help="An image file for the avatar.")
@admin_command
def webring_add(url: str, label: str | None, avatar: str | None, as_json: bool) -> None:
    """Add (or update) a member."""
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
