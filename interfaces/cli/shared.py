"""What every `tinylytics` command shares: `--json`, clear failures, a wired container.

Every administrative command takes `--json` for scripts. A command that fails says
why on stderr (and as `{"error": ...}` with `--json`) and exits non-zero.
"""

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click

from domain.errors import DomainError
from infrastructure.bootstrap import Container, bootstrap
from infrastructure.settings import SettingsError

F = TypeVar("F", bound=Callable[..., Any])


class Failure(Exception):
    """A command could not do what was asked; the message says why."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def iso(moment: datetime | None) -> str | None:
    """A time as the commands' JSON writes it (None stays None)."""
    return moment.isoformat() if moment is not None else None


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(payload, default=_jsonable))
    else:
        click.echo(text)


def admin_command(func: F) -> F:
    """Add `--json` and turn domain and settings errors into a clear message and exit 1."""

    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @wraps(func)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> Any:
        try:
            return func(*args, as_json=as_json, **kwargs)
        except (DomainError, SettingsError, Failure) as error:
            message = getattr(error, "message", None) or str(error)
            if as_json:
                click.echo(json.dumps({"error": message}))
            click.echo(f"error: {message}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@contextmanager
def wired(catch_up: bool = True) -> Iterator[Container]:
    container = bootstrap()
    try:
        yield container
        if catch_up:
            # So that the next command (and the API) sees what this one did at once.
            container.reads.settle()
    finally:
        container.close()


def on_off(value: str | None) -> bool | None:
    return None if value is None else value == "on"


ON_OFF = click.Choice(["on", "off"])


def stop_on_sigterm() -> None:
    """Let a long-running command (serve, worker, projections run) stop on SIGTERM."""

    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
