"""The sites list, New Site, the Edit, Embed code, Kudos, Events and Journeys tabs, and
another account's site (always 404)."""

import html
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import World
from tests.dashboard.conftest import Browser, custom_event, hit, record, text

TABS = ["", "/edit", "/embed", "/kudos", "/events", "/journeys", "/export"]


def test_the_sites_list_starts_empty_and_offers_a_new_site(person: Browser, world: World) -> None:
    world.account("me@example.com")
    person.sign_in("me@example.com")
    page = person.get("/sites")
    assert page.status_code == 200
    assert "Add your first site" in text(page)
    assert 'href="/sites/new"' in page.get_data(as_text=True)


def test_a_new_site_lands_on_its_embed_code_and_is_listed(owner: Any) -> None:
    person = owner.browser
    response = person.submit(
        "/sites/new", {"url": "Shop.Example.com/", "timezone": "Europe/Paris", "label": "Shop"}
    )
    assert response.status_code == 302
    uid = response.location.split("/")[2]
    assert response.location == f"/sites/{uid}/embed"
    site = person.container.configuration.site_by_uid(uid)
    assert (site.url, site.label, site.timezone) == (
        "https://shop.example.com",
        "Shop",
        "Europe/Paris",
    )
    listed = text(person.get("/sites"))
    assert "Shop" in listed and "https://shop.example.com" in listed and "Active" in listed
    assert "My blog" in listed


def test_new_site_starts_in_the_account_time_zone(person: Browser, world: World) -> None:
    world.account("me@example.com", timezone="Asia/Tokyo")
    person.sign_in("me@example.com")
    page = person.get("/sites/new").get_data(as_text=True)
    assert '<option selected value="Asia/Tokyo">' in page or 'value="Asia/Tokyo" selected' in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"url": "", "timezone": "UTC"}, "url", "Enter the address of your site"),
        ({"url": "ftp://example.org", "timezone": "UTC"}, "url", "only http and https"),
        ({"url": "exa mple.org", "timezone": "UTC"}, "url", "Invalid URL"),
        ({"url": "example.org", "timezone": "Nowhere"}, "timezone", "Not a valid choice"),
        ({"url": "example.org", "timezone": "UTC", "label": "x" * 101}, "label", "At most 100"),
        (
            {"url": "example.org", "timezone": "UTC", "label": "bad\x07label"},
            "label",
            "control characters",
        ),
        (
            {"url": "https://blog.example.com/", "timezone": "UTC"},
            "url",
            "You track this site already",
        ),
    ],
)
def test_new_site_shows_errors_beside_the_fields_and_keeps_what_was_typed(
    owner: Any, data: dict[str, str], field: str, message: str
) -> None:
    response = owner.browser.submit("/sites/new", data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="{field}-error"' in body
    assert message in text(response)
    if data["url"]:
        assert f'value="{html.escape(data["url"])}"' in body


def test_another_accounts_site_is_not_found(owner: Any, world: World, other: Browser) -> None:
    world.account("other@example.com")
    other.sign_in("other@example.com")
    for path in TABS:
        response = other.get(f"/sites/{owner.uid}{path}")
        assert response.status_code == 404, path
        assert "Not found" in text(response)
        assert "My blog" not in text(response)


def test_another_accounts_site_cannot_be_changed(owner: Any, world: World, other: Browser) -> None:
    world.account("other@example.com")
    other.sign_in("other@example.com")
    for url in (f"/sites/{owner.uid}/edit", f"/sites/{owner.uid}/archive"):
        response = other.submit(
            url, {"label": "Mine now", "url": "x.example", "timezone": "UTC"}, page="/sites"
        )
        assert response.status_code == 404
    site = owner.browser.container.configuration.site_by_uid(owner.uid)
    assert site.label == "My blog" and not site.is_archived


def test_an_unknown_site_is_not_found(owner: Any) -> None:
    for uid in ("unknown123", "BAD!uid", "x" * 70, "..%2f"):
        assert owner.browser.get(f"/sites/{uid}").status_code == 404, uid
        assert owner.browser.get(f"/public/{uid}").status_code == 404, uid


def test_site_pages_need_a_signed_in_person(owner: Any, other: Browser) -> None:
    for path in TABS:
        response = other.get(f"/sites/{owner.uid}{path}")
        assert response.status_code == 302
        assert response.location.startswith("/auth/sign_in?next=")


def edit_data(**changes: str) -> dict[str, str]:
    data = {
        "label": "My blog",
        "url": "https://blog.example.com",
        "timezone": "UTC",
        "unique_tracking": "y",
        "ignored_paths": "",
        "report_recipients": "",
    }
    data.update(changes)
    return data


def test_editing_saves_every_setting(owner: Any) -> None:
    person = owner.browser
    response = person.submit(
        f"/sites/{owner.uid}/edit",
        edit_data(
            label="Renamed",
            url="www.blog.example.com",
            timezone="America/New_York",
            public="y",
            any_domain="y",
            unique_tracking="",
            ignored_paths="/admin\n/drafts/*\n",
            report_recipients="Me@Example.com, team@example.com\nme@example.com",
        ),
    )
    assert response.status_code == 302, text(response)
    configuration = person.container.configuration
    site = configuration.site_by_uid(owner.uid)
    assert site.label == "Renamed"
    assert site.url == "https://www.blog.example.com"
    assert site.timezone == "America/New_York"
    assert site.is_public and site.allows_any_domain and not site.tracks_uniques
    assert site.ignored_paths == ["/admin", "/drafts/*"]
    assert site.report_recipients == ["me@example.com", "team@example.com"]
    page = person.get(f"/sites/{owner.uid}/edit")
    assert "Settings saved" in text(page)
    assert f"http://localhost/public/{owner.uid}" in text(page)
    # The read model keeps the recipients too (for the reports job).
    container = person.container
    container.projections.catch_up()
    table = container.projections.tables["sites"]["recipients"]
    with container.engine.connect() as conn:
        stored = conn.execute(select(table.c.recipients)).scalar()
    assert stored == ["me@example.com", "team@example.com"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"url": ""}, "url", "Enter the address of your site"),
        ({"url": "javascript:alert(1)"}, "url", "Invalid URL"),
        ({"timezone": "Mars/Base"}, "timezone", "Not a valid choice"),
        ({"ignored_paths": "/has space"}, "ignored_paths", "pattern"),
        (
            {"ignored_paths": "\n".join(f"/p{i}" for i in range(101))},
            "ignored_paths",
            "At most 100",
        ),
        ({"report_recipients": "not-an-address"}, "report_recipients", "Invalid email address"),
        (
            {"report_recipients": "\n".join(f"r{i}@example.com" for i in range(11))},
            "report_recipients",
            "At most 10 report recipients",
        ),
        ({"label": "x" * 101}, "label", "At most 100"),
    ],
)
def test_edit_shows_errors_in_place_and_changes_nothing(
    owner: Any, changes: dict[str, str], field: str, message: str
) -> None:
    typed = {"label": "Changed", **changes}
    response = owner.browser.submit(f"/sites/{owner.uid}/edit", edit_data(**typed))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="{field}-error"' in body
    assert message in text(response)
    assert f'value="{typed["label"]}"' in body  # what was typed is kept
    site = owner.browser.container.configuration.site_by_uid(owner.uid)
    assert site.label == "My blog"


def test_a_url_another_site_of_the_account_has_is_refused(owner: Any, world: World) -> None:
    world.site(owner.account, "https://other.example.com")
    response = owner.browser.submit(f"/sites/{owner.uid}/edit", edit_data(url="other.example.com"))
    assert response.status_code == 422
    assert "You track a site with this URL already" in text(response)


def test_archiving_locks_the_settings_until_unarchived(owner: Any) -> None:
    person = owner.browser
    url = f"/sites/{owner.uid}/archive"
    assert person.submit(url, {}, page=f"/sites/{owner.uid}/edit").status_code == 302
    site = person.container.configuration.site_by_uid(owner.uid)
    assert site.is_archived
    assert "Archived" in text(person.get("/sites"))
    refused = person.submit(f"/sites/{owner.uid}/edit", edit_data(label="New"))
    assert refused.status_code == 422
    assert "This site is archived" in text(refused)
    person.submit(url, {}, page=f"/sites/{owner.uid}/edit")
    assert not person.container.configuration.site_by_uid(owner.uid).is_archived


def test_the_embed_code_and_its_builder(owner: Any) -> None:
    page = owner.browser.get(f"/sites/{owner.uid}/embed")
    assert page.status_code == 200
    shown = html.unescape(page.get_data(as_text=True))
    uid = owner.uid
    assert f'<script src="http://localhost/embed/{uid}.js" defer></script>' in shown
    assert f'<img src="http://localhost/pixel/{uid}.gif?path=/your-post-slug" alt=""' in shown
    assert f'<link rel="webmention" href="http://localhost/webmention/{uid}" />' in shown
    assert "https://blog.example.com/?tiny_ignore=true" in shown
    assert 'data-copy="embed-snippet"' in shown  # a copy button, shown by the script

    built = owner.browser.get(
        f"/sites/{uid}/embed?minified=y&spa=y&events=y&hits=unique&kudos=y&kudos_emoji=❤️"
        "&countries=y&webring=avatars"
    )
    shown = html.unescape(built.get_data(as_text=True))
    src = f"http://localhost/embed/{uid}/min.js?spa&events&hits=unique&kudos=❤️&countries&webring=avatars"
    assert f'<script src="{src}" defer></script>' in shown
    assert '<button class="tinylytics_kudos"></button>' in shown
    assert '<span class="tinylytics_hits"></span>' in shown

    odd = owner.browser.get(f"/sites/{uid}/embed?kudos=y&kudos_emoji=a%26b")
    assert "kudos=a%26b" in html.unescape(odd.get_data(as_text=True))


def test_a_bad_builder_option_is_shown_beside_its_field(owner: Any) -> None:
    response = owner.browser.get(
        f"/sites/{owner.uid}/embed?kudos=y&kudos_emoji={'x' * 30}&hits=bogus"
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="kudos_emoji-error"' in body
    assert 'id="hits-error"' in body


def test_the_kudos_events_and_journeys_tabs(owner: Any) -> None:
    container = owner.browser.container
    now = datetime.now(UTC)
    container.tracking.give_kudo(owner.site_id, "/posts/liked", None, "api")
    container.tracking.give_kudo(owner.site_id, "/posts/liked", None, "api")
    record(
        container,
        [
            custom_event(owner.site_id, now - timedelta(minutes=5), "signup.click", "pro plan"),
            custom_event(owner.site_id, now - timedelta(minutes=4), "signup.click", "pro plan"),
            hit(owner.site_id, now - timedelta(minutes=3), "/start", visitor_hash="v1"),
            hit(owner.site_id, now - timedelta(minutes=2), "/pricing", visitor_hash="v1"),
            hit(owner.site_id, now - timedelta(minutes=1), "/start", visitor_hash="v2"),
        ],
    )
    kudos = text(owner.browser.get(f"/sites/{owner.uid}/kudos"))
    assert "/posts/liked 2" in kudos
    assert "Latest kudos (2)" in kudos
    events = text(owner.browser.get(f"/sites/{owner.uid}/events"))
    assert "signup.click pro plan 2" in events
    journeys = owner.browser.get(f"/sites/{owner.uid}/journeys")
    shown = text(journeys)
    assert "/start → /pricing" in shown
    assert "50.0%" in shown  # one of two visitors saw one page only
    assert owner.browser.get(f"/sites/{owner.uid}/journeys?period=7d").status_code == 200
    assert owner.browser.get(f"/sites/{owner.uid}/kudos?page=abc").status_code == 200
    assert owner.browser.get(f"/sites/{owner.uid}/events?page=99999999999").status_code == 200
