"""`tinylytics serve`: HTTP served by granian worker processes; projections and jobs in the parent.

Granian parses HTTP in Rust: a tenth of the per-request cost of a pure-Python
server, and the collector is the one endpoint every page view of every site calls
(docs/decisions/0005). It speaks ASGI to `WSGIGateway` (interfaces/wsgi_gateway.py),
which reads each body on the worker's event loop, within a deadline and a size
limit, and only then runs the Flask application on one of `--threads` threads: a
client that stalls mid-body holds no thread (issue 12).
The parent process runs the projections and, without Redis, the jobs; each worker
builds its own container. Workers are spawned, not forked, because the parent
already holds database connections and threads; one that dies is started again,
and each dies with the parent, so a crash never leaves a worker serving alone.
"""

import atexit
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import socket
import sys

from granian.constants import Interfaces, Loops
from granian.log import LogLevels
from granian.server import MPServer

from infrastructure.bootstrap import bootstrap
from interfaces.app import create_app
from interfaces.logs import configure_logging
from interfaces.wsgi_gateway import WSGIGateway

log = logging.getLogger("tinylytics.server")

_PR_SET_PDEATHSIG = 1


def check_port(host: str, port: int) -> None:
    """Raise OSError now, with a plain message, when the address cannot be served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def run(host: str, port: int, threads: int, workers: int) -> None:
    """Serve until SIGINT or SIGTERM; the parent's own work stops with it."""
    multiprocessing.set_start_method("spawn", force=True)
    container = bootstrap()
    container.start_background()
    try:
        MPServer(
            "interfaces.server:worker_app",
            address=host,
            port=port,
            # ASGI without lifespan: the gateway needs no start-up or shutdown messages.
            interface=Interfaces.ASGINL,
            # uvloop (a dependency) when it imports: the hand-over to threads costs less.
            loop=Loops.auto,
            workers=workers,
            backlog=2048,
            websockets=False,
            respawn_failed_workers=True,
            log_level=LogLevels.warning,
        ).serve(target_loader=functools.partial(worker_app, threads, workers), wrap_loader=False)
    finally:
        container.close()


def worker_app(threads: int, workers: int) -> WSGIGateway:
    """The application of one worker process (granian calls this once, at start)."""
    _die_with_parent()
    configure_logging()
    container = bootstrap()
    # Jobs queued in memory (no Redis) run where they are queued: here.
    container.start_background(projections=False)
    atexit.register(container.close)
    settings = container.settings
    return WSGIGateway(
        create_app(container),
        threads=threads,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout_seconds,
        multiprocess=workers > 1,
    )


def _die_with_parent() -> None:
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)
