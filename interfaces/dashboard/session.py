"""Who is signed in: a signed Flask session cookie holding the account id and a
fingerprint of its password hash and session generation. Signing out, changing or
resetting the password start a new generation (an event of the account, so every
web process sees it): every cookie of the earlier ones, copies included, is then
signed out. The cookie is HttpOnly, SameSite=Lax, and Secure on HTTPS."""

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from contextlib import suppress
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

from flask import Flask, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from domain.accounts import Account
from domain.errors import NotFound
from interfaces.container import container
from interfaces.dashboard.blueprint import state

F = TypeVar("F", bound=Callable[..., Any])


class DashboardSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, Secure whenever the dashboard is served over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        configured = container().settings.base_url or ""
        return configured.startswith("https://") or request.is_secure


def password_fingerprint(password_hash: str) -> str:
    digest = hmac.new(state().secret.encode(), password_hash.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def session_fingerprint(account: Account) -> str:
    return password_fingerprint(f"{account.password_hash}\x00{account.session_generation}")


def log_in(account: Account) -> None:
    session.clear()  # a new session id on each sign-in: no fixation
    session["account"] = str(account.id)
    session["pw"] = session_fingerprint(account)
    session.permanent = True
    g.account = account


def log_out() -> None:
    """End this session and every other one of the account, server-side: a cookie
    kept or copied from before is refused from now on."""
    account = current_account()
    if account is not None:
        with suppress(NotFound):  # erased: no session of it can be valid
            container().configuration.end_sessions(account.id)
    session.clear()
    g.account = None


def current_account() -> Account | None:
    if "account" in g:
        found: Account | None = g.account
        return found
    account: Account | None = None
    raw = session.get("account")
    if isinstance(raw, str):
        try:
            loaded = container().configuration.get_account(UUID(raw))
        except (NotFound, ValueError):
            loaded = None
        if loaded is not None and hmac.compare_digest(
            str(session.get("pw", "")), session_fingerprint(loaded)
        ):
            account = loaded
        else:
            session.clear()  # erased, or the password changed since: signed out
    g.account = account
    return account


def signed_in() -> Account:
    account = current_account()
    assert account is not None
    return account


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("auth.sign_in", next=target))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# Control characters (C0, DEL, C1) and the backslash: browsers drop tabs and newlines
# from a Location and read a backslash as a slash.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def safe_next(target: str | None) -> str | None:
    """A same-origin path to return to after signing in; anything else is dropped.

    The target is judged as written and in each form a browser, a proxy or a later
    redirect could turn it into: percent-decoded (a few times over) and NFKC-normalised
    (a fullwidth solidus is a solidus). Every form must be a path that starts with one
    slash, with no scheme, no host and no control character or backslash.
    """
    if not target:
        return None
    forms = [target]
    for _ in range(3):
        forms.append(unquote(forms[-1]))
    forms += [unicodedata.normalize("NFKC", form) for form in forms]
    for form in forms:
        if not form.startswith("/") or form.startswith("//") or _UNSAFE.search(form):
            return None
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return None
    return target.rstrip("?") or None
