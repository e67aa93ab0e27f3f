"""Emailed links: signed (itsdangerous), expiring, and good for one use.

A confirmation link names the address it confirms: once that address is confirmed,
or the account has moved to another one, the link is spent. A reset link carries a
fingerprint of the password hash it replaces: once the password has changed, the link
is spent. Nothing needs to be stored to know that a link was used.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from domain.accounts import Account
from domain.errors import NotFound
from interfaces.container import container
from interfaces.dashboard.blueprint import state
from interfaces.dashboard.session import password_fingerprint

CONFIRM_SECONDS = 3 * 24 * 3600
RESET_SECONDS = 3600


class Outcome(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    INVALID = "invalid"


@dataclass(frozen=True)
class Checked:
    outcome: Outcome
    account: Account | None = None


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state().secret, salt=f"tinylytics.{purpose}")


def confirmation_token(account: Account) -> str:
    return str(_serializer("confirm").dumps({"a": str(account.id), "e": account.email}))


def reset_token(account: Account) -> str:
    return str(
        _serializer("reset").dumps(
            {"a": str(account.id), "p": password_fingerprint(account.password_hash)}
        )
    )


def _load(purpose: str, token: str, max_age: int) -> tuple[Outcome, dict[str, Any] | None]:
    if len(token) > 1000:
        return Outcome.INVALID, None
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        return Outcome.EXPIRED, None
    except BadSignature:
        return Outcome.INVALID, None
    if not isinstance(data, dict):
        return Outcome.INVALID, None
    return Outcome.VALID, data


def _account(data: dict[str, Any]) -> Account | None:
    try:
        return container().configuration.get_account(UUID(str(data.get("a"))))
    except (NotFound, ValueError):
        return None


def check_confirmation(token: str) -> Checked:
    outcome, data = _load("confirm", token, CONFIRM_SECONDS)
    if data is None:
        return Checked(outcome)
    account = _account(data)
    if account is None:
        return Checked(Outcome.INVALID)
    if account.email != data.get("e") or account.email_confirmed:
        return Checked(Outcome.USED, account)
    return Checked(Outcome.VALID, account)


def check_reset(token: str) -> Checked:
    outcome, data = _load("reset", token, RESET_SECONDS)
    if data is None:
        return Checked(outcome)
    account = _account(data)
    if account is None:
        return Checked(Outcome.INVALID)
    if data.get("p") != password_fingerprint(account.password_hash):
        return Checked(Outcome.USED, account)
    return Checked(Outcome.VALID, account)
