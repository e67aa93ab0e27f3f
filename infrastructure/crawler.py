"""The content crawler: a polite, bounded crawl of one site through the SSRF-safe client.

- Pages: from the start URL, every same-site page under the root (either scheme, the
  site's host and port) is fetched with GET and parsed with selectolax (Lexbor, an
  HTML5 parser: malformed HTML is read as a browser reads it). Redirects are followed
  hop by hop (each hop checked again by the client), at most `max_redirects`.
- On each page: a[href], area[href], form[action], img src/srcset, picture source
  src/srcset, script[src], link[href], iframe/frame, video/audio (and poster), source,
  track, object[data], embed[src], input[type=image], url()/@import in <style> and style
  attributes, and in linked stylesheets (fetched with GET). <base href> is honoured.
  Other schemes (mailto:, tel:, javascript:, data:, …) are skipped; fragments dropped.
- Every distinct URL is checked once per crawl: HEAD, then GET when HEAD fails (many
  servers refuse or mishandle HEAD); a 429 waits for its Retry-After (capped) and tries
  again; requests to one host wait for it too.
- Politeness and bounds: at most `per_host` requests in flight per host, `workers` in
  all, a documented User-Agent, a page cap, a URL cap, a time limit per crawl, a size
  limit per page and stylesheet, and the client's connect and total time limits.
- A crawl that stops early (caps, time limit, a shutdown, a page that could not be
  read) says so (`complete=False`): what it did not see is unknown, not fixed.
"""

import email.utils
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from application.crawling import CrawlCounts, CrawlPlan, CrawlReport, LinkCheck, Progress
from domain.addresses import AddressPolicy
from domain.links import (
    NotAUrl,
    Role,
    in_scope,
    is_mixed,
    normalize,
    same_host,
    start_url,
    status_message,
)
from infrastructure.robots import NO_RULES, ROBOTS_BYTES, RobotRules
from infrastructure.safe_http import (
    Fetched,
    KeptConnections,
    Resolver,
    SafeHttpClient,
    fetchable_url,
    system_resolver,
)

USER_AGENT = (
    "Mozilla/5.0 (compatible; TinylyticsContentCheck/1.0; "
    "+https://tinylytics.app/docs/content_monitoring_guide)"
)
REDIRECTS = (301, 302, 303, 307, 308)
HTML_TYPES = ("text/html", "application/xhtml+xml")
FOUND_ON = 3  # pages kept per URL, to show where a broken link is

_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_SRCSET_ITEM = re.compile(r"\s*([^\s,][^\s]*?)(?:\s+[^,]*)?(?:,|$)")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
# <link rel> values whose URL the browser loads (the rest — canonical, alternate, next,
# author, … — are links a visitor or a feed reader follows).
LOADED_RELS = frozenset(
    {
        "stylesheet",
        "icon",
        "shortcut",
        "apple-touch-icon",
        "apple-touch-icon-precomposed",
        "mask-icon",
        "preload",
        "modulepreload",
        "prefetch",
        "manifest",
        "image_src",
    }
)
_SELECTOR = (
    "base[href], a[href], area[href], form[action], img, source, script[src], iframe[src], "
    "frame[src], video, audio, track[src], embed[src], object[data], link[href], "
    "input[src], style, [style]"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CrawlLimits:
    """docs/decisions/0013-content-monitoring.md gives the reasons for each."""

    max_pages: int = 5000
    max_urls: int = 100_000
    workers: int = 16
    per_host: int = 4
    page_bytes: int = 2_000_000
    css_bytes: int = 500_000
    connect_timeout: float = 5.0
    request_timeout: float = 15.0
    # Longer than the clock's lease (5 minutes): a crawl fired by the clock renews its
    # lease as answers come in (application/clock.py LeaseKeeper, every minute). Answers
    # never stop for long: one request takes at most `request_timeout`, and a 429 waits
    # at most `retry_after_cap` per retry, both far below the lease.
    crawl_seconds: float = 1800.0
    max_redirects: int = 5
    retry_after_cap: float = 60.0  # seconds waited at most for one 429
    retries_429: int = 2


@dataclass
class _Entry:
    role: Role
    mixed: bool = False
    found_on: list[str] = field(default_factory=list)
    check: LinkCheck | None = None


@dataclass(frozen=True)
class _Task:
    kind: str  # "page", "check" or "css"
    url: str


@dataclass(frozen=True)
class _Found:
    """A reference as read from a page, before it is resolved into the crawl."""

    url: str | None  # None: not a URL (error says why)
    role: Role
    stylesheet: bool = False
    error: str | None = None
    raw: str = ""


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    error: str | None
    final_url: str
    found: list[_Found] = field(default_factory=list)
    page_read: bool = False  # a page of the crawl whose references were read
    unreadable_page: bool = False  # a page that could not be read (time-out, network)


class SafeCrawler:
    def __init__(
        self,
        policy: AddressPolicy,
        limits: CrawlLimits | None = None,
        resolver: Resolver = system_resolver,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
        stop: threading.Event | None = None,
        user_agent: str = USER_AGENT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits or CrawlLimits()
        self.client = SafeHttpClient(
            policy,
            resolver,
            connect_timeout=self.limits.connect_timeout,
            total_timeout=self.limits.request_timeout,
            max_body=self.limits.page_bytes,
            tls=tls,
        )
        self.sleep = sleep
        self.now = now
        self.stop = stop or threading.Event()
        self.user_agent = user_agent
        self._not_before: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- requests ----------------------------------------------------------------------
    def _request(self, method: str, url: str, max_body: int, kept: KeptConnections) -> Fetched:
        host = urlsplit(url).netloc
        headers = {
            "User-Agent": self.user_agent,
            "Accept": "text/html,application/xhtml+xml,text/css,*/*;q=0.8",
            "Accept-Encoding": "identity",
        }
        for attempt in range(self.limits.retries_429 + 1):
            with self._lock:
                wait_for = self._not_before.get(host, 0.0) - time.monotonic()
            if wait_for > 0:
                self.sleep(wait_for)
            fetched = self.client.fetch(method, url, headers, None, fetchable_url, max_body, kept)
            if fetched.status != 429 or attempt == self.limits.retries_429:
                return fetched
            delay = min(
                self.limits.retry_after_cap, _retry_after(fetched.headers.get("retry-after"))
            )
            with self._lock:
                self._not_before[host] = max(
                    self._not_before.get(host, 0.0), time.monotonic() + delay
                )
            self.sleep(delay)
        return fetched  # pragma: no cover (the loop returns)

    def _follow(
        self, method: str, url: str, max_body: int, kept: KeptConnections
    ) -> tuple[str, Fetched | str]:
        """The final URL and its answer, or an error text, after redirects."""
        seen = {url}
        for _hop in range(self.limits.max_redirects + 1):
            fetched = self._request(method, url, max_body, kept)
            location = fetched.headers.get("location")
            if fetched.status not in REDIRECTS or not location:
                return url, fetched
            try:
                target = normalize(location, url)
            except NotAUrl as error:
                return url, f"Redirects to an invalid URL ({error})"
            if target is None:
                return url, fetched  # to another scheme: the link itself answered
            if target in seen:
                return url, "Redirect loop"
            seen.add(target)
            url = target
        return url, f"Too many redirects (more than {self.limits.max_redirects})"

    def _check(self, url: str, kept: KeptConnections) -> _Outcome:
        final, answer = self._follow("HEAD", url, 0, kept)
        if isinstance(answer, Fetched) and _head_failed(answer):
            final, answer = self._follow("GET", url, 0, kept)
        return _outcome(final, answer)

    def _page(self, task: _Task, plan: CrawlPlan, root: str, kept: KeptConnections) -> _Outcome:
        final, answer = self._follow("GET", task.url, self.limits.page_bytes, kept)
        outcome = _outcome(final, answer)
        if not isinstance(answer, Fetched) or outcome.status is None or outcome.status >= 500:
            # Its links are unknown this time (a 404 page is gone, links and all).
            return _Outcome(outcome.status, outcome.error, final, unreadable_page=True)
        if outcome.status is None or outcome.status >= 300:
            return outcome
        if not in_scope(final, plan.site_url, root):
            return outcome  # redirected off the site: checked, not crawled
        kind = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind and kind not in HTML_TYPES:
            return outcome
        if b"\x00" in answer.data[:1024]:
            return outcome  # a binary file served as HTML
        text = answer.data.decode(_charset(answer.headers.get("content-type", "")), "replace")
        return _Outcome(outcome.status, None, final, _references(text, final), page_read=True)

    def _robots(self, site_url: str, kept: KeptConnections) -> RobotRules:
        """The site's robots.txt, read once per crawl (redirects followed, each checked)."""
        parts = urlsplit(start_url(site_url, "/"))
        _final, answer = self._follow(
            "GET", f"{parts.scheme}://{parts.netloc}/robots.txt", ROBOTS_BYTES, kept
        )
        if not isinstance(answer, Fetched):
            return NO_RULES
        return RobotRules.from_answer(answer.status, answer.data)

    def _css(self, url: str, kept: KeptConnections) -> _Outcome:
        final, answer = self._follow("GET", url, self.limits.css_bytes, kept)
        outcome = _outcome(final, answer)
        if not isinstance(answer, Fetched) or outcome.error is not None or not answer.data:
            return outcome
        if outcome.status is None or outcome.status >= 300:
            return outcome
        text = answer.data.decode(_charset(answer.headers.get("content-type", "")), "replace")
        found = [_resolve(raw, final, Role.RESOURCE) for raw in _css_urls(text)]
        return _Outcome(outcome.status, None, final, found)

    # -- the crawl ---------------------------------------------------------------------
    def crawl(self, plan: CrawlPlan, progress: Progress | None = None) -> CrawlReport:
        # One crawl's keep-alive connections, closed when it ends: most of its requests
        # go to one host, and a new TCP and TLS handshake each would cost more than the
        # request itself.
        with KeptConnections(self.limits.per_host) as kept:
            return self._crawl(plan, progress, kept)

    def _crawl(
        self, plan: CrawlPlan, progress: Progress | None, kept: KeptConnections
    ) -> CrawlReport:
        limits = self.limits
        started_at = self.now()
        ends = time.monotonic() + limits.crawl_seconds
        root = plan.root or "/"
        entries: dict[str, _Entry] = {}
        invalid: list[LinkCheck] = []
        pending: dict[str, deque[_Task]] = {}
        in_flight: dict[str, int] = {}
        futures: dict[Future[_Outcome], _Task] = {}
        pages = 0
        skipped = 0
        stopped: str | None = None
        unreadable = 0
        # Kept as they change, not counted over `entries` at each batch (100,000 URLs).
        done_pages = done_checks = broken = mixed = 0

        def add(task: _Task) -> None:
            pending.setdefault(urlsplit(task.url).netloc, deque()).append(task)

        try:
            first = normalize(plan.start, plan.site_url) if plan.start else None
            first = first or start_url(plan.site_url, root)
        except NotAUrl as error:
            now = self.now()
            bad = LinkCheck(plan.start or plan.site_url, Role.PAGE, None, str(error), now)
            return CrawlReport(
                [bad], 0, started_at, now, complete=False, stopped_because=str(error)
            )
        rules = self._robots(plan.site_url, kept)
        refused: set[str] = set()  # on the site, disallowed by its robots.txt

        def allowed(url: str) -> bool:
            return not same_host(url, plan.site_url) or rules.allows(url)

        if not allowed(first):
            now = self.now()
            return CrawlReport(
                [],
                0,
                started_at,
                now,
                complete=False,
                stopped_because="robots.txt disallows the start page",
                disallowed=1,
            )
        entries[first] = _Entry(Role.PAGE)
        add(_Task("page" if in_scope(first, plan.site_url, root) else "check", first))
        if in_scope(first, plan.site_url, root):
            pages = 1

        def reference(found: _Found, page: str) -> None:
            nonlocal pages, skipped, stopped, mixed
            if found.url is None:
                if found.error is None:
                    skipped += 1
                else:
                    invalid.append(
                        LinkCheck(
                            found.raw[:2048],
                            found.role,
                            None,
                            found.error,
                            self.now(),
                            found_on=(page,),
                        )
                    )
                return
            url = found.url
            entry = entries.get(url)
            if entry is None and (url in refused or not allowed(url)):
                refused.add(url)  # neither crawled nor checked: not broken, not fixed
                return
            if entry is None:
                if len(entries) >= limits.max_urls:
                    stopped = stopped or f"the URL cap ({limits.max_urls}) was reached"
                    return
                entry = entries[url] = _Entry(found.role)
                crawlable = (
                    plan.follow and found.role is Role.LINK and in_scope(url, plan.site_url, root)
                )
                if crawlable and pages < limits.max_pages:
                    pages += 1
                    entry.role = Role.PAGE
                    add(_Task("page", url))
                else:
                    if crawlable:
                        stopped = stopped or f"the page cap ({limits.max_pages}) was reached"
                    add(_Task("css" if found.stylesheet else "check", url))
            elif entry.role is Role.LINK and found.role is Role.RESOURCE:
                entry.role = Role.RESOURCE
            if is_mixed(url, page, found.role) and not entry.mixed:
                entry.mixed = True
                mixed += 1
            if len(entry.found_on) < FOUND_ON and page not in entry.found_on:
                entry.found_on.append(page)

        with ThreadPoolExecutor(limits.workers, thread_name_prefix="crawl") as pool:
            while True:
                if stopped is None and self.stop.is_set():
                    stopped = "the crawl was interrupted (shutdown)"
                if stopped is None and time.monotonic() > ends:
                    stopped = f"the time limit ({limits.crawl_seconds:g} s) was reached"
                if self.stop.is_set() or time.monotonic() > ends:
                    pending.clear()
                for host, queue in pending.items():
                    while queue and in_flight.get(host, 0) < limits.per_host:
                        if len(futures) >= limits.workers:
                            break
                        task = queue.popleft()
                        in_flight[host] = in_flight.get(host, 0) + 1
                        futures[pool.submit(self._run, task, plan, root, kept)] = task
                if not futures:
                    break
                done, _ = wait(list(futures), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    task = futures.pop(future)
                    host = urlsplit(task.url).netloc
                    in_flight[host] -= 1
                    outcome = future.result()
                    entry = entries[task.url]
                    if outcome.unreadable_page:
                        unreadable += 1
                    entry.check = LinkCheck(
                        task.url, entry.role, outcome.status, outcome.error, self.now()
                    )
                    done_checks += 1
                    done_pages += task.kind == "page"
                    broken += entry.check.broken
                    for found in outcome.found:
                        reference(found, outcome.final_url)
                if progress is not None and done:
                    found_issues = broken + mixed + len(invalid)
                    progress(CrawlCounts(done_pages, done_checks + len(invalid), found_issues))
        checks = [_finished(url, e) for url, e in entries.items() if e.check is not None] + invalid
        start = entries[first].check
        if stopped is None and (start is None or start.broken):
            stopped = "the start page could not be read"
        if stopped is None and unreadable:
            stopped = f"{unreadable} page(s) could not be read"
        return CrawlReport(
            checks=checks,
            pages=sum(1 for e in entries.values() if e.role is Role.PAGE and e.check),
            started_at=started_at,
            finished_at=self.now(),
            complete=stopped is None,
            stopped_because=stopped,
            skipped=skipped,
            disallowed=len(refused),
        )

    def _run(self, task: _Task, plan: CrawlPlan, root: str, kept: KeptConnections) -> _Outcome:
        try:
            if task.kind == "page":
                return self._page(task, plan, root, kept)
            if task.kind == "css":
                return self._css(task.url, kept)
            return self._check(task.url, kept)
        except Exception as error:  # a parser or decoder surprise: the URL, not the crawl
            return _Outcome(None, f"Could not be checked: {type(error).__name__}", task.url)


# -- reading pages -----------------------------------------------------------------------
def _finished(url: str, entry: _Entry) -> LinkCheck:
    assert entry.check is not None
    c = entry.check
    return LinkCheck(
        url,
        entry.role,
        c.status_code,
        c.error_message,
        c.checked_at,
        mixed=entry.mixed,
        found_on=tuple(entry.found_on),
    )


def _head_failed(fetched: Fetched) -> bool:
    """HEAD refused or answered oddly: try GET (a time-out is not retried: a slow host
    would cost twice the wait)."""
    if fetched.status is None:
        return (
            fetched.error is not None
            and "Timed out" not in fetched.error
            and ("Refused address" not in fetched.error)
        )
    return fetched.status >= 400 and fetched.status != 429


def _outcome(url: str, answer: Fetched | str) -> _Outcome:
    if isinstance(answer, str):
        return _Outcome(None, answer, url)
    if answer.status is None:
        return _Outcome(None, answer.error or "No answer", url)
    if answer.status >= 400:
        return _Outcome(answer.status, status_message(answer.status), url)
    return _Outcome(answer.status, None, url)


def _retry_after(value: str | None) -> float:
    if not value:
        return 1.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _charset(content_type: str) -> str:
    found = _CHARSET.search(content_type)
    if found is None:
        return "utf-8"
    name = found.group(1)
    try:
        "".encode(name)
    except LookupError:
        return "utf-8"
    return name


def _resolve(raw: str, base: str, role: Role, stylesheet: bool = False) -> _Found:
    try:
        url = normalize(raw, base)
    except NotAUrl as error:
        return _Found(None, role, error=str(error), raw=raw.strip())
    return _Found(url, role, stylesheet=stylesheet, raw=raw)


def _css_urls(text: str) -> list[str]:
    found = [next(g for g in m.groups() if g is not None) for m in _CSS_URL.finditer(text)]
    found += [m.group(1) or m.group(2) for m in _CSS_IMPORT.finditer(text)]
    return [u for u in found if u]


def _srcset(value: str) -> list[str]:
    if value.strip().lower().startswith("data:"):
        return []
    return [m.group(1) for m in _SRCSET_ITEM.finditer(value) if m.group(1)]


def _references(html: str, page: str) -> list[_Found]:
    """Every URL a browser would load or a visitor could follow on this page."""
    tree = LexborHTMLParser(html)
    base = page
    raw: list[tuple[str, Role, bool]] = []
    seen_base = False
    for node in tree.css(_SELECTOR):
        tag = node.tag
        attrs = node.attributes
        if tag == "base":
            if not seen_base and attrs.get("href"):
                seen_base = True
                try:
                    base = normalize(attrs["href"] or "", page) or page
                except NotAUrl:
                    base = page
            continue
        _collect(node, tag, attrs, raw)
    found = []
    for text, role, stylesheet in raw:
        found.append(_resolve(text, base, role, stylesheet))
    return found


def _collect(
    node: LexborNode,
    tag: str | None,
    attrs: dict[str, str | None],
    out: list[tuple[str, Role, bool]],
) -> None:
    def put(value: str | None, role: Role, stylesheet: bool = False) -> None:
        if value is not None and value.strip():
            out.append((value, role, stylesheet))

    if tag in ("a", "area"):
        put(attrs.get("href"), Role.LINK)
    elif tag == "form":
        put(attrs.get("action"), Role.LINK)
    elif tag == "link":
        rels = set((attrs.get("rel") or "").lower().split())
        loaded = bool(rels & LOADED_RELS)
        put(attrs.get("href"), Role.RESOURCE if loaded else Role.LINK, "stylesheet" in rels)
    elif tag in ("img", "source"):
        put(attrs.get("src"), Role.RESOURCE)
        for item in _srcset(attrs.get("srcset") or ""):
            put(item, Role.RESOURCE)
    elif tag in ("video", "audio"):
        put(attrs.get("src"), Role.RESOURCE)
        put(attrs.get("poster"), Role.RESOURCE)
    elif tag in ("script", "iframe", "frame", "track", "embed", "input"):
        put(attrs.get("src"), Role.RESOURCE)
    elif tag == "object":
        put(attrs.get("data"), Role.RESOURCE)
    elif tag == "style":
        for url in _css_urls(node.text(deep=True) or ""):
            put(url, Role.RESOURCE)
    style = attrs.get("style")
    if style:
        for url in _css_urls(style):
            put(url, Role.RESOURCE)
