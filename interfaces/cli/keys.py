"""`tinylytics keys …`: issue and revoke API keys."""

import click

from interfaces.cli.shared import admin_command, emit, wired


@click.group()
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
