"""The Community tab, the Kudos tab's External filter and the export's mentions.csv,
fed by real Webmentions verified against a source server on 127.0.0.1."""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.conftest import text
from tests.test_webmentions import hostile
from tests.webmention_helpers import Sources, like_of, reply_to, sources

TARGET = "https://blog.example.com/posts/hello"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBMENTION_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_WEBMENTION_TIMEOUT"] = "2"
    return env


@pytest.fixture
def src() -> Iterator[Sources]:
    with sources() as running:
        yield running


def mention(owner: Any, source: str, target: str = TARGET) -> None:
    c = owner.browser.container
    response = owner.browser.client.post(
        f"/webmention/{owner.uid}", data={"source": source, "target": target}
    )
    assert response.status_code == 202, response.data
    c.clock.tick()
    c.projections.catch_up()


def test_the_community_tab_shows_verified_mentions_newest_first(owner: Any, src: Sources) -> None:
    mention(owner, src.html("/like", like_of(TARGET, author="Ada Lovelace")))
    mention(owner, src.html("/reply", reply_to(TARGET, text="Great read, thanks")))
    mention(owner, src.html("/nolink", "<p>nothing here</p>"))  # rejected: not shown
    page = owner.browser.get(f"/sites/{owner.uid}/community")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    kinds = re.findall(r'class="mention" data-kind="(\w+)"', body)
    assert kinds == ["reply", "like"]
    words = text(page)
    assert "Recent mentions (2)" in words
    assert "Ada Lovelace" in words and "Great read, thanks" in words
    assert src.url("/like") in words and src.url("/nolink") not in words
    assert f'href="http://localhost/webmention/{owner.uid}"' in html_unescaped(body)
    assert "<img" not in body.split('id="mentions"', 1)[1].split("</ol>")[0]  # no remote photo
    assert 'rel="nofollow noopener noreferrer ugc"' in body
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]


def html_unescaped(body: str) -> str:
    import html

    return html.unescape(body)


def test_hostile_mf2_is_shown_as_text_and_never_as_markup(owner: Any, src: Sources) -> None:
    mention(owner, src.html("/hostile", hostile(TARGET)))
    body = owner.browser.get(f"/sites/{owner.uid}/community").get_data(as_text=True)
    feed = body.split('id="mentions"', 1)[1].split("</ol>", 1)[0]
    assert "<script" not in feed and "<iframe" not in feed and "<img" not in feed
    assert "onclick" not in feed and "<b" not in feed
    assert "javascript:" not in feed
    assert "&lt;script&gt;" in feed  # the payload, as text
    kudos = owner.browser.get(f"/sites/{owner.uid}/kudos?source=external").get_data(as_text=True)
    assert "<script" not in kudos.split('id="external-kudos"', 1)[1].split("</table>", 1)[0]


def test_the_kudos_tab_filters_external_kudos_and_shows_where_they_came_from(
    owner: Any, src: Sources
) -> None:
    c = owner.browser.container
    c.configuration.confirm_email(owner.account.uuid)  # a like becomes a kudo once confirmed
    c.tracking.give_kudo(owner.site_id, "/posts/hello", None, "api")
    source = src.html("/like", like_of(TARGET, author="Ada"))
    mention(owner, source)
    everything = text(owner.browser.get(f"/sites/{owner.uid}/kudos"))
    assert "Latest kudos (2)" in everything
    assert "External (Webmention)" in everything
    external = owner.browser.get(f"/sites/{owner.uid}/kudos?source=external")
    words = text(external)
    assert "External kudos (1)" in words
    assert source in words and "(Ada)" in words
    found = re.findall(r"<tr><td>[^<]*</td><td[^>]*>([^<]*)</td>", external.get_data(as_text=True))
    assert found[-1] == "/posts/hello"


def test_the_account_export_includes_mentions(owner: Any, src: Sources) -> None:
    liked = src.html("/like", like_of(TARGET))
    mention(owner, liked)
    mention(owner, src.html("/nolink", "<p>nothing</p>"))
    archive = zipfile.ZipFile(io.BytesIO(owner.browser.get("/account/export.zip").get_data()))
    name = f"sites/{owner.uid}/mentions.csv"
    rows = list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"), newline="")))
    assert [(r["source"], r["status"], r["kind"]) for r in rows] == [
        (liked, "verified", "like"),
        (src.url("/nolink"), "rejected", ""),
    ]
    assert rows[1]["reason"] == "the source does not link to the target"
