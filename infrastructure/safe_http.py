"""An SSRF-safe HTTP client for webhook deliveries and the content crawler.

- The host name is resolved once; every address is judged by the domain's policy
  (domain/addresses.py) and the request goes to an allowed one, by IP: the Host
  header and TLS SNI (and certificate check) carry the name. A DNS answer that
  changes between the check and the connection (DNS rebinding) cannot move the
  request, because there is no second lookup.
- Redirects are never followed: a 3xx is an answer like any other (a failure).
- 10 seconds to connect, 30 seconds for everything (a watchdog closes the socket
  at the deadline, so a server that drips bytes cannot hold a worker longer).
- Only the first few KB of a response body are read; the rest is never downloaded.
"""

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from application.webhook_delivery import HttpOutcome
from domain.addresses import AddressPolicy, IPAddress, literal_address
from domain.deliveries import MAX_RESPONSE_BODY
from domain.errors import DomainError
from domain.webhooks import validate_webhook_url

Resolver = Callable[[str, int], list[str]]

CONNECT_TIMEOUT = 10.0
TOTAL_TIMEOUT = 30.0

_resolvers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-dns")


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

    def __init__(self, host: str, port: int, sock: socket.socket, https: bool) -> None:
        super().__init__(host, port)
        # The Host header leaves out the scheme's own port.
        self.default_port = 443 if https else 80
        self._pinned = sock

    def connect(self) -> None:
        self.sock = self._pinned


class _Deadline:
    """Shuts the socket down when the whole request has taken too long."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.ends = time.monotonic() + seconds
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


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
        self.tls = tls or ssl.create_default_context()

    # -- addresses ---------------------------------------------------------------------
    def _resolve(self, host: str, port: int, deadline: _Deadline) -> list[str]:
        future = _resolvers.submit(self.resolver, host, port)
        try:
            return future.result(timeout=min(self.connect_timeout, deadline.remaining()))
        except FutureTimeout:
            raise _Failed(f"DNS lookup of {host} timed out") from None
        except (OSError, UnicodeError) as error:
            raise _Failed(f"DNS lookup of {host} failed: {error}") from None

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
            raise _Failed(f"Refused address: {detail}")
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
            raise _Failed(f"Timed out connecting (after {self.connect_timeout:g} s)")
        if isinstance(last, ConnectionRefusedError):
            raise _Failed("Connection refused")
        raise _Failed(f"Could not connect: {last}")

    # -- the request -------------------------------------------------------------------
    def _exchange(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        max_body: int,
        deadline: _Deadline,
        opened: list[socket.socket],
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """Send one request to a checked address and read at most `max_body` + 1 bytes."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        ips = self.addresses(host, port, deadline)
        sock = self._connect(ips, port, deadline)
        opened.append(sock)
        sock.settimeout(deadline.remaining())
        if https:
            sock = self.tls.wrap_socket(sock, server_hostname=host)
            opened.append(sock)
            deadline.watch(sock)
        connection = _Pinned(host, port, sock, https)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read(max_body + 1) if max_body > 0 and method != "HEAD" else b""
        if deadline.expired:
            # The watchdog cut the answer short: a status alone is not an answer.
            raise TimeoutError
        return response, data

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome:
        started = time.monotonic()
        deadline = _Deadline(self.total_timeout)
        opened: list[socket.socket] = []
        try:
            url = validate_webhook_url(url, self.policy)
            response, data = self._exchange(
                "POST", url, body, headers, self.max_body, deadline, opened
            )
            outcome = HttpOutcome(
                status=response.status,
                body=data[: self.max_body].decode("utf-8", "replace"),
                retry_after=response.getheader("Retry-After"),
                location=response.getheader("Location"),
                duration_ms=_ms(started),
            )
        except _Failed as failed:
            outcome = HttpOutcome(status=None, error=failed.message, duration_ms=_ms(started))
        except DomainError as refused:
            outcome = HttpOutcome(status=None, error=refused.message, duration_ms=_ms(started))
        except (OSError, http.client.HTTPException, ValueError) as error:
            outcome = HttpOutcome(
                status=None, error=_describe(error, deadline, self), duration_ms=_ms(started)
            )
        finally:
            deadline.cancel()
            _close(opened)
        return outcome

    def fetch(self, method: str, url: str, headers: dict[str, str], max_body: int = 0) -> "Fetched":
        """GET or HEAD a public http(s) URL (the content crawler's requests): the status,
        a few headers, and at most `max_body` bytes of the body. Never raises."""
        started = time.monotonic()
        deadline = _Deadline(self.total_timeout)
        opened: list[socket.socket] = []
        try:
            _check_fetch_url(url, self.policy)
            response, data = self._exchange(method, url, None, headers, max_body, deadline, opened)
            fetched = Fetched(
                status=response.status,
                headers={k.lower(): v for k, v in response.getheaders()},
                body=data[:max_body],
                truncated=len(data) > max_body,
                duration_ms=_ms(started),
            )
        except _Failed as failed:
            fetched = Fetched(status=None, error=failed.message, duration_ms=_ms(started))
        except (OSError, http.client.HTTPException, ValueError) as error:
            fetched = Fetched(
                status=None, error=_describe(error, deadline, self), duration_ms=_ms(started)
            )
        finally:
            deadline.cancel()
            _close(opened)
        return fetched


@dataclass(frozen=True)
class Fetched:
    """What one GET or HEAD brought back: a status, or the error that kept it from one."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""
    truncated: bool = False  # the body was longer than asked for
    error: str | None = None
    duration_ms: int = 0


def _check_fetch_url(url: str, policy: AddressPolicy) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        raise _Failed("Not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Failed("Not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise _Failed("The URL carries a user name or password (not sent)")
    refusal = policy.name_refusal(parts.hostname)
    if refusal is not None:
        raise _Failed(f"Refused address: {refusal}")


def _close(opened: list[socket.socket]) -> None:
    for sock in reversed(opened):
        with contextlib.suppress(OSError):
            sock.close()


class _Failed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(error: Exception, deadline: _Deadline, client: SafeHttpClient) -> str:
    if deadline.expired or isinstance(error, TimeoutError | socket.timeout):
        return f"Timed out (no complete answer within {client.total_timeout:g} s)"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, http.client.HTTPException):
        return f"Invalid HTTP answer: {type(error).__name__} {error}".strip()
    if isinstance(error, ConnectionResetError):
        return "Connection reset by the endpoint"
    return f"Request failed: {error}"
