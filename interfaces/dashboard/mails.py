"""The mail the dashboard sends: confirmation and password-reset links.

Each goes through the postbox: kept, tried at once, retried by the clock if the mail
server cannot take it now (infrastructure/templates/mail/ holds the texts).
"""

import logging
from typing import Any
from uuid import uuid4

from flask import flash, url_for

from application.mail import Attempted, Message
from domain.accounts import Account
from interfaces.container import base_url, container
from interfaces.dashboard import tokens
from interfaces.dashboard.blueprint import state

log = logging.getLogger("tinylytics.dashboard")


def absolute(endpoint: str, **values: Any) -> str:
    return base_url() + url_for(endpoint, **values)


def _post(account: Account, purpose: str, subject: str, link: str) -> Attempted:
    """Each request is a mail of its own (a fresh key): asked twice, sent twice."""
    c = container()
    text, html = c.templates.render(purpose, {"link": link})
    message = Message(account.email, subject, text, (link,), html=html)
    return c.postbox.post(message, f"{purpose}:{uuid4()}", purpose, account_id=account.id)


def send_confirmation(account: Account, throttled: bool = True) -> bool:
    """Mail a confirmation link to the account's address (at most 3 an hour)."""
    throttle = state().throttle
    if throttled and not throttle.mail_allowed(throttle.email_key(account.email)):
        flash("We sent several links already; please wait a while before asking again.", "error")
        return False
    link = absolute("auth.confirm", token=tokens.confirmation_token(account))
    done = _post(account, "confirmation", "Confirm your email address", link)
    if not done.sent:
        flash(
            "We could not send the email just now. Please try again in a while "
            "(we keep trying too).",
            "error",
        )
        return False
    return True


def send_reset(account: Account) -> None:
    """Mail a password reset link, quietly: the form never says whether an account exists."""
    throttle = state().throttle
    if not throttle.mail_allowed(throttle.email_key(account.email)):
        log.info("password reset mail not sent: too many asked for one address")
        return
    link = absolute("auth.reset", token=tokens.reset_token(account))
    done = _post(account, "reset", "Reset your password", link)
    if not done.sent:
        log.warning("password reset mail could not be sent yet; it is retried")
