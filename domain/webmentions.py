"""The Webmention aggregate: one source page's mention of one of a site's pages.

A Webmention (W3C Recommendation, 12 January 2017) says "my page `source` links to
your page `target`". The request is checked at once (`check_request`, section 3.2.1);
what the source says is learnt later, by fetching it (section 3.2.2): the mention is
then verified as a like, a repost, a reply or a plain mention, or rejected, and a
mention sent again after its source changed is updated, or removed when the source is
gone (410) or no longer links to the target.

The aggregate's id follows from its site, source and target, so one source and target
are one mention (a second request re-verifies it), and the id starts with the site
id's first bytes like hits and kudos: erasing a site's mentions is one range delete.

`classify` reads the source's microformats2 (the parsed JSON shape every mf2 parser
gives) into the kind and the few plain texts kept: nothing of the source's HTML is.
"""

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.text import clean, is_clean

MAX_URL_LENGTH = 2048
MAX_NAME = 200
MAX_TITLE = 300
MAX_SNIPPET = 500

LIKE = "like"
REPOST = "repost"
REPLY = "reply"
MENTION = "mention"
KINDS = (LIKE, REPOST, REPLY, MENTION)

QUEUED = "queued"
VERIFIED = "verified"
REJECTED = "rejected"
REMOVED = "removed"

# The kudo channel of a verified like (the Kudos tab calls it "External").
KUDO_CHANNEL = "webmention"


def webmention_id(site_id: UUID, source: str, target: str) -> UUID:
    digest = hashlib.blake2b(f"{source}\x00{target}".encode(), digest_size=8).digest()
    return UUID(bytes=site_id.bytes[:8] + digest)


def kudo_uid_for(source: str, target: str) -> str:
    """The uid of the kudo a like gives: one per source URL and target."""
    return "wm_" + hashlib.blake2b(f"{source}\x00{target}".encode(), digest_size=8).hexdigest()


def _url(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DomainError(f"{what} is missing")
    value = value.strip()
    if len(value) > MAX_URL_LENGTH:
        raise DomainError(f"{what} is too long (at most {MAX_URL_LENGTH} characters)")
    if not is_clean(value) or any(c.isspace() for c in value):
        raise DomainError(f"{what} must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise DomainError(f"{what} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise DomainError(f"{what} must be an http:// or https:// URL")
    if not parts.hostname:
        raise DomainError(f"{what} must name a host")
    if parts.username is not None or parts.password is not None:
        raise DomainError(f"{what} must not contain a user name or password")
    if port == 0:
        raise DomainError(f"{what} has an invalid port")
    # The fragment names a part of a page, not another page: it is never sent.
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )


def _bare_host(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


@dataclass(frozen=True)
class MentionRequest:
    source: str
    target: str
    path: str  # the target's path, as its kudo keeps it


def check_request(source: Any, target: Any, site_host: str) -> MentionRequest:
    """The request checks of section 3.2.1, and that the target is one of the site's pages
    (its host or the `www.` twin); DomainError with a plain reason otherwise."""
    source_url = _url(source, "source")
    target_url = _url(target, "target")
    if source_url == target_url:
        raise DomainError("source and target must not be the same URL")
    host = urlsplit(target_url).hostname or ""
    if _bare_host(host) != _bare_host(site_host):
        raise DomainError(f"target is not a page of this site ({site_host})")
    return MentionRequest(source_url, target_url, urlsplit(target_url).path or "/")


# -- what a source says -------------------------------------------------------------------
@dataclass(frozen=True)
class MentionDetails:
    kind: str
    author_name: str | None = None
    author_url: str | None = None
    author_photo: str | None = None
    title: str | None = None
    published: str | None = None
    snippet: str | None = None


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("value") if "value" in value else None
    if not isinstance(value, str):
        return None
    text = " ".join(clean(value).split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _safe_url(value: Any) -> str | None:
    """An http(s) URL from the source, or nothing (javascript:, data:, file: are dropped)."""
    if isinstance(value, Mapping):
        value = value.get("value") if isinstance(value.get("value"), str) else value.get("url")
        if isinstance(value, list):
            value = value[0] if value else None
    try:
        return _url(value, "URL")
    except DomainError:
        return None


def _first(props: Mapping[str, Any], name: str) -> Any:
    values = props.get(name)
    return values[0] if isinstance(values, list) and values else None


def _urls_of(values: Any) -> Iterator[str]:
    for value in values if isinstance(values, list) else []:
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            inner = value.get("properties", {}).get("url", [])
            yield from (u for u in inner if isinstance(u, str))
            if isinstance(value.get("value"), str):
                yield value["value"]


def _entries(items: Any) -> Iterator[Mapping[str, Any]]:
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        if "h-entry" in (item.get("type") or []):
            yield item
        yield from _entries(item.get("children"))


def same_url(found: str, target: str) -> bool:
    """Whether a URL found in a source names the (checked) target exactly; only the
    scheme's and host's case and the fragment may differ."""
    try:
        return _url(found, "URL") == target
    except DomainError:
        return False


def classify(parsed: Mapping[str, Any] | None, target: str) -> MentionDetails:
    """The kind of mention and what is kept of it, from the source's parsed mf2.

    An h-entry whose `like-of` is the target is a like; `repost-of` a repost;
    `in-reply-to` a reply; anything else (no h-entry, or one about other pages) a
    mention. Texts are plain (mf2's `value`, never `html`), cleaned and cut short;
    URLs are kept only when they are http(s).
    """
    entries = list(_entries((parsed or {}).get("items")))
    kind, chosen = MENTION, entries[0] if entries else None
    for wanted, prop in ((LIKE, "like-of"), (REPOST, "repost-of"), (REPLY, "in-reply-to")):
        found = next(
            (
                e
                for e in entries
                if any(same_url(u, target) for u in _urls_of(e["properties"].get(prop)))
            ),
            None,
        )
        if found is not None:
            kind, chosen = wanted, found
            break
    if chosen is None:
        return MentionDetails(kind)
    props = chosen.get("properties") or {}
    author = _first(props, "author")
    name = url = photo = None
    if isinstance(author, Mapping):
        aprops = author.get("properties") or {}
        name = _text(_first(aprops, "name"), MAX_NAME)
        url = _safe_url(_first(aprops, "url"))
        photo = _safe_url(_first(aprops, "photo"))
    else:
        name = _text(author, MAX_NAME)
    content = _first(props, "content") or _first(props, "summary")
    snippet = _text(content, MAX_SNIPPET)
    title = _text(_first(props, "name"), MAX_TITLE)
    if title is not None and snippet is not None and snippet.startswith(title.rstrip("…")):
        title = None  # mf2 implies a name from the text: it is no title
    return MentionDetails(
        kind=kind,
        author_name=name,
        author_url=url,
        author_photo=photo,
        title=title,
        published=_text(_first(props, "published"), 40),
        snippet=snippet,
    )


# -- the aggregate ------------------------------------------------------------------------
class Webmention(Aggregate):
    @classmethod
    def receive(cls, site_id: UUID, request: MentionRequest) -> "Webmention":
        return cls(
            id=webmention_id(site_id, request.source, request.target),
            site_id=site_id,
            source=request.source,
            target=request.target,
            path=clean(request.path),
        )

    @event("Received")
    def __init__(self, id: UUID, site_id: UUID, source: str, target: str, path: str) -> None:
        self.site_id = site_id
        self.source = source
        self.target = target
        self.path = path
        self.status = QUEUED
        self.queued = True
        self.kind: str | None = None
        self.reason: str | None = None
        self.details: MentionDetails | None = None

    @property
    def kudo_uid(self) -> str:
        return kudo_uid_for(self.source, self.target)

    @property
    def is_like(self) -> bool:
        return self.status == VERIFIED and self.kind == LIKE

    def receive_again(self) -> None:
        """Sent again (its source changed, or went): verify it again."""
        if not self.queued:
            self._received_again()

    @event("ReceivedAgain")
    def _received_again(self) -> None:
        self.queued = True

    def confirm(self, details: MentionDetails) -> None:
        """The source links to the target and says this."""
        fields = _details_fields(details)
        if self.status == VERIFIED:
            self._updated(**fields)
        else:
            self._verified(**fields)

    @event("Verified")
    def _verified(
        self,
        kind: str,
        author_name: str | None,
        author_url: str | None,
        author_photo: str | None,
        title: str | None,
        published: str | None,
        snippet: str | None,
    ) -> None:
        self._keep(
            MentionDetails(kind, author_name, author_url, author_photo, title, published, snippet)
        )

    @event("Updated")
    def _updated(
        self,
        kind: str,
        author_name: str | None,
        author_url: str | None,
        author_photo: str | None,
        title: str | None,
        published: str | None,
        snippet: str | None,
    ) -> None:
        self._keep(
            MentionDetails(kind, author_name, author_url, author_photo, title, published, snippet)
        )

    def _keep(self, details: MentionDetails) -> None:
        self.details = details
        self.kind = self.details.kind
        self.status = VERIFIED
        self.reason = None
        self.queued = False

    def refuse(self, reason: str, lasting: bool = True) -> None:
        """The source does not (or no longer) mention the target: a verified mention is
        removed, any other rejected. A source that could not be read just now (a
        time-out, a server error) leaves a verified mention as it was."""
        reason = clean(reason)[:500]
        if self.status == VERIFIED and not lasting:
            self._kept(reason=reason)
        elif self.status == VERIFIED:
            self._removed(reason=reason)
        else:
            self._rejected(reason=reason)

    @event("Kept")
    def _kept(self, reason: str) -> None:
        self.reason = reason
        self.queued = False

    @event("Rejected")
    def _rejected(self, reason: str) -> None:
        self.status = REMOVED if self.status == REMOVED else REJECTED
        self.reason = reason
        self.queued = False

    @event("Removed")
    def _removed(self, reason: str) -> None:
        self.status = REMOVED
        self.reason = reason
        self.queued = False
        self.details = None


def _details_fields(details: MentionDetails) -> dict[str, Any]:
    if details.kind not in KINDS:
        raise DomainError(f"unknown kind of mention {details.kind!r}")
    return {
        "kind": details.kind,
        "author_name": details.author_name,
        "author_url": details.author_url,
        "author_photo": details.author_photo,
        "title": details.title,
        "published": details.published,
        "snippet": details.snippet,
    }
