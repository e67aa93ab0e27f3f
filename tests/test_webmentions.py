"""Webmentions end to end: the endpoint's request checks, verification as a clock job
against real source pages on 127.0.0.1 (allowed by TINYLYTICS_WEBMENTION_ALLOWED_NETWORKS),
modelled on the webmention.rocks receiver tests (a source with a link, without one,
updated, deleted with 410), likes as kudos, and the sources a receiver must survive."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from domain.webmentions import KUDO_CHANNEL, kudo_uid_for
from infrastructure.bootstrap import Container
from tests.conftest import World, bearer
from tests.test_webhooks import Hooks, hooks  # noqa: F401 (the fixture)
from tests.webmention_helpers import Page, Sources, like_of, reply_to, repost_of, sources

SITE = "https://example.com"
TARGET = "https://example.com/posts/hello"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    env["TINYLYTICS_WEBMENTION_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    env["TINYLYTICS_WEBMENTION_TIMEOUT"] = "2"
    env["TINYLYTICS_WEBMENTION_RATE_LIMIT"] = "5"
    env["TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"  # the new_kudo test's
    return env


@dataclass
class Mentions:
    c: Container
    client: FlaskClient
    world: World
    owner: Any
    site: Any
    uid: str
    src: Sources
    key: dict[str, str]

    def send(self, source: Any, target: Any = TARGET, **kwargs: Any) -> Any:
        data = {k: v for k, v in (("source", source), ("target", target)) if v is not None}
        return self.client.post(f"/webmention/{self.uid}", data=data, **kwargs)

    def verify(self) -> int:
        """Fire the due verification jobs, then bring the read models up to date."""
        fired = self.c.clock.tick()
        self.c.projections.catch_up()
        return fired

    def status(self, response: Any) -> tuple[str, str]:
        """What the status page at the answer's Location says: (status, its sentence)."""
        assert response.status_code == 202, response.data
        path = urlsplit(response.headers["Location"]).path
        page = self.client.get(path)
        assert page.status_code == 200
        found = re.search(r'data-status="(\w+)">(.*?)</dd>', page.get_data(as_text=True), re.S)
        assert found, page.get_data(as_text=True)
        return found.group(1), found.group(2).strip()

    def kudos(self) -> list[dict[str, Any]]:
        found = self.client.get(f"/api/v1/sites/{self.site.id}/kudos", headers=self.key)
        assert found.status_code == 200, found.json
        return list(found.json["kudos"])

    def mention(self, source: str) -> Any:
        rows = [m for m in self.c.reads.mentions.export(self.site.uuid) if m.source == source]
        assert len(rows) == 1
        return rows[0]


@pytest.fixture
def wm(container: Container, client: FlaskClient, world: World) -> Iterator[Mentions]:
    owner = world.account("owner@example.com", confirmed=True)
    site = world.site(owner, SITE)
    uid = container.configuration.get_site(site.uuid).uid
    with sources() as src:
        key = bearer(world.key(owner))
        yield Mentions(container, client, world, owner, site, uid, src, key)


# -- the request (W3C Webmention 3.2.1) ---------------------------------------------------
@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        (None, TARGET, "source is missing"),
        ("https://a.example/p", None, "target is missing"),
        ("", TARGET, "source is missing"),
        ("javascript:alert(1)", TARGET, "source must be an http:// or https:// URL"),
        ("file:///etc/passwd", TARGET, "source must be an http:// or https:// URL"),
        ("https://a.example/p", "file:///etc/passwd", "target must be an http:// or https://"),
        ("https://a.example/p", "javascript:alert(1)", "target must be an http:// or https://"),
        ("ftp://a.example/p", TARGET, "source must be an http:// or https:// URL"),
        (
            "https://a.example/p",
            "https://evil.example/posts/hello",
            "target is not a page of this site",
        ),
        ("https://a.example/p", "https://sub.example.com/x", "target is not a page of this site"),
        (TARGET, TARGET, "source and target must not be the same URL"),
        (TARGET + "#here", TARGET, "source and target must not be the same URL"),
        ("https://a.example/" + "x" * 3000, TARGET, "source is too long"),
        ("https://a.example/a b", TARGET, "source must not contain spaces"),
        ("https://user:pw@a.example/p", TARGET, "source must not contain a user name"),
        ("https:///nohost", TARGET, "source must name a host"),
    ],
)
def test_a_bad_request_is_400_with_a_plain_reason_and_stores_nothing(
    wm: Mentions, source: Any, target: Any, reason: str
) -> None:
    response = wm.send(source, target)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert reason in response.get_data(as_text=True)
    wm.c.projections.catch_up()
    assert list(wm.c.reads.mentions.export(wm.site.uuid)) == []
    assert wm.c.schedule.keys("webmention.verify") == {}


def test_not_form_encoded_huge_repeated_and_unknown_are_refused(wm: Mentions) -> None:
    as_json = wm.client.post(
        f"/webmention/{wm.uid}",
        json={"source": "https://a.example/p", "target": TARGET},
    )
    assert as_json.status_code == 400
    assert "form-encoded" in as_json.get_data(as_text=True)
    huge = wm.client.post(
        f"/webmention/{wm.uid}",
        data="source=" + "a" * 20_000 + "&target=" + TARGET,
        content_type="application/x-www-form-urlencoded",
    )
    assert huge.status_code == 413
    twice = wm.client.post(
        f"/webmention/{wm.uid}",
        data="source=https://a.example/1&source=https://a.example/2&target=" + TARGET,
        content_type="application/x-www-form-urlencoded",
    )
    assert twice.status_code == 400
    assert "give source once" in twice.get_data(as_text=True)
    not_utf8 = wm.client.post(
        f"/webmention/{wm.uid}",
        data=b"source=%FF%FE&target=" + TARGET.encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert not_utf8.status_code == 400
    unknown = wm.client.post(
        "/webmention/nosuchsite", data={"source": "https://a.example/p", "target": TARGET}
    )
    assert unknown.status_code == 404
    wm.c.projections.catch_up()
    assert list(wm.c.reads.mentions.export(wm.site.uuid)) == []


def test_a_good_request_is_202_with_a_status_url_that_says_queued(wm: Mentions) -> None:
    response = wm.send("https://a.example/p", "https://www.example.com/posts/hello")
    assert response.status_code == 202
    assert response.headers["Location"].startswith("http://localhost/webmention/")
    assert wm.status(response) == (
        "queued",
        "queued: the source will be fetched and checked shortly",
    )
    assert len(wm.c.schedule.keys("webmention.verify")) == 1


def test_an_archived_site_takes_no_webmentions(wm: Mentions) -> None:
    from application.sites import SiteChanges

    wm.c.configuration.change_site(wm.site.uuid, SiteChanges(archived=True))
    wm.c.collection._cache.clear()
    response = wm.send("https://a.example/p")
    assert response.status_code == 400
    assert "archived" in response.get_data(as_text=True)


def test_sources_are_rate_limited_per_host_and_url(wm: Mentions) -> None:
    answers = [wm.send(f"https://busy.example/{n}").status_code for n in range(6)]
    assert answers == [202] * 5 + [429]
    limited = wm.send("https://busy.example/6")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3600"
    assert "too many" in limited.get_data(as_text=True)
    assert wm.send("https://quiet.example/1").status_code == 202  # another source


# -- verification (webmention.rocks-like receiver cases) ----------------------------------
def test_a_like_is_verified_and_becomes_an_external_kudo_on_the_target_path(wm: Mentions) -> None:
    source = wm.src.html("/like", like_of(TARGET))
    response = wm.send(source)
    assert wm.verify() == 1
    assert wm.status(response) == (
        "verified",
        "verified: the source links to the target; it is a like",
    )
    row = wm.mention(source)
    assert (row.kind, row.author_name, row.author_url) == ("like", "Ada", "https://ada.example/")
    assert row.snippet == "Liked this"
    assert row.published == "2026-12-01T10:00:00Z"
    kudos = wm.kudos()
    assert [(k["path"], k["uid"]) for k in kudos] == [
        ("/posts/hello", kudo_uid_for(source, TARGET))
    ]
    assert wm.c.reads.kudos.lifetime([wm.site.uuid]) == {wm.site.uuid: 1}
    channels = {r.channel for r in wm.c.reads.kudos.export(wm.site.uuid)}
    assert channels == {KUDO_CHANNEL}
    # Sent again unchanged: still one mention and one kudo.
    wm.send(source)
    wm.verify()
    assert len(wm.kudos()) == 1
    assert wm.src.requested == ["/like", "/like"]


def test_a_verified_like_fires_new_kudo_once_and_its_removal_nothing(hooks: Hooks) -> None:  # noqa: F811
    h = hooks
    h.create("new_kudo")
    uid = h.c.configuration.get_site(h.site.uuid).uid
    with sources() as src:
        source = src.html("/like", like_of(TARGET))
        form = {"source": source, "target": TARGET}
        assert h.client.post(f"/webmention/{uid}", data=form).status_code == 202
        h.c.clock.tick()
        h.client.post(f"/webmention/{uid}", data=form)  # sent again, unchanged
        h.c.clock.tick()
        src.serve("/like", Page(b"", 410))
        h.client.post(f"/webmention/{uid}", data=form)
        h.c.clock.tick()
    got = h.deliver()
    assert [r.headers["x-tinylytics-event"] for r in got] == ["new_kudo"]
    kudo = got[0].json["kudo"]
    assert (kudo["path"], kudo["uid"]) == ("/posts/hello", kudo_uid_for(source, TARGET))


def test_a_source_without_a_link_is_rejected(wm: Mentions) -> None:
    source = wm.src.html(
        "/nolink", '<p>I wrote about <a href="https://example.com/other">x</a></p>'
    )
    response = wm.send(source)
    wm.verify()
    assert wm.status(response) == ("rejected", "rejected: the source does not link to the target")
    assert wm.kudos() == []


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (repost_of(TARGET), "repost"),
        (reply_to(TARGET), "reply"),
        (f'<p>See <a href="{TARGET}">this post</a>.</p>', "mention"),
        (
            '<div class="h-entry"><a class="u-like-of" href="https://else.example/">x</a>'
            f'<a href="{TARGET}">t</a></div>',
            "mention",
        ),
        ('<base href="https://example.com/posts/"><a href="hello">relative</a>', "mention"),
    ],
)
def test_reposts_replies_and_mentions_are_verified_without_a_kudo(
    wm: Mentions, body: str, kind: str
) -> None:
    source = wm.src.html("/page", body)
    response = wm.send(source)
    wm.verify()
    assert wm.status(response)[0] == "verified"
    assert wm.mention(source).kind == kind
    assert wm.kudos() == []


def test_a_plain_text_source_that_contains_the_target_is_a_mention(wm: Mentions) -> None:
    source = wm.src.serve("/note.txt", Page(f"see {TARGET}\n".encode(), content_type="text/plain"))
    wm.send(source)
    wm.verify()
    assert (wm.mention(source).status, wm.mention(source).kind) == ("verified", "mention")


def test_an_updated_source_updates_the_mention_and_its_kudo(wm: Mentions) -> None:
    source = wm.src.html("/post", like_of(TARGET, text="first"))
    wm.send(source)
    wm.verify()
    assert len(wm.kudos()) == 1
    # webmention.rocks "update": the sender edits its post and sends again.
    wm.src.html("/post", reply_to(TARGET, text="second thoughts"))
    response = wm.send(source)
    assert wm.status(response)[0] == "queued"
    wm.verify()
    row = wm.mention(source)
    assert (row.status, row.kind, row.snippet) == ("verified", "reply", "second thoughts")
    assert wm.kudos() == []  # no longer a like: its kudo is withdrawn
    wm.src.html("/post", like_of(TARGET, text="liked after all"))
    wm.send(source)
    wm.verify()
    assert len(wm.kudos()) == 1  # given again, one per source and target
    assert wm.c.reads.kudos.lifetime([wm.site.uuid]) == {wm.site.uuid: 1}


def test_a_deleted_source_410_removes_the_mention_and_withdraws_its_kudo(wm: Mentions) -> None:
    source = wm.src.html("/gone", like_of(TARGET))
    wm.send(source)
    wm.verify()
    assert len(wm.kudos()) == 1
    wm.src.serve("/gone", Page(b"gone", 410, "text/plain"))
    response = wm.send(source)
    wm.verify()
    assert wm.status(response) == ("removed", "removed: the source is gone (410 Gone)")
    assert wm.kudos() == []
    assert wm.c.reads.kudos.lifetime([wm.site.uuid]) == {wm.site.uuid: 0}
    assert wm.c.reads.mentions.feed(wm.site.uuid, 10) == (0, [])


def test_a_source_that_no_longer_links_removes_the_mention(wm: Mentions) -> None:
    source = wm.src.html("/edited", like_of(TARGET))
    wm.send(source)
    wm.verify()
    wm.src.html("/edited", "<p>Changed my mind.</p>")
    response = wm.send(source)
    wm.verify()
    assert wm.status(response) == ("removed", "removed: the source does not link to the target")
    assert wm.kudos() == []


def test_a_source_down_for_a_moment_keeps_a_verified_mention(wm: Mentions) -> None:
    source = wm.src.html("/flaky", like_of(TARGET))
    wm.send(source)
    wm.verify()
    wm.src.serve("/flaky", Page(b"oops", 503, "text/plain"))
    response = wm.send(source)
    wm.verify()
    assert wm.status(response)[0] == "verified"
    assert len(wm.kudos()) == 1


# -- sources a receiver must survive ------------------------------------------------------
def _rejected(wm: Mentions, source: str) -> str:
    response = wm.send(source)
    wm.verify()
    status, sentence = wm.status(response)
    assert status == "rejected", sentence
    assert wm.kudos() == []
    return sentence


@pytest.mark.parametrize(
    "source",
    [
        "http://localhost:{port}/like",
        "http://10.1.2.3/like",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/like",
        "http://167772161/like",  # 10.0.0.1, as a number
        "http://0x0a.0.0.1/like",
    ],
)
def test_sources_on_private_addresses_are_never_fetched(wm: Mentions, source: str) -> None:
    wm.src.html("/like", like_of(TARGET))
    sentence = _rejected(wm, source.format(port=wm.src.port))
    assert "Refused address" in sentence
    assert wm.src.requested == []


def test_a_redirect_to_a_private_address_is_refused(wm: Mentions) -> None:
    source = wm.src.serve("/hop", Page(b"", 302, headers={"Location": "http://10.0.0.1/like"}))
    assert "Refused address" in _rejected(wm, source)


def test_a_redirect_is_followed_to_the_real_page(wm: Mentions) -> None:
    wm.src.html("/real", like_of(TARGET))
    source = wm.src.serve("/short", Page(b"", 301, headers={"Location": "/real"}))
    wm.send(source)
    wm.verify()
    assert wm.mention(source).kind == "like"
    assert wm.src.requested == ["/short", "/real"]


def test_a_redirect_loop_is_given_up(wm: Mentions) -> None:
    source = wm.src.serve("/loop", Page(b"", 302, headers={"Location": "/loop"}))
    assert "Too many redirects" in _rejected(wm, source)
    assert len(wm.src.requested) == 6


def test_a_source_that_hangs_is_given_up_at_the_time_limit(wm: Mentions) -> None:
    wm.src.pages["/slow"] = Page(like_of(TARGET).encode(), delay=4.0)
    assert "Timed out" in _rejected(wm, wm.src.url("/slow"))


def test_a_10_mb_source_is_refused_without_reading_it_all(wm: Mentions) -> None:
    declared = wm.src.serve("/big", Page(b"<p>" + b"x" * (10 * 1024 * 1024) + b"</p>"))
    assert "Too large" in _rejected(wm, declared)
    streamed = wm.src.serve(
        "/stream", Page(f'<a href="{TARGET}">t</a>'.encode(), stream=10 * 1024 * 1024)
    )
    assert "Too large" in _rejected(wm, streamed)


def test_binary_sources_are_refused(wm: Mentions) -> None:
    png = wm.src.serve(
        "/a.png", Page(b"\x89PNG\r\n\x1a\n" + TARGET.encode(), content_type="image/png")
    )
    assert "not HTML or text (image/png)" in _rejected(wm, png)
    disguised = wm.src.serve("/bin", Page(b"\x00\x01" + TARGET.encode() + b"\x00"))
    assert "binary" in _rejected(wm, disguised)


SCRIPT = "<script>window.__pwned=1</script>"


def hostile(target: str) -> str:
    """A like whose every mf2 property carries a script payload."""
    return (
        '<article class="h-entry">'
        '<div class="p-author h-card">'
        f'<span class="p-name">{SCRIPT}&lt;img src=x onerror=alert(1)&gt;</span>'
        '<a class="u-url" href="javascript:alert(1)">me</a>'
        '<img class="u-photo" src="javascript:alert(2)"></div>'
        f'<h1 class="p-name">&lt;script&gt;alert(3)&lt;/script&gt; title</h1>'
        f'<div class="e-content"><b onclick="alert(4)">bold</b>{SCRIPT}<iframe src="https://evil.example/"></iframe></div>'
        '<time class="dt-published">&lt;svg onload=alert(5)&gt;</time>'
        f'<a class="u-like-of" href="{target}">liked</a>'
        "</article>"
    )


def test_script_payloads_in_every_mf2_property_are_kept_as_plain_text_only(wm: Mentions) -> None:
    source = wm.src.html("/hostile", hostile(TARGET))
    wm.send(source)
    wm.verify()
    row = wm.mention(source)
    assert row.kind == "like"
    assert row.author_url is None and row.author_photo is None  # javascript: dropped
    for text in (row.author_name, row.title, row.snippet, row.published):
        assert text is None or "\n" not in text
    assert row.snippet is not None and "bold" in row.snippet and "<b" not in row.snippet


def test_erasing_the_account_leaves_no_mention_behind(wm: Mentions, settings: Any) -> None:
    from tests.test_erasure import traces

    source = wm.src.html("/erase-me-please", like_of(TARGET, author="Zelda Unique"))
    response = wm.send(source)
    wm.verify()
    mention_hex = urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1]
    needles = [source, "zelda unique", mention_hex, str(wm.site.uuid)]
    assert {n for _t, n in traces(settings, needles)} >= {source, "zelda unique"}
    wm.c.erasure.delete_account(wm.owner.uuid)
    wm.c.projections.catch_up()
    assert traces(settings, needles) == []
