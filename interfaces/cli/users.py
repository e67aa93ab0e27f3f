"""`tinylytics users …`: create and manage accounts."""

import click

from interfaces.cli.shared import admin_command, emit, wired


@click.group()
def users() -> None:
    """Create and manage accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--subscribed", is_flag=True, help="Start on the paid plan (premium features).")
@admin_command
def users_create(email: str, password: str, timezone: str, subscribed: bool, as_json: bool) -> None:
    """Register an account, its address confirmed (the operator vouches for it)."""
    with wired() as c:
        created = c.configuration.register_account(
            email, password, timezone, subscribed, confirmed=True
        )
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
        scope = c.erasure.delete_account(account.id)
    emit(
        as_json,
        {"deleted": True, "email": account.email, "sites": len(scope.site_ids)},
        f"erased {account.email} and {len(scope.site_ids)} site(s)",
    )
