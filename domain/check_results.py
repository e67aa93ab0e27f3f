"""One uptime check's result, and the words a site owner reads for what went wrong."""

from dataclasses import dataclass

from domain.certificates import Certificate

USER_AGENT = "Tinylytics Uptime Monitor/1.0"
MAX_REDIRECTS = 5

# Classes of failure a request can end in without a status (the HTTP client tells).
DNS = "dns"
REFUSED = "refused"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
TLS = "tls"
ADDRESS = "address"  # the SSRF guard refused the address or the URL
PROTOCOL = "protocol"
RESET = "reset"
REDIRECTS = "redirects"
OTHER = "other"

_STATUS_WORDS = {
    401: "Authentication required (HTTP 401): the site asks for a login, or a firewall "
    "blocks our checks",
    403: "Access forbidden (HTTP 403): the site or its firewall refuses our checks; allow "
    "the user agent \u201cTinylytics Uptime Monitor\u201d",
    404: "Page not found (HTTP 404): nothing is served at the monitored address",
    429: "Too many requests (HTTP 429): the site rate-limits our checks",
    500: "Internal server error (HTTP 500): the site's application failed",
    502: "Bad gateway (HTTP 502): a proxy or CDN could not reach the site's server",
    503: "Service unavailable (HTTP 503): the server is overloaded or in maintenance",
    504: "Gateway timeout (HTTP 504): a proxy or CDN waited too long for the server",
}

_FAILURE_WORDS = {
    DNS: "DNS resolution failed: the domain name could not be found",
    REFUSED: "Connection refused: nothing accepts connections at the site's address",
    TIMEOUT: "Connection timed out: the server did not answer in time",
    UNREACHABLE: "Network unreachable: there is no route to the site's server",
    RESET: "Connection reset: the server closed the connection mid-answer",
    PROTOCOL: "Invalid answer: the server did not answer in HTTP",
    REDIRECTS: f"Too many redirects (more than {MAX_REDIRECTS})",
}


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    status_code: int | None
    error: str | None  # the friendly description; None when up
    response_ms: int
    failure: str | None = None  # the class of failure without a status
    certificate: Certificate | None = None  # over HTTPS, what the server presented


def is_up(status: int) -> bool:
    return 200 <= status < 400


def status_words(status: int) -> str:
    if status in _STATUS_WORDS:
        return _STATUS_WORDS[status]
    if 400 <= status < 500:
        return f"Client error (HTTP {status}): the site refused the request"
    return f"Server error (HTTP {status})"


def tls_words(detail: str) -> str:
    """A TLS failure in words: what is wrong with the certificate or the handshake."""
    lowered = detail.lower()
    if "self-signed" in lowered or "self signed" in lowered:
        return "SSL certificate is self-signed: browsers do not trust it"
    if "expired" in lowered:
        return "SSL certificate has expired"
    if (
        "hostname mismatch" in lowered
        or "not valid for" in lowered
        or "ip address mismatch" in (lowered)
    ):
        return (
            "SSL certificate is for another name (name mismatch; check SNI and the "
            "certificate's names)"
        )
    if "unable to get local issuer" in lowered or "unable to get issuer" in lowered:
        return "SSL certificate chain is incomplete or from an unknown authority"
    if "not yet valid" in lowered:
        return "SSL certificate is not valid yet"
    if "version" in lowered or "protocol" in lowered or "handshake" in lowered:
        return f"SSL/TLS protocol error: the server and we share no protocol ({detail})"
    return f"SSL/TLS error: {detail}"


def failure_words(failure: str | None, detail: str | None) -> str:
    if failure == TLS:
        return tls_words(detail or "")
    if failure == ADDRESS:
        return detail or "Refused address"
    if failure in _FAILURE_WORDS:
        return _FAILURE_WORDS[failure]
    return detail or "The check failed"
