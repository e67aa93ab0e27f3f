"""The SSRF-safe HTTP client: webhook deliveries, uptime checks, Webmention sources, crawls.

- The host name is resolved once; every address is judged by the domain's policy
  (domain/addresses.py) and the request goes to an allowed one, by IP: the Host
  header and TLS SNI (and certificate check) carry the name. A DNS answer that
  changes between the check and the connection (DNS rebinding) cannot move the
  request, because there is no second lookup.
- `fetch` is one request: it never follows a redirect (for a webhook a 3xx is an
  answer like any other, a failure). `follow` is for the callers that must (uptime
  checks, Webmention sources): a few redirects, each target checked like the first
  URL, so a redirect to a private address is refused.
- 10 seconds to connect, 30 seconds for everything (a watchdog closes the socket
  at the deadline, so a server that drips bytes cannot hold a worker longer).
- A body is read up to a limit (a few KB unless the caller asks for more); the rest
  is never downloaded, and `Fetched.truncated` says there was more.
"""

import contextlib
import errno
import functools
import heapq
import http.client
import ipaddress
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from application.webhook_delivery import HttpOutcome
from domain.addresses import AddressPolicy, IPAddress, literal_address
from domain.check_results import ADDRESS, DNS, OTHER, PROTOCOL, REFUSED, RESET, TIMEOUT, TLS
from domain.check_results import UNREACHABLE as UNREACHABLE_FAILURE
from domain.deliveries import MAX_RESPONSE_BODY
from domain.errors import DomainError
from domain.webhooks import validate_webhook_url

Resolver = Callable[[str, int], list[str]]
UrlCheck = Callable[[str, AddressPolicy], str]  # a URL as it may be fetched, or DomainError

CONNECT_TIMEOUT = 10.0
TOTAL_TIMEOUT = 30.0

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH}
# Only to read an untrusted certificate's dates: nothing is sent over it.
_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE

_resolvers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-dns")


@functools.cache
def system_tls() -> ssl.SSLContext:
    """The system's trust store, loaded once per process (about 70 ms each time) and
    shared: a context is only read when it wraps a socket."""
    return ssl.create_default_context()


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for a host, in its order, once each."""
    found: list[str] = []
    for *_rest, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection over a socket already connected to the checked address."""

    # Never reconnect on its own: a new connection is judged by address first.
    auto_open = 0

    def __init__(
        self, host: str, port: int, sock: socket.socket, https: bool, certificate: bytes | None
    ) -> None:
        super().__init__(host, port)
        # The Host header leaves out the scheme's own port.
        self.default_port = 443 if https else 80
        self._pinned = sock
        self.sock = sock
        self.certificate = certificate

    def connect(self) -> None:
        self.sock = self._pinned


class KeptConnections:
    """Idle keep-alive connections for one run of requests (a crawl), by scheme, host and
    port, at most `per_key` of each. Each was connected to an address the guard allowed,
    so reusing it asks for no new lookup and cannot be moved by one; a connection the
    server has closed meanwhile is found out on its first request and replaced."""

    def __init__(self, per_key: int = 4) -> None:
        self.per_key = per_key
        self._idle: dict[tuple[str, str, int], list[_Pinned]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def take(self, key: tuple[str, str, int]) -> "_Pinned | None":
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def keep(self, key: tuple[str, str, int], connection: _Pinned) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < self.per_key:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [c for kept in self._idle.values() for c in kept]
            self._idle.clear()
        for connection in idle:
            with contextlib.suppress(OSError):
                connection.close()

    def __enter__(self) -> "KeptConnections":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# A kept connection the server closed while it was idle fails like this on reuse,
# before any answer: the request is sent again on a new connection.
_STALE = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


class _Watchdog:
    """One thread that expires every request's deadline: a timer thread started per
    request costs more than a whole check of a site on the same network."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: "_Deadline") -> None:
        with self._changed:
            heapq.heappush(self._due, (deadline.ends, next(self._order), deadline))
            # Started on first use, and again in a forked child (threads do not fork).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="http-deadlines", daemon=True
                )
                self._thread.start()
            if self._due[0][2] is deadline:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    now = time.monotonic()
                    if self._due and self._due[0][0] <= now:
                        deadline = heapq.heappop(self._due)[2]
                        break
                    self._changed.wait(self._due[0][0] - now if self._due else None)
            if not deadline.cancelled:
                deadline.expire()


class _Deadline:
    """Shuts the socket down when the whole request has taken too long."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.cancelled = False
        self.ends = time.monotonic() + max(0.0, seconds)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        _watchdog.watch(self)

    def remaining(self) -> float:
        return max(0.001, self.ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shut()

    def expire(self) -> None:
        with self._lock:
            if self.cancelled:
                return
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            self._sock = None


_watchdog = _Watchdog()


class SafeHttpClient:
    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        max_body: int = MAX_RESPONSE_BODY,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_body = max_body
        self.tls = tls or system_tls()

    # -- addresses ---------------------------------------------------------------------
    def _resolve(self, host: str, port: int, deadline: _Deadline) -> list[str]:
        future = _resolvers.submit(self.resolver, host, port)
        try:
            return future.result(timeout=min(self.connect_timeout, deadline.remaining()))
        except FutureTimeout:
            raise _Failed(f"DNS lookup of {host} timed out", DNS) from None
        except (OSError, UnicodeError) as error:
            raise _Failed(f"DNS lookup of {host} failed: {error}", DNS) from None

    def addresses(self, host: str, port: int, deadline: _Deadline) -> list[IPAddress]:
        """The addresses this request may connect to, in order; refused ones left out."""
        literal = literal_address(host)
        found = [str(literal)] if literal is not None else self._resolve(host, port, deadline)
        allowed: list[IPAddress] = []
        refusals: list[str] = []
        for text in found:
            try:
                ip = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                refusals.append(f"{text} is not an address")
                continue
            reason = self.policy.refusal(ip, host)
            if reason is None:
                allowed.append(ip)
            else:
                refusals.append(f"{ip} is {reason}")
        if not allowed:
            detail = refusals[0] if refusals else f"{host} has no address"
            raise _Failed(f"Refused address: {detail}", ADDRESS)
        return allowed

    def _connect(self, ips: list[IPAddress], port: int, deadline: _Deadline) -> socket.socket:
        last: OSError | None = None
        for ip in ips:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            deadline.watch(sock)
            sock.settimeout(min(self.connect_timeout, deadline.remaining()))
            try:
                sock.connect((str(ip), port))
                return sock
            except OSError as error:
                sock.close()
                last = error
                if deadline.expired:
                    break
        if isinstance(last, TimeoutError | socket.timeout) or deadline.expired:
            raise _Failed(f"Timed out connecting (after {self.connect_timeout:g} s)", TIMEOUT)
        if isinstance(last, ConnectionRefusedError):
            raise _Failed("Connection refused", REFUSED)
        if isinstance(last, OSError) and last.errno in _UNREACHABLE:
            raise _Failed(f"Could not connect: {last}", UNREACHABLE_FAILURE)
        raise _Failed(f"Could not connect: {last}")

    # -- the request -------------------------------------------------------------------
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome:
        fetched = self.fetch("POST", url, headers, body)
        return fetched.outcome

    def get(
        self, url: str, headers: dict[str, str], validate: UrlCheck = validate_webhook_url
    ) -> "Fetched":
        """One GET (an uptime check), with what a check wants beside the outcome: the
        class of failure and, over HTTPS, the server's certificate."""
        return self.fetch("GET", url, headers, None, validate)

    def fetch(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None = None,
        validate: UrlCheck = validate_webhook_url,
        max_body: int | None = None,
        kept: KeptConnections | None = None,
    ) -> "Fetched":
        """One request to `url` (checked by `validate`, then by address); never raises.
        The body is read up to `max_body` bytes (the client's limit when None). With
        `kept`, a GET or HEAD goes over an idle connection to the same place when there
        is one, and its connection is kept for the next when the answer was read whole."""
        started = time.monotonic()
        deadline = _Deadline(self.total_timeout)
        limit = self.max_body if max_body is None else max_body
        connection: _Pinned | None = None
        try:
            url = validate(url, self.policy)
            parts = urlsplit(url)
            host = parts.hostname or ""
            https = parts.scheme == "https"
            port = parts.port or (443 if https else 80)
            key = (parts.scheme, host.lower(), port)
            # Only a GET or HEAD may be sent again on a new connection, so only they reuse.
            pool = kept if method in ("GET", "HEAD") else None
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            connection = pool.take(key) if pool is not None else None
            response: http.client.HTTPResponse | None = None
            if connection is not None:
                try:
                    response = self._ask(connection, deadline, method, target, body, headers)
                except _STALE:
                    if deadline.expired:
                        raise
                    connection.close()
                    connection = None
            if connection is None:
                connection = self._open(host, port, https, deadline)
                response = self._ask(connection, deadline, method, target, body, headers)
            assert response is not None
            data = response.read(0 if method == "HEAD" else limit + 1)
            if deadline.expired:
                # The watchdog cut the answer short: a status alone is not a delivery.
                raise TimeoutError
            outcome = HttpOutcome(
                status=response.status,
                body=data[:limit].decode("utf-8", "replace"),
                retry_after=response.getheader("Retry-After"),
                location=response.getheader("Location"),
                duration_ms=_ms(started),
            )
            answered = {k.lower(): v for k, v in response.getheaders()}
            certificate = connection.certificate
            if pool is not None and response.isclosed() and not response.will_close:
                deadline.cancel()
                pool.keep(key, connection)  # read whole: the next request may use it
                connection = None
            return Fetched(
                outcome, None, certificate, answered, data[:limit], len(data) > limit, url
            )
        except _Failed as failed:
            error, failure = failed.message, failed.failure
        except DomainError as refused:
            error, failure = refused.message, ADDRESS
        except (OSError, http.client.HTTPException, ValueError) as problem:
            error, failure = _describe(problem, deadline, self), _failure(problem, deadline)
        finally:
            deadline.cancel()
            if connection is not None:
                with contextlib.suppress(OSError):
                    connection.close()
        outcome = HttpOutcome(status=None, error=error, duration_ms=_ms(started))
        return Fetched(outcome, failure, url=url)

    def _open(self, host: str, port: int, https: bool, deadline: _Deadline) -> _Pinned:
        """A new connection to an allowed address of `host`, TLS-wrapped over HTTPS."""
        sock = self._connect(self.addresses(host, port, deadline), port, deadline)
        try:
            sock.settimeout(deadline.remaining())
            certificate: bytes | None = None
            if https:
                sock = self.tls.wrap_socket(sock, server_hostname=host)
                deadline.watch(sock)
                certificate = sock.getpeercert(binary_form=True)
        except BaseException:
            with contextlib.suppress(OSError):
                sock.close()
            raise
        return _Pinned(host, port, sock, https, certificate)

    @staticmethod
    def _ask(
        connection: _Pinned,
        deadline: _Deadline,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
    ) -> http.client.HTTPResponse:
        assert connection.sock is not None
        deadline.watch(connection.sock)
        connection.sock.settimeout(deadline.remaining())
        connection.request(method, target, body=body, headers=headers)
        return connection.getresponse()

    def follow(
        self,
        url: str,
        headers: dict[str, str],
        validate: UrlCheck = validate_webhook_url,
        max_redirects: int = 5,
        max_body: int | None = None,
    ) -> "Followed":
        """GET `url`, following at most `max_redirects` redirects, each target checked
        again as the first was; never raises."""
        elapsed = 0
        for _hop in range(max_redirects + 1):
            fetched = self.fetch("GET", url, headers, None, validate, max_body)
            elapsed += fetched.outcome.duration_ms
            outcome = fetched.outcome
            if outcome.status not in REDIRECT_STATUSES or not outcome.location:
                return Followed(fetched, elapsed)
            url = urljoin(url, outcome.location.strip())
        return Followed(fetched, elapsed, too_many_redirects=True)

    def peer_certificate(self, url: str, validate: UrlCheck = validate_webhook_url) -> bytes | None:
        """The certificate an HTTPS server presents, whether or not it can be trusted (to
        say when an untrusted one expires); None when there is no handshake to be had."""
        deadline = _Deadline(self.connect_timeout)
        sock: socket.socket | None = None
        try:
            parts = urlsplit(validate(url, self.policy))
            host = parts.hostname or ""
            port = parts.port or 443
            sock = self._connect(self.addresses(host, port, deadline), port, deadline)
            sock.settimeout(deadline.remaining())
            sock = _UNVERIFIED.wrap_socket(sock, server_hostname=host)
            return sock.getpeercert(binary_form=True)
        except (_Failed, DomainError, OSError, ValueError):
            return None
        finally:
            deadline.cancel()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def fetchable_url(url: str, policy: AddressPolicy) -> str:
    """A URL someone else gave (a page to crawl, a Webmention source) as it may be asked
    for: http(s), no credentials, a host name the guard does not refuse; its addresses
    are judged again on connecting, and each redirect's target is checked by this too."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        raise DomainError(f"Not a valid URL: {url[:200]}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError(f"Not an http(s) URL: {url[:200]}")
    if parts.username is not None or parts.password is not None:
        raise DomainError("The URL carries a user name or password (not sent)")
    refusal = policy.name_refusal(parts.hostname)
    if refusal is not None:
        raise DomainError(f"Refused address: {refusal}")
    return url


@dataclass(frozen=True)
class Fetched:
    """What one request brought back: the outcome, and what some callers want besides."""

    outcome: HttpOutcome
    failure: str | None = None  # a class of domain/check_results.py, when there is no status
    certificate: bytes | None = None  # the server's certificate (DER), over HTTPS
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    data: bytes = b""  # the body as read, at most the limit asked for
    truncated: bool = False  # the body was longer than the limit
    url: str = ""  # the URL asked for

    @property
    def status(self) -> int | None:
        return self.outcome.status

    @property
    def error(self) -> str | None:
        return self.outcome.error


@dataclass(frozen=True)
class Followed:
    """The last answer after redirects, and how long they took together."""

    last: Fetched
    elapsed_ms: int
    too_many_redirects: bool = False


class _Failed(Exception):
    def __init__(self, message: str, failure: str = OTHER) -> None:
        super().__init__(message)
        self.message = message
        self.failure = failure


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _failure(error: Exception, deadline: _Deadline) -> str:
    if deadline.expired or isinstance(error, TimeoutError | socket.timeout):
        return TIMEOUT
    if isinstance(error, ssl.SSLError):
        return TLS
    if isinstance(error, http.client.HTTPException):
        return PROTOCOL
    if isinstance(error, ConnectionResetError):
        return RESET
    return OTHER


def _describe(error: Exception, deadline: _Deadline, client: SafeHttpClient) -> str:
    if deadline.expired or isinstance(error, TimeoutError | socket.timeout):
        return f"Timed out (no complete answer within {client.total_timeout:g} s)"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed: {error.verify_message or error.reason}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, http.client.HTTPException):
        return f"Invalid HTTP answer: {type(error).__name__} {error}".strip()
    if isinstance(error, ConnectionResetError):
        return "Connection reset by the endpoint"
    return f"Request failed: {error}"
