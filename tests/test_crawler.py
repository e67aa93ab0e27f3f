"""The content crawler against real local sites on loopback (HTTP and HTTPS): what it
collects, what it checks once, how it treats faults, and how it stays polite."""

from collections.abc import Iterator

import pytest
import trustme

from application.crawling import CrawlPlan, CrawlReport, LinkCheck
from domain.links import NotAUrl, Role, normalize
from infrastructure.crawler import USER_AGENT, CrawlLimits, SafeCrawler
from tests.content_helpers import (
    LOOPBACK,
    Answer,
    Handler,
    Route,
    Site,
    client_tls,
    page,
    serving,
)


def crawler(**limits: object) -> SafeCrawler:
    return SafeCrawler(LOOPBACK, CrawlLimits(**limits))  # type: ignore[arg-type]


def by_url(report: CrawlReport) -> dict[str, LinkCheck]:
    return {c.url: c for c in report.checks}


@pytest.fixture
def external() -> Iterator[Site]:
    with serving(
        {
            "/ok": Answer(200, "fine"),
            "/gone": Answer(404, "gone"),
            "/img.png": Answer(200, b"\x89PNG", {"Content-Type": "image/png"}),
            "/no-head": Answer(200, "ok", head_status=405),
        }
    ) as site:
        yield site


def test_every_kind_of_reference_is_collected_and_checked_once(external: Site) -> None:
    ext = external.origin
    routes = {
        "/": page(
            '<a href="/about">About</a> <a href="/about#team">Team</a>',
            f'<a href="{ext}/ok">ok</a> <a href="{ext}/gone">gone</a>',
            '<img src="/a.png" srcset="/a-2x.png 2x, /a-3x.png 3x">',
            '<picture><source srcset="/p.webp 1x"><img src="/p.jpg"></picture>',
            '<script src="/app.js"></script>',
            '<link rel="stylesheet" href="/site.css"><link rel="icon" href="/favicon.ico">',
            '<iframe src="/frame"></iframe>',
            '<video src="/v.mp4" poster="/poster.jpg"><source src="/v.webm"></video>',
            '<audio src="/a.mp3"></audio><object data="/o.pdf"></object>',
            '<embed src="/e.swf"><form action="/search"></form>',
            "<style>body{background:url('/bg.png')} @import \"/more.css\";</style>",
            '<div style="background-image: url(/inline.png)"></div>',
            '<a href="mailto:me@example.com">m</a> <a href="tel:+1555">t</a>',
            '<a href="javascript:void(0)">j</a> <a href="#top">top</a>',
        ),
        "/about": page('<a href="/">home</a> <a href="/missing">missing</a>'),
        "/site.css": Answer(200, "h1{background:url(fonts/f.woff2)}", {"Content-Type": "text/css"}),
        "/frame": page("frame"),
        "/search": page("search"),
    }
    for path in (
        "/a.png",
        "/a-2x.png",
        "/a-3x.png",
        "/p.webp",
        "/p.jpg",
        "/app.js",
        "/favicon.ico",
        "/v.mp4",
        "/poster.jpg",
        "/v.webm",
        "/a.mp3",
        "/o.pdf",
        "/e.swf",
        "/bg.png",
        "/more.css",
        "/inline.png",
        "/fonts/f.woff2",
    ):
        routes[path] = Answer(200, b"x", {"Content-Type": "application/octet-stream"})
    with serving(routes) as site:
        report = crawler().crawl(CrawlPlan(site.origin))
    found = by_url(report)
    expected = {site.url(p) for p in routes} | {site.url("/missing"), ext + "/ok", ext + "/gone"}
    assert set(found) == expected
    assert report.complete and report.skipped == 4
    assert found[site.url("/missing")].status_code == 404
    assert found[site.url("/missing")].error_message == "Not Found"
    assert found[ext + "/gone"].broken and found[ext + "/gone"].error_message == "Not Found"
    assert found[ext + "/ok"].status_code == 200 and not found[ext + "/ok"].broken
    assert found[site.url("/about")].role is Role.PAGE
    assert found[site.url("/a.png")].role is Role.RESOURCE
    assert found[site.url("/fonts/f.woff2")].found_on == (site.url("/site.css"),)
    # Each distinct URL once: /about and /about#team are one page, fetched once.
    for path in routes:
        assert site.hits(path) == 1, path
    assert external.hits("/ok") == 1
    # The external 404 was tried with HEAD, then GET; nothing else was fetched twice.
    assert external.hits("/gone", "HEAD") == 1 and external.hits("/gone", "GET") == 1
    assert {r.headers["User-Agent"] for r in site.requests} == {USER_AGENT}


def test_head_refused_falls_back_to_get(external: Site) -> None:
    with serving({"/": page(f'<a href="{external.origin}/no-head">x</a>')}) as site:
        report = crawler().crawl(CrawlPlan(site.origin))
    check = by_url(report)[external.url("/no-head")]
    assert check.status_code == 200 and not check.broken
    assert external.hits("/no-head", "HEAD") == 1 and external.hits("/no-head", "GET") == 1


def test_base_href_fragments_encoding_and_international_hosts() -> None:
    assert normalize("page#x", "https://a.example/dir/") == "https://a.example/dir/page"
    assert normalize("/a b/ü", "https://a.example/") == "https://a.example/a%20b/%C3%BC"
    assert normalize("/a%20b", "https://a.example/") == "https://a.example/a%20b"
    assert normalize("http://Bücher.Example:80/x", "https://a.example/") == (
        "http://xn--bcher-kva.example/x"
    )
    assert normalize("HTTPS://A.EXAMPLE:443", "https://a.example/") == "https://a.example/"
    assert normalize("mailto:x@y.z", "https://a.example/") is None
    assert normalize("  #top", "https://a.example/") is None
    with pytest.raises(NotAUrl):
        normalize("http://[not-an-ip/", "https://a.example/")
    routes = {
        "/": page('<base href="/docs/"><a href="guide">g</a><a href="http://[oops/">bad</a>'),
        "/docs/guide": page("guide"),
    }
    with serving(routes) as site:
        report = crawler().crawl(CrawlPlan(site.origin))
    found = by_url(report)
    assert found[site.url("/docs/guide")].status_code == 200
    assert found["http://[oops/"].error_message == "Not a valid URL"
    assert site.hits("/guide") == 0


def test_international_host_is_asked_for_by_its_ascii_name() -> None:
    with serving({"/": Answer(200, "ok")}) as other:

        def resolver(host: str, port: int) -> list[str]:
            assert host == "xn--bcher-kva.example"
            return ["127.0.0.1"]

        link = f"http://bücher.example:{other.port}/"
        with serving({"/": page(f'<a href="{link}">b</a>')}) as site:
            report = SafeCrawler(LOOPBACK, resolver=resolver).crawl(CrawlPlan(site.origin))
        check = by_url(report)[f"http://xn--bcher-kva.example:{other.port}/"]
        assert check.status_code == 200
        assert other.requests[0].headers["Host"] == f"xn--bcher-kva.example:{other.port}"


def test_only_pages_under_the_root_are_crawled() -> None:
    routes = {
        "/blog": page('<a href="/blog/one">1</a> <a href="/shop">shop</a>'),
        "/blog/one": page('<a href="/blog">up</a> <a href="/blogroll">br</a>'),
        "/shop": page('<a href="/shop/deep">never</a>'),
        "/blogroll": page('<a href="/blogroll/deep">never</a>'),
    }
    with serving(routes) as site:
        report = crawler().crawl(CrawlPlan(site.origin, root="/blog"))
    found = by_url(report)
    assert found[site.url("/shop")].role is Role.LINK  # checked, not crawled
    assert found[site.url("/blogroll")].role is Role.LINK
    assert site.url("/shop/deep") not in found and site.url("/blogroll/deep") not in found
    assert site.hits("/shop", "HEAD") == 1 and site.hits("/shop", "GET") == 0
    assert report.pages == 2


def test_external_links_never_reach_private_addresses() -> None:
    with serving(
        {"/": page('<a href="http://10.0.0.1/admin">x</a><img src="http://[::1]/i">')}
    ) as site:
        report = crawler().crawl(CrawlPlan(site.origin))
    found = by_url(report)
    assert found["http://10.0.0.1/admin"].error_message == (
        "Refused address: 10.0.0.1 is a private network address"
    )
    assert found["http://[::1]/i"].broken
    assert "loopback" in (found["http://[::1]/i"].error_message or "")


def test_faults_redirect_loops_timeouts_errors_binary_and_huge_pages() -> None:
    huge = "<p>" + "x" * 300_000 + '</p><a href="/after-the-limit">late</a>'
    routes = {
        "/": page(
            '<a href="/loop1">loop</a> <a href="/slow">slow</a> <a href="/boom">boom</a>',
            '<a href="/moved">moved</a> <a href="/binary">bin</a> <a href="/huge">huge</a>',
            "<div><a href='/unclosed'>unclosed<p><img src=/img.png></div></a></td>",
        ),
        "/loop1": Answer(302, "", {"Location": "/loop2"}),
        "/loop2": Answer(302, "", {"Location": "/loop1"}),
        "/moved": Answer(301, "", {"Location": "/target"}),
        "/target": page("here"),
        "/slow": Answer(200, "late", delay=2.0),
        "/boom": Answer(500, "oops"),
        "/binary": Answer(200, b"\x00\x01\x02<a href='/from-binary'>" * 50),
        "/huge": Answer(200, huge),
        "/unclosed": page("u"),
        "/img.png": Answer(200, b"x", {"Content-Type": "image/png"}),
    }
    with serving(routes) as site:
        report = crawler(request_timeout=0.5, page_bytes=100_000).crawl(CrawlPlan(site.origin))
    found = by_url(report)
    assert found[site.url("/loop1")].error_message == "Redirect loop"
    assert found[site.url("/slow")].error_message.startswith("Timed out")  # type: ignore[union-attr]
    assert found[site.url("/boom")].status_code == 500
    assert found[site.url("/boom")].error_message == "Internal Server Error"
    assert found[site.url("/moved")].status_code == 200 and site.hits("/target") == 1
    assert found[site.url("/binary")].status_code == 200
    assert site.url("/from-binary") not in found
    assert site.url("/after-the-limit") not in found  # past the size limit: never read
    assert found[site.url("/unclosed")].status_code == 200
    assert found[site.url("/img.png")].status_code == 200
    # Pages that could not be read (a time-out, a 500) leave the crawl incomplete.
    assert not report.complete and "could not be read" in (report.stopped_because or "")


def test_an_endless_calendar_stops_at_the_page_cap() -> None:
    def month(handler: Handler) -> Answer:
        number = int(handler.path.rsplit("/", 1)[1])
        return page(f'<a href="/cal/{number + 1}">next</a><a href="/cal/{number - 1}">prev</a>')

    class Calendar(dict):  # type: ignore[type-arg]
        def get(self, path: str, default: object = None) -> object:
            return month if path.startswith("/cal/") else super().get(path, default)

    with serving(Calendar({"/": page('<a href="/cal/0">calendar</a>')})) as site:
        report = crawler(max_pages=25).crawl(CrawlPlan(site.origin))
    assert report.pages == 25
    assert not report.complete and "page cap" in (report.stopped_because or "")
    assert len(site.requests) < 60  # the pages, and a HEAD for each link past the cap


def test_429_retry_after_is_honoured_for_the_host() -> None:
    asked: list[int] = []

    def limited(_handler: Handler) -> Answer:
        asked.append(1)
        if len(asked) == 1:
            return Answer(429, "slow down", {"Retry-After": "7"})
        return Answer(200, "ok")

    waits: list[float] = []
    with serving({"/": page('<a href="/limited">x</a>'), "/limited": limited}) as site:
        report = SafeCrawler(LOOPBACK, sleep=waits.append).crawl(CrawlPlan(site.origin))
    assert by_url(report)[site.url("/limited")].status_code == 200
    assert len(asked) == 2
    assert waits and max(waits) == pytest.approx(7, abs=0.5)


def test_at_most_per_host_requests_in_flight() -> None:
    routes: dict[str, object] = {
        "/": page(*(f'<img src="/slow/{i}">' for i in range(12))),
    }
    for i in range(12):
        routes[f"/slow/{i}"] = Answer(200, b"x", {"Content-Type": "image/png"}, delay=0.1)
    with serving(routes) as site:  # type: ignore[arg-type]
        report = crawler(per_host=2).crawl(CrawlPlan(site.origin))
    assert report.complete and len(report.checks) == 13
    assert site.most_in_flight == 2


def test_mixed_content_on_an_https_page_but_not_plain_links(external: Site) -> None:
    ca = trustme.CA()
    insecure = external.origin  # http://
    routes = {
        "/": page(
            f'<img src="{insecure}/img.png"> <a href="{insecure}/ok">plain link</a>',
            f'<script src="{insecure}/ok"></script>',
            '<img src="/secure.png">',
        ),
        "/secure.png": Answer(200, b"x", {"Content-Type": "image/png"}),
    }
    with serving(routes, tls=ca) as site:
        report = SafeCrawler(LOOPBACK, tls=client_tls(ca)).crawl(CrawlPlan(site.origin))
    found = by_url(report)
    assert found[insecure + "/img.png"].mixed
    # One URL used as a link and as a script: loaded by the browser, so mixed.
    assert found[insecure + "/ok"].mixed and found[insecure + "/ok"].role is Role.RESOURCE
    assert not found[site.url("/secure.png")].mixed
    assert found[site.url("/")].status_code == 200


def test_an_interrupted_crawl_says_so() -> None:
    import threading

    stop = threading.Event()
    stop.set()
    with serving({"/": page('<a href="/a">a</a>')}) as site:
        report = SafeCrawler(LOOPBACK, stop=stop).crawl(CrawlPlan(site.origin))
    assert not report.complete and "interrupted" in (report.stopped_because or "")


def test_an_unreachable_start_page_is_broken_and_incomplete() -> None:
    with serving({}) as site:
        origin = site.origin
    report = crawler(connect_timeout=0.5).crawl(CrawlPlan(origin))
    assert report.checks[0].error_message == "Connection refused"
    assert not report.complete


def test_a_start_page_that_is_gone_leaves_the_crawl_incomplete() -> None:
    """A site whose home page answers 404 for a while must not have every issue fixed."""
    with serving({}) as site:
        report = crawler().crawl(CrawlPlan(site.origin))
    assert report.checks[0].status_code == 404
    assert not report.complete and report.stopped_because == "the start page could not be read"


def many_pages(count: int) -> dict[str, Route]:
    links = "".join(f'<a href="/p{i}">{i}</a> <img src="/i{i}.png">' for i in range(count))
    routes: dict[str, Route] = {"/": page(links)}
    for i in range(count):
        routes[f"/p{i}"] = page('<a href="/">home</a>')
        routes[f"/i{i}.png"] = Answer(200, b"x", {"Content-Type": "image/png"})
    return routes


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connections_are_kept_alive_within_a_crawl(scheme: str) -> None:
    ca = trustme.CA() if scheme == "https" else None
    with serving(many_pages(40), tls=ca) as site:
        tls = client_tls(ca) if ca is not None else None
        crawl = SafeCrawler(LOOPBACK, CrawlLimits(per_host=3), tls=tls)
        report = crawl.crawl(CrawlPlan(site.origin))
    assert report.complete
    assert len(report.checks) == 81 and not [c for c in report.checks if c.broken]
    # 121 requests (robots.txt, 41 pages, 40 images: HEAD, then none) over at most one
    # connection per request in flight, not one per request.
    assert len(site.requests) >= 82
    assert site.connections <= 3


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    with serving(many_pages(20)) as site:
        site.drop_silently = True
        report = crawler(per_host=2).crawl(CrawlPlan(site.origin))
    assert report.complete
    assert len(report.checks) == 41 and not [c for c in report.checks if c.broken]
    assert site.connections == len(site.requests)  # each kept one found closed, and replaced
