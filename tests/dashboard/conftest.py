"""Dashboard fixtures: a test client that fills in forms as a browser does (CSRF token
included), accounts signed in through the real sign-in form, and hits at chosen times.

The real-browser fixtures (Chromium, the live server, the second origin) come from
tests/browser/conftest.py.
"""

import html
import re
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from domain.custom_events import CustomEvent
from domain.hits import Hit, created_event, new_site_scoped_id
from infrastructure.bootstrap import Container
from tests.browser.conftest import browser, driver, pages, sent, tinylytics  # noqa: F401
from tests.conftest import World

PASSWORD = "correct horse"
_TOKEN_INPUT = re.compile(r"<input[^>]*name=\"(?:[\w-]+-)?csrf_token\"[^>]*>")
_VALUE = re.compile(r"value=\"([^\"]+)\"")


def csrf_token(page: str) -> str:
    for tag in _TOKEN_INPUT.findall(page):
        found = _VALUE.search(tag)
        if found:
            return html.unescape(found.group(1))
    raise AssertionError("no CSRF token on the page")


class Browser:
    """A Flask test client used the way a person uses the pages."""

    def __init__(self, client: FlaskClient, container: Container) -> None:
        self.client = client
        self.container = container

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def submit(self, url: str, data: dict[str, Any], page: str | None = None, **kwargs: Any) -> Any:
        """Open `page` (default: `url`), take its CSRF token, post `data` to `url`."""
        token = csrf_token(self.client.get(page or url).get_data(as_text=True))
        fields = {k: v for k, v in data.items() if v is not None}
        prefix = next((k.split("-", 1)[0] + "-" for k in fields if "-" in k), "")
        fields.setdefault(f"{prefix}csrf_token", token)
        return self.client.post(url, data=fields, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD) -> Any:
        return self.submit("/auth/sign_in", {"email": email, "password": password})

    def sign_up(self, email: str, password: str = PASSWORD, timezone: str = "UTC") -> Any:
        return self.submit(
            "/auth/sign_up", {"email": email, "password": password, "timezone": timezone}
        )

    def outbox(self) -> list[Any]:
        folder = Path(self.container.settings.data_dir) / "outbox"
        files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        return [message_from_bytes(f.read_bytes()) for f in files]

    def last_link(self, containing: str) -> str:
        for message in reversed(self.outbox()):
            body = plain_text(message)
            for link in re.findall(r"https?://\S+", body):
                if containing in link:
                    return link
        raise AssertionError(f"no mail with a link containing {containing!r}")


@pytest.fixture
def person(app: Any, container: Container) -> Browser:
    return Browser(app.test_client(), container)


@pytest.fixture
def other(app: Any, container: Container) -> Browser:
    return Browser(app.test_client(), container)


@pytest.fixture
def owner(world: World, person: Browser) -> Iterator[Any]:
    """A signed-in account with one site; `person` is their browser."""
    account = world.account("owner@example.com")
    site = world.site(account, "https://blog.example.com", label="My blog")
    response = person.sign_in("owner@example.com")
    assert response.status_code == 302, response.get_data(as_text=True)
    yield Owner(account=account, site=site, person=person)


class Owner:
    def __init__(self, account: Any, site: Any, person: Browser) -> None:
        self.account = account
        self.site = site
        self.browser = person

    @property
    def uid(self) -> str:
        return str(self.site.uid)

    @property
    def site_id(self) -> UUID:
        return UUID(str(self.site.uuid))


def hit(site: UUID, when: datetime, path: str = "/", **fields: Any) -> Any:
    """A `Hit.Recorded` event at a chosen UTC time, every field settable."""
    values: dict[str, Any] = {
        "path": path,
        "url": None,
        "referrer": None,
        "country": "XX",
        "browser": None,
        "platform": None,
        "is_mobile": False,
        "source": "direct",
        "utm_campaign": None,
        "utm_medium": None,
        "unique_hash": None,
        "visitor_hash": None,
        "channel": "script",
        "subscribers": None,
    }
    values.update(fields)
    return created_event(
        Hit,
        new_site_scoped_id(site),
        when,
        site_id=site,
        **values,
    )


def custom_event(site: UUID, when: datetime, name: str, value: str | None = None) -> Any:
    return created_event(
        CustomEvent,
        new_site_scoped_id(site),
        when,
        site_id=site,
        name=name,
        value=value,
        path="/",
        url=None,
        referrer=None,
        country="XX",
        source=None,
        browser=None,
        platform=None,
        is_mobile=False,
        unique_hash=None,
        visitor_hash=None,
        channel="script",
    )


def plain_text(message: Any) -> str:
    """The text/plain part of a mail (every mail is multipart: text and HTML)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode()).replace("\r\n", "\n")
    raise AssertionError("no text/plain part")


def record(container: Container, items: list[Any]) -> None:
    container.tracking.record(items)
    container.projections.catch_up()


def text(response: Any) -> str:
    """The page as text, entities decoded and tags dropped (for phrases split by markup)."""
    page = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(page))
