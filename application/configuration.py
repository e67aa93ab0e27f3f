"""The configuration application: accounts, sites and API keys.

High-volume tracking (hits, events, kudos) lives in an application of its own: on
PostgreSQL the library locks an application's table for each insert, and a burst
of hits must never make a sign-up or a settings change wait.
"""

from application.accounts import AccountCommands
from application.api_keys import KeyCommands
from application.ports import Eraser, PasswordHasher
from application.sites import SiteCommands
from application.webring import WebringCommands


class Configuration(AccountCommands, SiteCommands, KeyCommands, WebringCommands):
    name = "Configuration"

    def __init__(self, env: dict[str, str], passwords: PasswordHasher) -> None:
        super().__init__(env=env)
        self.passwords = passwords

    def use_eraser(self, eraser: Eraser) -> None:
        # The eraser locks the projections that read this application's log, so it is
        # wired after both exist (infrastructure/bootstrap.py).
        self.eraser = eraser
