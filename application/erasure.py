"""What erasing an account covers: the account, its sites, keys and every claim they held."""

from dataclasses import dataclass, field
from uuid import UUID


@dataclass(frozen=True)
class ErasureScope:
    account_id: UUID
    site_ids: tuple[UUID, ...] = ()
    key_ids: tuple[UUID, ...] = ()
    # Every aggregate in the configuration store to remove, claims included: a claim's
    # id is derived from an email or a URL, so leaving one would leave personal data.
    originator_ids: tuple[UUID, ...] = field(default=())
