"""The account page: email, password, time zone, API keys, data export, deletion."""

import csv
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from application.sites import SiteChanges
from domain.errors import NotFound
from tests.conftest import World, bearer, noon_tomorrow
from tests.dashboard.conftest import PASSWORD, hit, record, text


def test_the_account_page_shows_every_section(owner: Any) -> None:
    page = owner.browser.get("/account")
    assert page.status_code == 200
    shown = text(page)
    for part in (
        "Email address",
        "Password",
        "Time zone",
        "API keys",
        "Your data",
        "Delete your account",
    ):
        assert part in shown


def test_changing_the_email_mails_a_confirmation_to_the_new_address(owner: Any) -> None:
    response = owner.browser.submit(
        "/account/email",
        {"email-email": "New@Example.com", "email-current_password": PASSWORD},
        page="/account",
    )
    assert response.status_code == 302
    configuration = owner.browser.container.configuration
    account = configuration.find_account("new@example.com")
    assert not account.email_confirmed
    assert owner.browser.outbox()[-1]["To"] == "new@example.com"
    assert "we sent a link to confirm it" in text(owner.browser.get("/account"))


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"email-email": "broken", "email-current_password": PASSWORD},
            "email-email",
            "Invalid email address",
        ),
        (
            {"email-email": "a@example.com", "email-current_password": "wrong"},
            "email-current_password",
            "not your current password",
        ),
        (
            {"email-email": "taken@example.com", "email-current_password": PASSWORD},
            "email-email",
            "Another account uses this address",
        ),
        (
            {"email-email": "", "email-current_password": ""},
            "email-current_password",
            "Enter your current password",
        ),
    ],
)
def test_email_change_errors_are_shown_in_place(
    owner: Any, world: World, data: dict[str, str], field: str, message: str
) -> None:
    world.account("taken@example.com")
    response = owner.browser.submit("/account/email", data, page="/account")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="{field}-error"' in body
    assert message in text(response)
    if data["email-email"]:
        assert f'value="{data["email-email"]}"' in body
    assert owner.browser.container.configuration.find_account("owner@example.com")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {
                "password-current_password": "wrong",
                "password-password": "new password",
                "password-confirm": "new password",
            },
            "password-current_password",
            "not your current password",
        ),
        (
            {
                "password-current_password": PASSWORD,
                "password-password": "new password",
                "password-confirm": "other",
            },
            "password-confirm",
            "The two passwords differ",
        ),
        (
            {
                "password-current_password": PASSWORD,
                "password-password": "short",
                "password-confirm": "short",
            },
            "password-password",
            "at least 8",
        ),
    ],
)
def test_password_change_errors_are_shown_in_place(
    owner: Any, data: dict[str, str], field: str, message: str
) -> None:
    response = owner.browser.submit("/account/password", data, page="/account")
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert message in text(response)
    configuration = owner.browser.container.configuration
    assert configuration.authenticate_password("owner@example.com", PASSWORD) is not None


def test_the_time_zone_is_saved_or_refused(owner: Any) -> None:
    bad = owner.browser.submit(
        "/account/timezone", {"tz-timezone": "Atlantis/Lost"}, page="/account"
    )
    assert bad.status_code == 422
    assert 'id="tz-timezone-error"' in bad.get_data(as_text=True)
    good = owner.browser.submit(
        "/account/timezone", {"tz-timezone": "Asia/Kolkata"}, page="/account"
    )
    assert good.status_code == 302
    assert (
        owner.browser.container.configuration.find_account("owner@example.com").timezone
        == "Asia/Kolkata"
    )


def test_an_api_key_is_shown_once_works_shows_its_last_use_and_can_be_revoked(
    owner: Any, app: Any
) -> None:
    # Not across midnight: the key is made and used "today", then the page is read.
    with time_machine.travel(noon_tomorrow(), tick=True):
        an_api_key_is_shown_once_works_shows_its_last_use_and_can_be_revoked(owner, app)


def an_api_key_is_shown_once_works_shows_its_last_use_and_can_be_revoked(
    owner: Any, app: Any
) -> None:
    person = owner.browser
    created = person.submit(
        "/account/keys", {"key-name": "Home", "key-access": "read_only"}, page="/account"
    )
    assert created.status_code == 201
    secret = re.search(r"(tly-ro-[A-Za-z0-9]+)", created.get_data(as_text=True))
    assert secret is not None
    api = app.test_client()
    assert api.get("/api/v1/me", headers=bearer(secret.group(1))).status_code == 200

    listed = person.get("/account")
    assert secret.group(1) not in listed.get_data(as_text=True)  # never shown again
    shown = text(listed)
    assert "Home Read-only" in shown
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert f"{today} {today}" in shown  # created today, last used today

    full = person.submit(
        "/account/keys", {"key-name": "Writer", "key-access": "full_access"}, page="/account"
    )
    assert full.status_code == 201 and "tly-fa-" in full.get_data(as_text=True)

    revoked = person.submit("/account/keys/revoke", {"name": "Home"}, page="/account")
    assert revoked.status_code == 302
    assert api.get("/api/v1/me", headers=bearer(secret.group(1))).status_code == 401
    assert "Revoked" in text(person.get("/account"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"key-name": "", "key-access": "read_only"}, "Give the key a name"),
        ({"key-name": "x" * 101, "key-access": "read_only"}, "At most 100"),
        ({"key-name": "ok", "key-access": "root"}, "Not a valid choice"),
        ({"key-name": "Taken", "key-access": "read_only"}, "You have a key with this name already"),
    ],
)
def test_key_errors_are_shown_in_place(
    owner: Any, world: World, data: dict[str, str], message: str
) -> None:
    world.key(owner.account, name="Taken")
    response = owner.browser.submit("/account/keys", data, page="/account")
    assert response.status_code == 422
    assert message in text(response)


def test_revoking_an_unknown_key_says_so(owner: Any) -> None:
    response = owner.browser.submit("/account/keys/revoke", {"name": "nope"}, page="/account")
    assert response.status_code == 302
    assert "revoked already" in text(owner.browser.get("/account"))


def test_the_data_export_is_a_zip_of_csvs(owner: Any, world: World) -> None:
    world.key(owner.account, name="cli")
    second = world.site(owner.account, "https://shop.example.com")
    now = datetime.now(UTC)
    record(
        owner.browser.container,
        [hit(owner.site_id, now - timedelta(minutes=m), f"/p{m}") for m in range(3)]
        + [hit(second.uuid, now, "/shop")],
    )
    owner.browser.container.tracking.give_kudo(owner.site_id, "/p1", None, "api")
    owner.browser.container.projections.catch_up()
    response = owner.browser.get("/account/export.zip")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.is_streamed
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = set(archive.namelist())
    assert {"account.csv", "sites.csv", "api_keys.csv"} <= names
    assert f"sites/{owner.uid}/hits.csv" in names
    assert f"sites/{second.uid}/hits.csv" in names

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"), newline="")))

    assert rows("account.csv")[0]["email"] == "owner@example.com"
    assert {r["url"] for r in rows("sites.csv")} == {
        "https://blog.example.com",
        "https://shop.example.com",
    }
    assert rows("api_keys.csv")[0]["name"] == "cli"
    assert "secret" not in archive.read("api_keys.csv").decode()
    assert [r["path"] for r in rows(f"sites/{owner.uid}/hits.csv")] == ["/p2", "/p1", "/p0"]
    assert [r["path"] for r in rows(f"sites/{owner.uid}/kudos.csv")] == ["/p1"]
    assert [r["path"] for r in rows(f"sites/{second.uid}/hits.csv")] == ["/shop"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"email": "someone@example.com", "current_password": PASSWORD},
            "email",
            "not the address of this account",
        ),
        (
            {"email": "owner@example.com", "current_password": "wrong"},
            "current_password",
            "not your current password",
        ),
        ({"email": "", "current_password": ""}, "email", "Type your email address"),
    ],
)
def test_deleting_needs_the_address_and_password(
    owner: Any, data: dict[str, str], field: str, message: str
) -> None:
    response = owner.browser.submit("/account/delete", data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert message in text(response)
    assert owner.browser.container.configuration.find_account("owner@example.com")


def test_deleting_the_account_erases_it_and_signs_out(owner: Any) -> None:
    person = owner.browser
    person.submit("/auth/confirm/resend", {}, page="/sites")
    assert person.outbox()
    record(person.container, [hit(owner.site_id, datetime.now(UTC), "/")])
    configuration = person.container.configuration
    configuration.change_site(owner.site_id, SiteChanges(report_recipients=["boss@example.com"]))
    person.container.projections.catch_up()
    recipients = person.container.projections.tables["sites"]["recipients"]
    page = person.get("/account/delete")
    assert page.status_code == 200 and "cannot be undone" in text(page)
    response = person.submit(
        "/account/delete", {"email": "Owner@example.com", "current_password": PASSWORD}
    )
    assert response.status_code == 302
    assert "all its data are deleted" in text(person.get(response.location))
    with pytest.raises(NotFound):
        person.container.configuration.find_account("owner@example.com")
    assert person.outbox() == []  # the mail kept for the address is gone too
    assert person.get("/sites").status_code == 302
    assert person.sign_in("owner@example.com").status_code == 422
    assert person.get(f"/public/{owner.uid}").status_code == 404
    with person.container.engine.connect() as conn:
        assert conn.execute(select(recipients)).all() == []
