"""POST /webmention/<site uid>: the Webmention endpoint, and each mention's status page.

A thin door to `application/webmentions.py`: the body is read here (form-encoded,
small), the service checks the request and queues the verification; the answer is
plain text, `400` with the reason for a bad request and `202 Accepted` with a
`Location` status URL for a good one (W3C Webmention 3.2.1). The status page reads
the mention through the front door and says queued, verified or rejected, and why.
"""

from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from flask import Blueprint, Response, render_template, request, url_for

from application.webmentions import RateLimited
from domain.errors import DomainError, NotFound
from interfaces.container import base_url, container

# Two URLs of at most 2,048 characters, percent-encoded, and some room.
MAX_BODY = 16 * 1024
FORM = "application/x-www-form-urlencoded"
RETRY_AFTER_SECONDS = 3600
STATUS_POLICY = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'"

webmention = Blueprint("webmention", __name__)


def _plain(text: str, status: int, **headers: str) -> Response:
    response = Response(text + "\n", status=status, mimetype="text/plain")
    response.headers.update(headers)
    return response


def _fields() -> dict[str, str]:
    """`source` and `target` from a small form-encoded body; DomainError otherwise."""
    if request.mimetype != FORM:
        raise DomainError(f"send source and target form-encoded ({FORM})")
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise _TooLarge
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise _TooLarge
    try:
        text = body.decode("utf-8")
        form = parse_qs(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise DomainError("the form is not valid UTF-8") from None
    found: dict[str, str] = {}
    for name in ("source", "target"):
        values = form.get(name, [])
        if len(values) > 1:
            raise DomainError(f"give {name} once")
        if values:
            found[name] = values[0]
    return found


class _TooLarge(Exception):
    pass


@webmention.post("/webmention/<uid>")
def receive(uid: str) -> Response:
    try:
        fields = _fields()
        receipt = container().webmentions.receive(uid, fields.get("source"), fields.get("target"))
    except _TooLarge:
        return _plain(f"the request is too large (at most {MAX_BODY:,} bytes)", 413)
    except NotFound:
        return _plain("no Webmention endpoint here (unknown site)", 404)
    except RateLimited as limited:
        return _plain(limited.message, 429, **{"Retry-After": str(RETRY_AFTER_SECONDS)})
    except DomainError as refused:
        return _plain(refused.message, 400)
    status_url = base_url() + url_for(
        "webmention.status", uid=receipt.site_uid, mention=receipt.mention_id.hex
    )
    return _plain(
        f"accepted: queued for verification; status at {status_url}",
        202,
        Location=status_url,
    )


@webmention.get("/webmention/<uid>/status/<mention>")
def status(uid: str, mention: str) -> Any:
    reads = container().reads
    try:
        site = container().collection.site(uid)
        mention_id = UUID(hex=mention)
    except (NotFound, ValueError):
        return _plain("no such Webmention", 404)
    reads.settle("mentions")  # received or verified a moment ago: the read model may lag
    row = reads.mentions.get(site.id, mention_id)
    if row is None:
        return _plain("no such Webmention", 404)
    response = Response(render_template("webmention/status.html", mention=row))
    response.headers["Content-Security-Policy"] = STATUS_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response
