"""Long aggregates kept between reads (application/kept_aggregates.py): an owner of
many sites is not replayed on every request, yet every read sees what another
process saved or erased, and a command's copy never changes what is kept."""

from collections.abc import Iterator
from typing import Any

import pytest

from application.kept_aggregates import LONG_HISTORY
from domain.errors import NotFound
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from tests.conftest import World

SITES = LONG_HISTORY + 8


@pytest.fixture
def other(settings: Settings, container: Container) -> Iterator[Container]:
    """A second process on the same stores (as `tinylytics worker` beside `serve`)."""
    wired = bootstrap(settings, fast_passwords=True)
    yield wired
    wired.close()


def owner_of_many(world: World) -> Any:
    owner = world.account("many@example.com")
    for n in range(SITES):
        world.c.configuration.register_site(owner.uuid, f"https://site{n}.example.com")
    return owner


def test_a_long_account_is_kept_and_still_sees_what_another_process_saved(
    world: World, container: Container, other: Container
) -> None:
    owner = owner_of_many(world)
    first = container.configuration.get_account(owner.uuid)
    assert len(first.site_ids) == SITES and not first.is_subscribed
    assert container.configuration.repository.get(first.id) is not first  # a copy each time

    other.configuration.set_subscribed(first.id, True)
    other.configuration.change_account_timezone(first.id, "Asia/Kathmandu")
    other.configuration.register_site(first.id, "https://late.example.com")

    now = container.configuration.get_account(first.id)
    assert now.is_subscribed and now.timezone == "Asia/Kathmandu"
    assert len(now.site_ids) == SITES + 1
    assert now.version == first.version + 3


def test_an_account_erased_by_another_process_is_not_found_here(
    world: World, container: Container, other: Container
) -> None:
    owner = owner_of_many(world)
    assert len(container.configuration.get_account(owner.uuid).site_ids) == SITES

    other.erasure.delete_account(owner.uuid)

    with pytest.raises(NotFound):
        container.configuration.get_account(owner.uuid)


def test_a_command_that_fails_changes_nothing_kept(world: World, container: Container) -> None:
    owner = owner_of_many(world)
    account = container.configuration.get_account(owner.uuid)
    account.subscribe()
    account.attach_site(account.site_ids[0])  # never saved: the command gave up
    again = container.configuration.get_account(owner.uuid)
    assert not again.is_subscribed and len(again.site_ids) == SITES
    assert again.version == account.version - 2
