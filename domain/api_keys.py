"""The ApiKey aggregate: a bearer secret that lets a program act for an account."""

import hashlib
import secrets
import string
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.text import refuse

_NAMESPACE = uuid5(NAMESPACE_URL, "https://tinylytics.invalid/api-keys")
_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 40
MAX_NAME_LENGTH = 100


class Access(StrEnum):
    READ_ONLY = "read_only"
    FULL_ACCESS = "full_access"

    @property
    def prefix(self) -> str:
        return "tly-ro-" if self is Access.READ_ONLY else "tly-fa-"

    @classmethod
    def parse(cls, value: str) -> "Access":
        try:
            return cls(value)
        except ValueError:
            raise DomainError("Access must be 'read_only' or 'full_access'") from None


def hash_secret(secret: str) -> str:
    """The one-way form a key is kept in; the secret itself is shown once and forgotten.

    Keys carry 238 bits of randomness, so a plain SHA-256 is enough: a slow password
    hash would only slow every API request down.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_id_for(secret: str) -> UUID:
    """A key's aggregate id follows from its secret, so a request finds its key directly."""
    return uuid5(_NAMESPACE, hash_secret(secret))


def normalize_key_name(name: str) -> str:
    name = refuse((name or "").strip(), "Name")
    if not name:
        raise DomainError("Name can't be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(f"Name is too long (at most {MAX_NAME_LENGTH} characters)")
    return name


class ApiKey(Aggregate):
    """An issued key; only the hash of its secret is recorded."""

    @classmethod
    def issue(cls, owner_id: UUID, name: str, access: str) -> tuple["ApiKey", str]:
        """Make a key and return it with its secret, which is never recorded."""
        kind = Access.parse(access)
        secret = kind.prefix + "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))
        key = cls(
            id=key_id_for(secret),
            owner_id=owner_id,
            name=normalize_key_name(name),
            access=kind.value,
            secret_hash=hash_secret(secret),
            hint=secret[:10],
        )
        return key, secret

    @event("Issued")
    def __init__(
        self, id: UUID, owner_id: UUID, name: str, access: str, secret_hash: str, hint: str
    ) -> None:
        self.owner_id = owner_id
        self.name = name
        self.access = access
        self.secret_hash = secret_hash
        self.hint = hint
        self.is_revoked = False

    @property
    def can_write(self) -> bool:
        return self.access == Access.FULL_ACCESS.value

    def revoke(self) -> None:
        if not self.is_revoked:
            self._revoked()

    @event("Revoked")
    def _revoked(self) -> None:
        self.is_revoked = True
