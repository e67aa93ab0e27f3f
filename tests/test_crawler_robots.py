"""robots.txt: the crawler reads the site's once per crawl, through the guarded client,
and neither crawls nor checks what it disallows for our User-Agent (or for `*` when it
has no group for us); a link to a disallowed page is not a broken link."""

from application.crawling import CrawlPlan, CrawlReport, LinkCheck
from infrastructure.crawler import USER_AGENT, CrawlLimits, SafeCrawler
from tests.content_helpers import LOOPBACK, Answer, Site, page, serving


def crawl(site: Site, start: str | None = None) -> CrawlReport:
    return SafeCrawler(LOOPBACK, CrawlLimits()).crawl(CrawlPlan(site.origin, start=start))


def by_url(report: CrawlReport) -> dict[str, LinkCheck]:
    return {c.url: c for c in report.checks}


def robots(text: str, status: int = 200) -> Answer:
    return Answer(status, text, {"Content-Type": "text/plain"})


def test_pages_disallowed_for_everyone_are_neither_crawled_nor_broken() -> None:
    routes = {
        "/robots.txt": robots("User-agent: *\nDisallow: /private/\n"),
        "/": page(
            '<a href="/about">about</a> <a href="/private/secret">secret</a>',
            '<img src="/private/pixel.png"> <a href="/missing">missing</a>',
        ),
        "/about": page('<a href="/private/other">other</a>'),
        # Broken if it were fetched: the crawl must not ask.
        "/private/secret": Answer(500, "no"),
    }
    with serving(routes) as site:
        report = crawl(site)
    found = by_url(report)
    assert site.hits("/robots.txt") == 1
    assert [r.headers["User-Agent"] for r in site.requests if r.path == "/robots.txt"] == [
        USER_AGENT
    ]
    assert not [r for r in site.requests if r.path.startswith("/private/")]
    assert not [u for u in found if "/private/" in u]
    assert {u for u, c in found.items() if c.broken} == {site.url("/missing")}
    assert report.complete and report.disallowed == 3
    assert site.url("/about") in found and site.url("/robots.txt") not in found


def test_our_own_group_wins_over_the_star_group() -> None:
    routes = {
        "/robots.txt": robots(
            "User-agent: *\nDisallow: /\n\nUser-agent: TinylyticsContentCheck\nDisallow: /drafts\n"
        ),
        "/": page('<a href="/post">post</a> <a href="/drafts/1">draft</a>'),
        "/post": page("a post"),
    }
    with serving(routes) as site:
        report = crawl(site)
    found = by_url(report)
    assert set(found) == {site.url("/"), site.url("/post")}
    assert site.hits("/drafts/1") == 0 and report.complete and report.disallowed == 1


def test_a_missing_or_failing_robots_txt_disallows_nothing() -> None:
    for answer in (robots("gone", 404), robots("oops", 500), robots("Disallow: /", 403)):
        routes = {"/robots.txt": answer, "/": page('<a href="/a">a</a>'), "/a": page("a")}
        with serving(routes) as site:
            report = crawl(site)
        assert set(by_url(report)) == {site.url("/"), site.url("/a")}, answer.status
        assert report.complete and report.disallowed == 0


def test_a_disallowed_start_page_crawls_nothing_and_fixes_nothing() -> None:
    routes = {"/robots.txt": robots("User-agent: *\nDisallow: /\n"), "/": page("home")}
    with serving(routes) as site:
        report = crawl(site)
    assert report.checks == [] and not report.complete
    assert report.stopped_because == "robots.txt disallows the start page"
    assert [r.path for r in site.requests] == ["/robots.txt"]


def test_check_specific_url_reads_robots_txt_too() -> None:
    routes = {
        "/robots.txt": robots("User-agent: *\nDisallow: /private\n"),
        "/private": page("hidden"),
    }
    with serving(routes) as site:
        report = crawl(site, start=site.url("/private"))
    assert report.checks == [] and not report.complete
    assert site.hits("/private") == 0
