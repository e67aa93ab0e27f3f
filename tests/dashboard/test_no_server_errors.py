"""No form input makes a server error: every form and filter, fed odd values."""

from typing import Any

from tests.dashboard.conftest import csrf_token

ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 5000,
    "☃" * 300,
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '=HYPERLINK("http://evil")',
    "2026-13-45",
    "99999999999999999999",
]

SIGNED_OUT_FORMS = {
    "/auth/sign_up": ["email", "password", "timezone"],
    "/auth/sign_in": ["email", "password"],
    "/auth/forgot_password": ["email"],
}
FORMS = {
    "/sites/new": ["url", "timezone", "label"],
    "/account/email": ["email-email", "email-current_password"],
    "/account/password": ["password-current_password", "password-password", "password-confirm"],
    "/account/timezone": ["tz-timezone"],
    "/account/keys": ["key-name", "key-access"],
    "/account/keys/revoke": ["name"],
    "/account/delete": ["email", "current_password"],
    "/account/webhooks": ["hook-url", "hook-events", "hook-platform", "hook-wrap"],
}
SITE_FORMS = {
    "/edit": [
        "label",
        "url",
        "timezone",
        "public",
        "unique_tracking",
        "any_domain",
        "ignored_paths",
        "report_recipients",
    ],
    "/archive": [],
}
QUERIES = {
    "": ["period", "start", "end", "internal"],
    "/embed": ["minified", "spa", "hits", "kudos", "kudos_emoji", "webring"],
    "/events": ["period", "start", "end", "page"],
    "/kudos": ["page"],
    "/journeys": ["period", "page"],
    "/export": ["start", "end"],
}


def test_odd_form_values_never_make_a_server_error(owner: Any, other: Any) -> None:
    for value in ODD:
        _try_every_form(owner, other, value)


def _try_every_form(owner: Any, other: Any, value: str) -> None:
    stranger = other.client
    for url, fields in SIGNED_OUT_FORMS.items():
        token = csrf_token(stranger.get(url).get_data(as_text=True))
        response = stranger.post(url, data={"csrf_token": token, **{n: value for n in fields}})
        assert response.status_code < 500, (url, value, response.status_code)
        assert stranger.get("/sites").status_code == 302  # nobody got signed in
    client = owner.browser.client
    token = csrf_token(client.get("/account").get_data(as_text=True))
    targets = {**FORMS, **{f"/sites/{owner.uid}{k}": v for k, v in SITE_FORMS.items()}}
    for url, fields in targets.items():
        if url in ("/account/delete", "/account/password", "/account/email"):
            continue  # would end the session or change what the other posts need
        data = {name: value for name in fields}
        prefix = fields[0].split("-", 1)[0] + "-" if fields and "-" in fields[0] else ""
        data[f"{prefix}csrf_token"] = token
        response = client.post(url, data=data)
        assert response.status_code < 500, (url, value, response.status_code)
        token = csrf_token(client.get("/account").get_data(as_text=True))
    for path, names in QUERIES.items():
        response = client.get(f"/sites/{owner.uid}{path}", query_string={n: value for n in names})
        assert response.status_code < 500, (path, value, response.status_code)
    for url in ("/account/delete", "/account/password", "/account/email"):
        fields = FORMS[url]
        prefix = fields[0].split("-", 1)[0] + "-" if "-" in fields[0] else ""
        data = {name: value for name in fields}
        data[f"{prefix}csrf_token"] = token
        response = client.post(url, data=data)
        assert response.status_code < 500, (url, value, response.status_code)
        assert client.get("/sites").status_code == 200  # odd values never erase or sign out


def test_odd_token_links_and_uids_never_make_a_server_error(owner: Any) -> None:
    client = owner.browser.client
    for value in ODD:
        if not value.strip() or "/" in value:
            continue
        for url in (
            f"/auth/confirm/{value}",
            f"/auth/reset/{value}",
            f"/sites/{value}",
            f"/public/{value}",
        ):
            assert client.get(url).status_code < 500, url
        assert client.get("/auth/sign_in", query_string={"next": value}).status_code < 500
