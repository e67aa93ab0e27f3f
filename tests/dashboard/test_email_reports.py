"""The Edit tab's Email Reports: Send Report Now, the owner's own report on or off, the
recipients (a bad address is a form error and nothing is saved), and what could not
be sent shown in place."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import Settings
from interfaces.app import create_app
from tests.conftest import World, noon_tomorrow
from tests.dashboard.conftest import Browser, hit, plain_text, record, text
from tests.dashboard.test_sites import edit_data
from tests.mail_helpers import free_port


def report_mails(browser: Browser) -> list[Any]:
    return [m for m in browser.outbox() if str(m["Subject"]).startswith("Weekly report")]


def test_send_report_now_mails_the_owner_and_every_recipient(owner: Any) -> None:
    # Not across midnight: the hit of "today" would be in the report of the days before.
    with time_machine.travel(noon_tomorrow(), tick=True):
        send_report_now_mails_the_owner_and_every_recipient(owner)


def send_report_now_mails_the_owner_and_every_recipient(owner: Any) -> None:
    person = owner.browser
    record(person.container, [hit(owner.site_id, datetime.now(UTC), "/hello")])
    saved = person.submit(
        f"/sites/{owner.uid}/edit",
        edit_data(report_recipients="team@example.com", reports_to_owner="y"),
    )
    assert saved.status_code == 302
    page = person.get(f"/sites/{owner.uid}/edit")
    body = text(page)
    assert "Email Reports" in body and "Send Report Now" in body
    assert "Recent report mail" not in body
    sent = person.submit(f"/sites/{owner.uid}/report", {}, page=f"/sites/{owner.uid}/edit")
    assert sent.status_code == 302
    assert sent.location.endswith(f"/sites/{owner.uid}/edit#email-reports")
    after = text(person.get(sent.location))
    assert "Report sent to 2 address(es)" in after
    assert "Recent report mail" in after and "team@example.com" in after
    mails = report_mails(person)
    assert sorted(m["To"] for m in mails) == ["owner@example.com", "team@example.com"]
    # The last 7 days up to yesterday: a hit of today is next week's.
    assert "Total hits: 0" in plain_text(mails[0])
    # Asked twice, sent twice (each click is a report of its own).
    person.submit(f"/sites/{owner.uid}/report", {}, page=f"/sites/{owner.uid}/edit")
    assert len(report_mails(person)) == 4


def test_the_owner_can_turn_their_own_report_off(owner: Any) -> None:
    person = owner.browser
    response = person.submit(f"/sites/{owner.uid}/edit", edit_data(reports_to_owner=""))
    assert response.status_code == 302
    site = person.container.configuration.site_by_uid(owner.uid)
    assert not site.reports_to_owner
    sent = person.submit(f"/sites/{owner.uid}/report", {}, page=f"/sites/{owner.uid}/edit")
    assert "Nobody gets this site's reports" in text(person.get(sent.location))
    assert report_mails(person) == []
    person.submit(f"/sites/{owner.uid}/edit", edit_data(reports_to_owner="y"))
    assert person.container.configuration.site_by_uid(owner.uid).reports_to_owner


def test_a_recipient_that_is_not_an_address_is_a_form_error_and_nothing_is_saved(
    owner: Any,
) -> None:
    person = owner.browser
    response = person.submit(
        f"/sites/{owner.uid}/edit",
        edit_data(label="Renamed", report_recipients="team@example.com\nnot an address"),
    )
    assert response.status_code == 422
    assert 'id="report_recipients-error"' in response.get_data(as_text=True)
    assert "Invalid email address" in text(response)
    site = person.container.configuration.site_by_uid(owner.uid)
    assert site.report_recipients == [] and site.label == "My blog"


def test_the_report_needs_the_sites_owner(owner: Any, other: Browser, world: World) -> None:
    world.account("other@example.com")
    other.sign_in("other@example.com")
    response = other.submit(f"/sites/{owner.uid}/report", {}, page="/sites")
    assert response.status_code == 404
    assert report_mails(owner.browser) == []


@pytest.fixture
def smtp_down(env: dict[str, str]) -> Iterator[Container]:
    """A server whose mail server is down (nothing listens on its port)."""
    wired = bootstrap(
        Settings.from_env({**env, "TINYLYTICS_SMTP_URL": f"smtp://127.0.0.1:{free_port()}"}),
        fast_passwords=True,
    )
    yield wired
    wired.close()


def test_a_report_the_mail_server_cannot_take_is_kept_and_shown(smtp_down: Container) -> None:
    world = World(smtp_down)
    account = world.account("owner@example.com")
    site = world.site(account, "https://blog.example.com", label="My blog")
    app = create_app(smtp_down)
    app.testing = True
    person = Browser(app.test_client(), smtp_down)
    person.sign_in("owner@example.com")
    sent = person.submit(f"/sites/{site.uid}/report", {}, page=f"/sites/{site.uid}/edit")
    page = text(person.get(sent.location))
    assert "could not take 1 of 1 report(s) just now" in page
    assert "waiting: 1 failed attempt(s)" in page and "Connection refused" in page
    (kept,) = smtp_down.mail_store.recent(site_id=site.uuid)
    assert kept.status == "pending" and kept.message.to == "owner@example.com"
