"""The configuration application: accounts, sites and API keys.

High-volume tracking (hits, events, kudos) lives in an application of its own: on
PostgreSQL the library locks an application's table for each insert, and a burst
of hits must never make a sign-up or a settings change wait.
"""

from collections.abc import Callable, Sequence

from application.accounts import AccountCommands
from application.api_keys import KeyCommands
from application.ports import PasswordHasher
from application.sites import SiteCommands
from application.webring import WebringCommands


class Configuration(AccountCommands, SiteCommands, KeyCommands, WebringCommands):
    name = "Configuration"

    def __init__(
        self,
        env: dict[str, str],
        passwords: PasswordHasher,
        listeners: Sequence[Callable[[], None]] = (),
    ) -> None:
        # Erasing an account is not here but in application/erasure.py (`Erasure`).
        super().__init__(env=env, listeners=listeners)
        self.passwords = passwords
