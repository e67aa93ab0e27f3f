"""Sign up, confirmation, sign in and out, throttling, forgotten passwords, sessions."""

from typing import Any
from urllib.parse import urlencode

import pytest
import redis

from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from interfaces.app import create_app
from interfaces.dashboard import tokens
from tests.conftest import World
from tests.dashboard.conftest import PASSWORD, Browser, csrf_token, text


def test_the_home_page_links_to_sign_up_and_log_in(person: Browser) -> None:
    page = person.get("/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'href="/auth/sign_up"' in body
    assert 'href="/auth/sign_in"' in body
    assert "/api/v1" in body


def test_sign_up_signs_in_and_mails_a_link_that_confirms_once(person: Browser) -> None:
    response = person.sign_up("New@Example.com", timezone="Europe/Berlin")
    assert response.status_code == 302
    assert response.location == "/sites"
    page = person.get("/sites")
    assert "Please confirm your email address" in text(page)
    account = person.container.configuration.find_account("new@example.com")
    assert account.timezone == "Europe/Berlin"
    assert not account.email_confirmed
    (message,) = person.outbox()
    assert message["To"] == "new@example.com"
    link = person.last_link("/auth/confirm/")
    path = link.split("localhost", 1)[1]

    confirmed = person.get(path)
    assert confirmed.status_code == 302
    assert person.container.configuration.find_account("new@example.com").email_confirmed
    assert "is confirmed" in text(person.get("/sites"))

    again = person.get(path)
    assert again.status_code == 410
    assert "This link has been used already" in text(again)


@pytest.mark.parametrize(
    ("email", "password", "timezone", "field", "message"),
    [
        ("not-an-email", PASSWORD, "UTC", "email", "Invalid email address"),
        ("", PASSWORD, "UTC", "email", "Enter your email address"),
        ("a@example.com", "short", "UTC", "password", "Use at least 8 characters"),
        ("a@example.com", PASSWORD, "Mars/Olympus", "timezone", "Not a valid choice"),
        ("a\x00b@example.com", PASSWORD, "UTC", "email", "control characters"),
        ("a@example.com", "x" * 2000, "UTC", "password", "at most 1024"),
    ],
)
def test_sign_up_shows_errors_beside_the_fields_and_keeps_what_was_typed(
    person: Browser, email: str, password: str, timezone: str, field: str, message: str
) -> None:
    response = person.sign_up(email, password, timezone)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="{field}-error"' in body
    assert message in text(response)
    assert 'aria-invalid="true"' in body
    if field != "email" and email:
        assert f'value="{email}"' in body
    assert password not in body or len(password) < 8  # passwords are never sent back


def test_signing_up_twice_with_one_address_says_so(person: Browser, world: World) -> None:
    world.account("taken@example.com")
    response = person.sign_up("Taken@example.com")
    assert response.status_code == 422
    assert "An account with this address exists already" in text(response)


def test_a_form_without_its_csrf_token_is_refused(person: Browser) -> None:
    forms = {
        "/auth/sign_up": {"email": "a@example.com", "password": PASSWORD, "timezone": "UTC"},
        "/auth/sign_in": {"email": "a@example.com", "password": PASSWORD},
        "/auth/forgot_password": {"email": "a@example.com"},
        "/auth/sign_out": {},
    }
    for url, data in forms.items():
        response = person.client.post(url, data=data)
        assert response.status_code == 400, url
        assert "This form has expired" in text(response)
        forged = person.client.post(url, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 400, url


def test_signed_in_forms_without_their_token_are_refused(owner: Any) -> None:
    client = owner.browser.client
    for url in (
        "/sites/new",
        f"/sites/{owner.uid}/edit",
        f"/sites/{owner.uid}/archive",
        "/account/email",
        "/account/password",
        "/account/timezone",
        "/account/keys",
        "/account/keys/revoke",
        "/account/delete",
        "/auth/confirm/resend",
    ):
        assert client.post(url, data={"name": "x", "label": "x"}).status_code == 400, url
    assert owner.browser.container.configuration.find_account("owner@example.com")


def test_sign_in_with_a_wrong_password_says_so_and_keeps_the_email(
    person: Browser, world: World
) -> None:
    world.account("me@example.com")
    response = person.sign_in("me@example.com", "wrong password")
    assert response.status_code == 422
    assert "do not match" in text(response)
    assert 'value="me@example.com"' in response.get_data(as_text=True)
    assert person.get("/sites").status_code == 302  # still signed out


def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(
    person: Browser, world: World
) -> None:
    world.account("me@example.com")
    asked = person.get("/account")
    assert asked.status_code == 302
    assert asked.location.startswith("/auth/sign_in?next=")
    page = person.get(asked.location).get_data(as_text=True)
    response = person.client.post(
        asked.location,
        data={"email": "me@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.location == "/account"
    person.submit("/auth/sign_out", {}, page="/sites")
    for evil in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        page = person.get(f"/auth/sign_in?next={evil}").get_data(as_text=True)
        response = person.client.post(
            f"/auth/sign_in?next={evil}",
            data={"email": "me@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
        )
        assert response.location == "/sites"
        person.submit("/auth/sign_out", {}, page="/sites")


# Each leads off the site or runs a script as a Location, as written or once normalised
# (tabs and newlines stripped, a backslash read as a slash, percent-decoded, NFKC).
OFF_SITE_TARGETS = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "/\uff0f/evil.example",
    "/\uff3cevil.example",
    "https://evil.example",
    "HTTPS://evil.example/",
    "https:/evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    " JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "@evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "/\x85/evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE_TARGETS)
def test_sign_in_never_sends_anyone_off_site(owner: Any, target: str) -> None:
    """Signed in, /auth/sign_in?next= redirects at once: to the dashboard for all of these."""
    response = owner.browser.get("/auth/sign_in", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/sites"


def test_signing_in_with_an_off_site_next_lands_on_the_dashboard(
    person: Browser, world: World
) -> None:
    world.account("me@example.com")
    for target in ("/\t/evil.example", "/%2F%2Fevil.example", "javascript:alert(1)"):
        url = "/auth/sign_in?" + urlencode({"next": target})
        page = person.get(url).get_data(as_text=True)
        assert "evil.example" not in page and "javascript" not in page
        response = person.client.post(
            url,
            data={"email": "me@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
        )
        assert response.headers["Location"] == "/sites"
        person.submit("/auth/sign_out", {}, page="/sites")


@pytest.mark.parametrize(
    "target",
    [
        "/account",
        "/sites/abc123/events?period=7d&page=2",
        "/sites/abc123/export?start=2026-01-01&end=2026-01-31",
        "/sites/abc123?period=custom&start=2026-01-01&end=2026-01-31",
        "/sites/javascript:alert",
    ],
)
def test_sign_in_returns_to_a_same_origin_path(owner: Any, target: str) -> None:
    response = owner.browser.get("/auth/sign_in", query_string={"next": target})
    assert response.headers["Location"] == target


def test_failed_log_ins_are_throttled_per_address(
    person: Browser, other: Browser, world: World
) -> None:
    world.account("me@example.com")
    for _ in range(5):
        assert person.sign_in("me@example.com", "wrong password").status_code == 422
    blocked = person.sign_in("me@example.com")  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many failed attempts" in text(blocked)
    # Another browser on the same network is held back for the same address...
    assert other.sign_in("me@example.com").status_code == 429
    # ...but not for another one.
    world.account("you@example.com")
    assert other.sign_in("you@example.com").status_code == 302


def at(browser: Browser, address: str, user_agent: str = "Mozilla/5.0 test") -> Browser:
    """Make `browser` send from this address (the test server's peer) and user agent."""
    browser.client.environ_base.update(REMOTE_ADDR=address, HTTP_USER_AGENT=user_agent)
    return browser


def test_five_failures_from_one_client_never_lock_the_owner_out_elsewhere(
    person: Browser, other: Browser, world: World
) -> None:
    world.account("me@example.com")
    attacker, owner = at(person, "203.0.113.7"), at(other, "198.51.100.20")
    for _ in range(5):
        assert attacker.sign_in("me@example.com", "wrong password").status_code == 422
    assert attacker.sign_in("me@example.com").status_code == 429
    # Another user agent on the same address is the same client: still held back.
    assert at(attacker, "203.0.113.7", "curl/8").sign_in("me@example.com").status_code == 429
    # The owner, from their own network, signs in at once.
    assert owner.sign_in("me@example.com").status_code == 302


def test_an_ipv6_client_is_its_64_network(person: Browser, world: World) -> None:
    world.account("me@example.com")
    for n in range(5):
        response = at(person, f"2001:db8:1:2::{n + 1}").sign_in("me@example.com", "wrong one")
        assert response.status_code == 422
    assert at(person, "2001:db8:1:2:ffff::9").sign_in("me@example.com").status_code == 429
    assert at(person, "2001:db8:1:3::1").sign_in("me@example.com").status_code == 302


def test_a_client_trying_many_addresses_is_held_back_for_all(
    person: Browser, other: Browser, world: World
) -> None:
    for n in range(5):
        world.account(f"user{n}@example.com")
    guesser = at(person, "203.0.113.7")
    for n in range(20):
        response = guesser.sign_in(f"user{n % 5}@example.com", "wrong password")
        assert response.status_code == 422, n
    assert guesser.sign_in("user0@example.com").status_code == 429
    world.account("fresh@example.com")
    assert guesser.sign_in("fresh@example.com").status_code == 429
    assert at(other, "198.51.100.20").sign_in("user0@example.com").status_code == 302


def test_guessing_from_many_networks_is_held_back_per_address(
    person: Browser, other: Browser, world: World
) -> None:
    """The address's own limit (100 failures in 15 minutes) still stops a spread attack."""
    world.account("me@example.com")
    for n in range(20):
        for _ in range(5):
            at(person, f"203.0.{n}.1").sign_in("me@example.com", "wrong password")
    assert at(other, "198.51.100.20").sign_in("me@example.com").status_code == 429


def test_the_throttle_keeps_no_address(
    person: Browser, world: World, container: Any, app: Any
) -> None:
    world.account("me@example.com")
    at(person, "203.0.113.77").sign_in("me@example.com", "wrong password")
    at(person, "2001:db8:77::77").sign_in("me@example.com", "wrong password")
    settings = container.settings
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url)
        kept = repr(
            [(key, client.dump(key)) for key in client.scan_iter(f"{settings.redis_prefix}*")]
        )
    else:
        storage = app.extensions["tinylytics.dashboard"].throttle._limiter.storage
        kept = repr(vars(storage))
    assert "me@example.com" not in kept
    for fragment in ("203.0.113", "2001:db8", "20010db8", "cb007100"):
        assert fragment not in kept


def test_sign_out_needs_a_post_and_ends_the_session(owner: Any) -> None:
    person = owner.browser
    assert person.get("/auth/sign_out").status_code == 405
    response = person.submit("/auth/sign_out", {}, page="/sites")
    assert response.status_code == 302
    assert person.get("/sites").location.startswith("/auth/sign_in")


def test_the_session_cookie_is_http_only_and_same_site(person: Browser, world: World) -> None:
    world.account("me@example.com")
    response = person.sign_in("me@example.com")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("tinylytics_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http, no https base URL


def test_the_session_cookie_is_secure_over_https(app: Any, world: World) -> None:
    world.account("me@example.com")
    client = app.test_client()
    browser = Browser(client, world.c)
    page = client.get("/auth/sign_in", base_url="https://localhost").get_data(as_text=True)
    response = client.post(
        "/auth/sign_in",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/auth/sign_in"},
        data={"email": "me@example.com", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]
    assert browser  # the same client carries on


def test_an_https_base_url_makes_the_cookie_secure(env: dict[str, str]) -> None:
    settings = Settings.from_env({**env, "TINYLYTICS_BASE_URL": "https://stats.example.com"})
    container = bootstrap(settings, fast_passwords=True)
    try:
        app = create_app(container)
        container.configuration.register_account("me@example.com", PASSWORD)
        browser = Browser(app.test_client(), container)
        response = browser.sign_in("me@example.com")
        assert response.status_code == 302
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        container.close()


def test_forgotten_password_never_tells_whether_an_account_exists(person: Browser) -> None:
    response = person.submit("/auth/forgot_password", {"email": "nobody@example.com"})
    assert response.status_code == 200
    assert "If an account uses nobody@example.com" in text(response)
    assert person.outbox() == []


def test_a_reset_link_changes_the_password_once(person: Browser, world: World) -> None:
    world.account("me@example.com")
    response = person.submit("/auth/forgot_password", {"email": "ME@example.com"})
    assert "If an account uses" in text(response)
    link = person.last_link("/auth/reset/")
    path = link.split("localhost", 1)[1]
    assert person.get(path).status_code == 200

    mismatch = person.submit(path, {"password": "new password 1", "confirm": "new password 2"})
    assert mismatch.status_code == 422
    assert "The two passwords differ" in text(mismatch)
    short = person.submit(path, {"password": "short", "confirm": "short"})
    assert short.status_code == 422
    assert "Use at least 8 characters" in text(short)

    done = person.submit(path, {"password": "new password 1", "confirm": "new password 1"})
    assert done.status_code == 302
    assert person.get("/sites").status_code == 200  # signed in by the reset

    used = person.get(path)
    assert used.status_code == 410
    assert "This link has been used already" in text(used)
    configuration = person.container.configuration
    assert configuration.authenticate_password("me@example.com", "new password 1") is not None
    assert configuration.authenticate_password("me@example.com", PASSWORD) is None


def test_an_expired_reset_link_says_so(
    person: Browser, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.account("me@example.com")
    person.submit("/auth/forgot_password", {"email": "me@example.com"})
    path = person.last_link("/auth/reset/").split("localhost", 1)[1]
    monkeypatch.setattr(tokens, "RESET_SECONDS", -1)
    response = person.get(path)
    assert response.status_code == 410
    assert "This link has expired" in text(response)


def test_an_expired_confirmation_link_says_so_and_offers_a_new_one(
    person: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    person.sign_up("me@example.com")
    path = person.last_link("/auth/confirm/").split("localhost", 1)[1]
    monkeypatch.setattr(tokens, "CONFIRM_SECONDS", -1)
    response = person.get(path)
    assert response.status_code == 410
    assert "This link has expired" in text(response)
    assert "Send a new confirmation link" in text(response)
    assert not person.container.configuration.find_account("me@example.com").email_confirmed


def test_a_broken_link_says_it_is_not_valid(person: Browser) -> None:
    for token in ("nonsense", "a.b.c", "x" * 2000):
        for path in (f"/auth/confirm/{token}", f"/auth/reset/{token}"):
            response = person.get(path)
            assert response.status_code == 404, path
            assert "This link is not valid" in text(response)


def test_a_confirmation_link_for_a_former_address_is_spent(owner: Any) -> None:
    person = owner.browser
    person.submit("/auth/confirm/resend", {}, page="/sites")
    old = person.last_link("/auth/confirm/").split("localhost", 1)[1]
    response = person.submit(
        "/account/email",
        {"email-email": "new@example.com", "email-current_password": PASSWORD},
        page="/account",
    )
    assert response.status_code == 302
    assert person.get(old).status_code == 410
    fresh = person.last_link("/auth/confirm/").split("localhost", 1)[1]
    assert person.get(fresh).status_code == 302
    assert person.container.configuration.find_account("new@example.com").email_confirmed


def test_confirmation_mail_is_throttled(owner: Any) -> None:
    person = owner.browser
    for _ in range(3):
        person.submit("/auth/confirm/resend", {}, page="/sites")
    assert len(person.outbox()) == 3
    response = person.submit("/auth/confirm/resend", {}, page="/sites")
    assert response.status_code == 302
    assert len(person.outbox()) == 3
    assert "please wait" in text(person.get("/sites"))


def test_a_password_change_signs_other_sessions_out(owner: Any, other: Browser) -> None:
    assert other.sign_in("owner@example.com").status_code == 302
    assert other.get("/sites").status_code == 200
    response = owner.browser.submit(
        "/account/password",
        {
            "password-current_password": PASSWORD,
            "password-password": "another password",
            "password-confirm": "another password",
        },
        page="/account",
    )
    assert response.status_code == 302
    assert owner.browser.get("/sites").status_code == 200  # this session carries on
    assert other.get("/sites").status_code == 302  # the other one is signed out


COOKIE = "tinylytics_session"


def copy_session(source: Browser, target: Browser) -> str:
    """Put `source`'s session cookie, as sent to it, into `target` (a stolen cookie)."""
    cookie = source.client.get_cookie(COOKIE)
    assert cookie is not None
    target.client.set_cookie(COOKIE, cookie.value)
    return cookie.value


def test_signing_out_ends_the_session_a_copied_cookie_holds(owner: Any, other: Browser) -> None:
    copy_session(owner.browser, other)
    assert other.get("/sites").status_code == 200  # the copy works while signed in
    owner.browser.submit("/auth/sign_out", {}, page="/sites")
    assert owner.browser.get("/sites").location.startswith("/auth/sign_in")
    shown = other.get("/sites")
    assert shown.status_code == 302 and shown.location.startswith("/auth/sign_in")
    assert other.get("/account").status_code == 302
    # Signing in again makes a new session; the old cookie stays dead.
    assert owner.browser.sign_in("owner@example.com").status_code == 302
    assert owner.browser.get("/sites").status_code == 200
    assert other.get("/sites").status_code == 302


def test_a_copied_cookie_replayed_after_sign_out_cannot_post(owner: Any, other: Browser) -> None:
    page = owner.browser.get("/account").get_data(as_text=True)
    token = csrf_token(page)
    stolen = copy_session(owner.browser, other)
    owner.browser.submit("/auth/sign_out", {}, page="/sites")
    other.client.set_cookie(COOKIE, stolen)
    response = other.client.post(
        "/account/timezone", data={"tz-timezone": "Asia/Tokyo", "tz-csrf_token": token}
    )
    assert response.status_code in (302, 400)
    assert response.status_code == 400 or response.location.startswith("/auth/sign_in")
    assert owner.browser.container.configuration.get_account(owner.account.uuid).timezone == "UTC"


def test_a_password_change_ends_a_copied_session_and_keeps_this_one(
    owner: Any, other: Browser
) -> None:
    copy_session(owner.browser, other)
    assert other.get("/sites").status_code == 200
    response = owner.browser.submit(
        "/account/password",
        {
            "password-current_password": PASSWORD,
            "password-password": "another password",
            "password-confirm": "another password",
        },
        page="/account",
    )
    assert response.status_code == 302
    assert owner.browser.get("/sites").status_code == 200
    assert other.get("/sites").status_code == 302


def test_a_password_reset_ends_a_copied_session(owner: Any, other: Browser) -> None:
    copy_session(owner.browser, other)
    assert other.get("/sites").status_code == 200
    owner.browser.submit("/auth/sign_out", {}, page="/sites")
    assert owner.browser.sign_in("owner@example.com").status_code == 302
    copy_session(owner.browser, other)  # the new session, copied again
    assert other.get("/sites").status_code == 200
    owner.browser.submit("/auth/forgot_password", {"email": "owner@example.com"})
    path = owner.browser.last_link("/auth/reset/").split("localhost", 1)[1]
    done = owner.browser.submit(path, {"password": "new password 1", "confirm": "new password 1"})
    assert done.status_code == 302
    assert other.get("/sites").status_code == 302


def test_a_signed_in_person_skips_the_sign_in_and_sign_up_pages(owner: Any) -> None:
    assert owner.browser.get("/").location == "/sites"
    assert owner.browser.get("/auth/sign_in").location == "/sites"
    assert owner.browser.get("/auth/sign_up").location == "/sites"
