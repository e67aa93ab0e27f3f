"""Confirmation gates (issue 19 item 12, getting_started.md): an account must confirm its
address to unlock kudos and uptime monitoring; accounts the operator makes with the
admin CLI are confirmed; an account never confirmed is erased 7 days after sign-up, by
a job on the clock, with the same erasure as account deletion."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner
from flask.testing import FlaskClient

from application.confirmation import PURGE_KEY, PURGE_KIND
from domain.confirmation import KUDOS_LOCKED, UNCONFIRMED_DAYS
from domain.errors import DomainError, NotFound
from domain.monitors import NOT_CONFIRMED
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from interfaces.cli import main
from tests.conftest import World, bearer
from tests.dashboard.conftest import Browser, text
from tests.test_erasure import assert_erased, make_person, traces
from tests.tracking_helpers import CHROME

START = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)


@pytest.fixture
def person(app: Any, container: Container) -> Browser:
    return Browser(app.test_client(), container)


def api_kudo(client: FlaskClient, site: Any, key: str, path: str = "/post") -> Any:
    return client.post(
        f"/api/v1/sites/{site.id}/kudos",
        headers={**bearer(key), "Content-Type": "application/json"},
        data=json.dumps({"path": path}),
    )


def browser_kudo(client: FlaskClient, site: Any, path: str = "/post") -> Any:
    return client.post(
        f"/collect/{site.uid}",
        data=json.dumps({"k": "kudo", "u": f"https://example.com{path}", "p": path}),
        headers={
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": CHROME,
            "Origin": "https://example.com",
        },
    )


def a_moment_later(container: Container) -> None:
    """As if SETTINGS_CHECK_SECONDS had passed: collection looks at the configuration
    log again (and drops what it cached of sites and owners if it moved)."""
    container.collection._next_head_check = 0.0


def kudos_of(container: Container, site: Any) -> int:
    container.projections.catch_up()
    total, _ = container.reads.kudos.page(site.uuid, None, None, None, None, 100, 0)
    return int(total)


# -- kudos ---------------------------------------------------------------------------------
def test_an_unconfirmed_owners_site_takes_no_kudo_until_the_address_is_confirmed(
    client: FlaskClient, container: Container, world: World
) -> None:
    owner = world.account("new@example.com")  # as sign-up makes it: not confirmed
    site = world.site(owner, "https://example.com")
    key = world.key(owner, "writer", "full_access")

    refused = api_kudo(client, site, key)
    assert refused.status_code == 403
    assert refused.json == {"error": KUDOS_LOCKED, "email_confirmed": False}
    quiet = browser_kudo(client, site)  # the widget re-enables its button, as when archived
    assert (quiet.status_code, quiet.json) == (202, {"status": "ignored", "reason": KUDOS_LOCKED})
    assert kudos_of(container, site) == 0

    container.configuration.confirm_email(owner.uuid)
    a_moment_later(container)
    assert api_kudo(client, site, key).status_code == 201
    given = browser_kudo(client, site, "/other")
    assert given.status_code == 200 and given.json["status"] == "created"
    assert kudos_of(container, site) == 2


def test_kudos_stay_unlocked_after_a_change_of_address(
    client: FlaskClient, container: Container, world: World
) -> None:
    """Unlocked is for good: a new address still to confirm does not take kudos away."""
    owner = world.account("first@example.com")
    container.configuration.confirm_email(owner.uuid)
    container.configuration.change_email(owner.uuid, "second@example.com")
    site = world.site(owner, "https://example.com")
    key = world.key(owner, "writer", "full_access")
    assert not container.configuration.get_account(owner.uuid).email_confirmed
    assert api_kudo(client, site, key).status_code == 201
    assert browser_kudo(client, site, "/b").status_code == 200


def test_a_webmention_like_gives_no_kudo_to_an_unconfirmed_owner(
    container: Container, world: World
) -> None:
    """Every channel goes through the one kudo service (application/collection.py)."""
    owner = world.account("new@example.com")
    created = world.site(owner, "https://example.com")
    site = container.collection.site(created.uid)
    outcome = container.collection.give_kudo(site, "/post", "webmention", uid="wm_1")
    assert getattr(outcome, "reason", None) == KUDOS_LOCKED
    assert kudos_of(container, created) == 0


# -- the operator's accounts ---------------------------------------------------------------
def test_an_account_the_operator_makes_is_confirmed(
    env: dict[str, str], client: FlaskClient, container: Container, world: World
) -> None:
    made = CliRunner().invoke(
        main,
        ["users", "create", "--email", "ops@example.com", "--password", "correct horse", "--json"],
        env=env,
    )
    assert made.exit_code == 0, (made.stdout, made.stderr)
    account = container.configuration.find_account("ops@example.com")
    assert account.email_confirmed
    container.projections.catch_up()
    site = container.configuration.register_site(account.id, "https://example.com")
    key = container.configuration.issue_key(account.id, "w", "full_access").secret
    container.projections.catch_up()
    assert api_kudo(client, site, key).status_code == 201


# -- uptime --------------------------------------------------------------------------------
def test_uptime_is_refused_until_confirmed_and_the_tab_says_why(
    person: Browser, world: World
) -> None:
    c = person.container
    account = world.account("owner@example.com", is_subscribed=True)
    tracked: Any = world.site(account, "https://blog.example.com")
    person.sign_in("owner@example.com")
    page = f"/sites/{tracked.uid}/uptime"
    shown = text(person.get(page))
    assert NOT_CONFIRMED in shown and "Enable uptime monitoring" not in shown
    refused = person.submit(f"{page}/enable", {}, page=page, follow_redirects=True)
    assert NOT_CONFIRMED in text(refused)
    assert c.reads.uptime.monitor(tracked.uuid) is None
    with pytest.raises(DomainError, match="Confirm your email"):
        c.monitoring.enable(tracked.uuid, account.uuid)

    c.configuration.confirm_email(account.uuid)
    assert "Enable uptime monitoring" in text(person.get(page))
    done = person.submit(f"{page}/enable", {}, page=page)
    assert done.status_code == 302
    c.projections.catch_up()
    assert c.reads.uptime.monitor(tracked.uuid) is not None


def test_the_kudos_tab_tells_an_unconfirmed_owner_why_none_come(
    person: Browser, world: World
) -> None:
    account = world.account("owner@example.com")
    tracked: Any = world.site(account, "https://blog.example.com")
    person.sign_in("owner@example.com")
    page = f"/sites/{tracked.uid}/kudos"
    assert "confirm your email address to turn kudos on" in text(person.get(page))
    person.container.configuration.confirm_email(account.uuid)
    assert "confirm your email address to turn kudos on" not in text(person.get(page))


# -- the purge -----------------------------------------------------------------------------
@pytest.fixture
def traveller() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as moving:
        yield moving


def purge_on_the_clock(container: Container, traveller: Any, at: datetime) -> None:
    traveller.move_to(at)
    container.schedule.put(container.initial_jobs(), replace=False)
    container.clock.tick()
    container.projections.catch_up()


def test_unconfirmed_accounts_are_erased_seven_days_after_sign_up(
    settings: Settings,
    client: FlaskClient,
    container: Container,
    world: World,
    traveller: Any,
) -> None:
    gone = make_person(world, client, "gone")  # never confirmed, with sites, keys, moves
    confirmed = world.account("kept@example.com")
    container.configuration.confirm_email(confirmed.uuid)
    kept_site = world.site(confirmed, "https://kept.example.com")
    traveller.move_to(START + timedelta(days=3))
    young = world.account("young@example.com")

    container.schedule.put(container.initial_jobs(), replace=False)
    job = container.schedule.get(PURGE_KIND, PURGE_KEY)
    assert job is not None and job.recurrence is not None and job.recurrence.every == 3600

    # A minute short of seven days: nobody goes.
    purge_on_the_clock(container, traveller, START + timedelta(days=UNCONFIRMED_DAYS, minutes=-1))
    assert container.configuration.get_account(gone.scope.account_id)  # type: ignore[union-attr]

    # The first firing after seven days: the unconfirmed account and all it owned.
    purge_on_the_clock(container, traveller, START + timedelta(days=UNCONFIRMED_DAYS, hours=1))
    assert_erased(settings, container, gone)
    assert container.configuration.get_account(confirmed.uuid).email_confirmed
    assert container.configuration.get_site(kept_site.uuid)
    assert container.configuration.get_account(young.uuid)  # 4 days old
    assert traces(settings, ["kept@example.com", "young@example.com"]) != []

    # Firing again (another worker, a restart, a re-fired lease) changes nothing.
    assert container.confirmation_purge.purge() == []
    purge_on_the_clock(container, traveller, START + timedelta(days=UNCONFIRMED_DAYS, hours=2))
    assert container.configuration.get_account(young.uuid)
    # Three days later it is the young account's turn.
    purge_on_the_clock(container, traveller, START + timedelta(days=UNCONFIRMED_DAYS + 3, hours=1))
    with pytest.raises(NotFound):
        container.configuration.get_account(young.uuid)
    assert container.configuration.get_account(confirmed.uuid)


def test_an_account_confirmed_once_is_never_purged(
    container: Container, world: World, traveller: Any
) -> None:
    """A confirmed account that moved to an address not confirmed yet is not a sign-up
    that never confirmed: it keeps everything."""
    owner = world.account("first@example.com")
    container.configuration.confirm_email(owner.uuid)
    container.configuration.change_email(owner.uuid, "second@example.com")
    purge_on_the_clock(container, traveller, START + timedelta(days=30))
    assert container.configuration.get_account(owner.uuid).email == "second@example.com"


def test_two_workers_purge_each_account_once(
    env: dict[str, str], container: Container, world: World, traveller: Any
) -> None:
    """Two processes on one schedule: the job is leased to one; a purge that runs anyway
    (a lease run out mid-erasure) skips what the other erased."""
    other = bootstrap(Settings.from_env(env), fast_passwords=True)
    try:
        gone = world.account("gone@example.com")
        traveller.move_to(START + timedelta(days=UNCONFIRMED_DAYS, hours=1))
        for wired in (container, other):
            wired.schedule.put(wired.initial_jobs(), replace=False)
        container.clock.tick()
        other.clock.tick()
        job = container.schedule.get(PURGE_KIND, PURGE_KEY)
        assert job is not None and job.due_at > START + timedelta(days=UNCONFIRMED_DAYS, hours=1)
        with pytest.raises(NotFound):
            container.configuration.get_account(gone.uuid)
        other.projections.catch_up()
        assert other.confirmation_purge.purge() == []
    finally:
        other.close()
