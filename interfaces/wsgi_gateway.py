"""The WSGI application served over ASGI: bodies read on the event loop, the app on threads.

granian's WSGI interface hands a request to one of its Python threads as soon as the
headers are in, and the thread then waits for the body: sixteen clients that stall
mid-body hold the sixteen threads and the whole server stops answering, and a body
cut short by a client that gives up reads as complete (issue 12). granian has no
body timeout or size limit of its own (its maintainers declined one), so the server
speaks ASGI and this gateway stands between it and the WSGI application:

- the body is read on the worker's event loop, within TINYLYTICS_BODY_TIMEOUT (else
  408) and TINYLYTICS_MAX_BODY_BYTES (else 413, at once when the Content-Length says
  so); a client that goes away before its body is complete gets 400 and its request
  never reaches the application;
- only then is the request, its body buffered, handed to one of `threads` threads
  that run the WSGI application. A stalled client holds a coroutine and a socket,
  never a thread.

The hand-over is a plain queue and `call_soon_threadsafe` rather than
`run_in_executor`: half the cost a request, and the collector is the hot path
(docs/decisions/0005). A streamed response (the exports) is iterated on a thread of
its own, each chunk sent before the next is made, so the transport's backpressure
holds a slow reader back without filling memory or a pool thread.
"""

import asyncio
import functools
import io
import json
import logging
import queue
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

log = logging.getLogger("tinylytics.server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# What a thread hands back: start_response's arguments (none yet for an application
# that starts its response lazily), the bytes made so far, and, for a streamed
# response, the iterator of the rest.
Outcome = tuple[list[Any], bytes, "_Closing | None"]

_REFUSED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    # The rest of the body may still be on its way: this connection is done.
    (b"connection", b"close"),
]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@functools.lru_cache(maxsize=256)
def _environ_key(name: bytes) -> str:
    return "HTTP_" + name.decode("latin-1").upper().replace("-", "_")


def _settle(future: "asyncio.Future[Outcome]", outcome: Outcome) -> None:
    if not future.done():  # cancelled when the worker shuts down
        future.set_result(outcome)


def _fail(future: "asyncio.Future[Outcome]", error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class WSGIGateway:
    """An ASGI application that serves `app`, a WSGI application, on `threads` threads."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int,
        max_body_bytes: int,
        body_timeout: float,
        multiprocess: bool = False,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self._base: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "SERVER_SOFTWARE": "granian",
        }
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"web-{n + 1}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            environ, length, chunked = self._environ(scope)
            body = await self._body(receive, length, chunked or scope["http_version"] == "2")
        except _Refused as refused:
            await _answer(send, refused.status, refused.message, close=True)
            return
        environ["wsgi.input"] = io.BytesIO(body)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._jobs.put((loop, future, environ))
        try:
            started, body, rest = await future
            if rest is None:
                status, headers = _head(started)
        except Exception:
            log.exception("unexpected error in the web application")
            await _answer(send, 500, "Unexpected server error")
            return
        if rest is not None:
            await self._stream(started, body, rest, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- the request ---------------------------------------------------------------------
    def _environ(self, scope: dict[str, Any]) -> tuple[dict[str, Any], int | None, bool]:
        environ = dict(self._base)
        root = scope.get("root_path", "")
        raw = scope.get("raw_path")
        # PEP 3333: the path's bytes, percent-decoded, as latin-1 (werkzeug undoes it).
        path = (
            unquote_to_bytes(raw).decode("latin-1")
            if raw is not None
            else scope["path"].encode("utf-8").decode("latin-1")
        )
        if root and path.startswith(root):
            path = path[len(root) :]
        server = scope.get("server") or ("localhost", 80)
        client = scope.get("client") or ("", 0)
        environ.update(
            {
                "REQUEST_METHOD": scope["method"],
                "SCRIPT_NAME": root,
                "PATH_INFO": path,
                "QUERY_STRING": scope["query_string"].decode("latin-1"),
                "SERVER_NAME": str(server[0]),
                "SERVER_PORT": str(server[1]),
                "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
                "REMOTE_ADDR": str(client[0]),
                "REMOTE_PORT": str(client[1]),
                "wsgi.url_scheme": scope.get("scheme", "http"),
            }
        )
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                environ["CONTENT_LENGTH"] = text = value.decode("latin-1")
                if not text.isdigit():  # hyper refuses these first; never trust one
                    raise _Refused(400, "Malformed Content-Length")
                length = int(text)
            elif name == b"content-type":
                environ["CONTENT_TYPE"] = value.decode("latin-1")
            elif b"_" in name:
                # `X_Forwarded_For` would land on the key of `X-Forwarded-For`.
                continue
            else:
                if name == b"transfer-encoding":
                    chunked = True
                key = _environ_key(name)
                text = value.decode("latin-1")
                if key in environ:
                    text = environ[key] + ("; " if name == b"cookie" else ", ") + text
                environ[key] = text
        return environ, length, chunked

    async def _body(self, receive: Receive, length: int | None, unframed: bool) -> bytes:
        """The whole body, or _Refused: too large, too slow, or cut short."""
        if length is None and not unframed:
            return b""  # HTTP/1 with neither Content-Length nor chunks: no body
        if length is not None and length > self.max_body_bytes:
            raise _Refused(413, "Request body is too large")
        if length == 0:
            return b""
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        raise _Refused(400, "The request body ended before it was complete")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise _Refused(413, "Request body is too large")
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise _Refused(408, "The request body took too long to arrive") from None
        if length is not None and size != length:
            raise _Refused(400, "The request body does not match its Content-Length")
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    # -- the threads ---------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            loop, future, environ = job
            try:
                outcome = self._call(environ)
            except BaseException as error:
                loop.call_soon_threadsafe(_fail, future, error)
            else:
                loop.call_soon_threadsafe(_settle, future, outcome)

    def _call(self, environ: dict[str, Any]) -> Outcome:
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append  # PEP 3333's write(), for the old applications

        result = self.app(environ, start_response)
        # A body of known length is in memory already (Flask wraps even those in an
        # iterator): joined here. Only a streamed one (the exports) is left to
        # iterate, and not a chunk of it is made here: it is made on the stream's own
        # thread, where a generator that holds a database connection keeps it.
        if isinstance(result, (list, tuple)) or _sized(started):
            try:
                return started, b"".join([*written, *result]), None
            finally:
                _close(result)
        return started, b"".join(written), _Closing(result)

    async def _stream(
        self,
        started: list[Any],
        written: bytes,
        chunks: "_Closing",
        receive: Receive,
        send: Send,
    ) -> None:
        """A streamed body, made on a thread of its own, one chunk at a time.

        Each chunk is made once the one before is handed to the transport, which waits
        for a slow reader; a reader that goes away stops the making.
        """
        loop = asyncio.get_running_loop()
        gone = asyncio.ensure_future(_disconnected(receive))
        with ThreadPoolExecutor(1, thread_name_prefix="web-stream") as maker:
            try:
                # start_response may wait for the first chunk (PEP 3333).
                first = await loop.run_in_executor(maker, next, chunks, b"")
                status, headers = _head(started)
            except Exception:
                gone.cancel()
                await loop.run_in_executor(maker, chunks.close)
                log.exception("unexpected error in the web application")
                await _answer(send, 500, "Unexpected server error")
                return
            try:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send(
                    {"type": "http.response.body", "body": written + first, "more_body": True}
                )
                while not gone.done():
                    chunk = await loop.run_in_executor(maker, next, chunks, None)
                    if chunk is None:
                        break
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                gone.cancel()
                await loop.run_in_executor(maker, chunks.close)
        await send({"type": "http.response.body", "body": b""})


def _sized(started: list[Any]) -> bool:
    return bool(started) and any(k.lower() == "content-length" for k, _ in started[1])


def _head(started: list[Any]) -> tuple[int, list[tuple[bytes, bytes]]]:
    if not started:
        raise RuntimeError("the WSGI application did not call start_response")
    status, headers = started
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return int(status.split(" ", 1)[0]), encoded


async def _disconnected(receive: Receive) -> None:
    """Returns when the client has gone (or the response is complete)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class _Closing(Iterator[bytes]):
    """A WSGI result's iterator, and the result to close once it is done."""

    def __init__(self, result: Iterable[bytes]) -> None:
        self._result = result
        self._iterator: Iterator[bytes] | None = None

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = iter(self._result)
        return next(self._iterator)

    def close(self) -> None:
        _close(self._result)


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


async def _answer(send: Send, status: int, message: str, close: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = _REFUSED_HEADERS if close else _REFUSED_HEADERS[:-1]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
