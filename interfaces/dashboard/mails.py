"""The mail the dashboard sends: confirmation and password-reset links."""

import logging
from typing import Any

from flask import flash, url_for

from application.mail import MailError, Message
from domain.accounts import Account
from interfaces.container import base_url, container
from interfaces.dashboard import tokens
from interfaces.dashboard.blueprint import state

log = logging.getLogger("tinylytics.dashboard")


def absolute(endpoint: str, **values: Any) -> str:
    return base_url() + url_for(endpoint, **values)


def _send(message: Message) -> bool:
    try:
        container().mailer.send(message)
    except MailError:
        flash("We could not send the email just now. Please try again in a while.", "error")
        return False
    return True


def send_confirmation(account: Account, throttled: bool = True) -> bool:
    """Mail a confirmation link to the account's address (at most 3 an hour)."""
    throttle = state().throttle
    if throttled and not throttle.mail_allowed(throttle.email_key(account.email)):
        flash("We sent several links already; please wait a while before asking again.", "error")
        return False
    link = absolute("auth.confirm", token=tokens.confirmation_token(account))
    text = (
        "Hello,\n\n"
        "please confirm your email address for Tinylytics by opening this link:\n\n"
        f"{link}\n\n"
        "The link works for 3 days. If you did not sign up, ignore this message.\n"
    )
    return _send(Message(account.email, "Confirm your email address", text, (link,)))


def send_reset(account: Account) -> None:
    """Mail a password reset link, quietly: the form never says whether an account exists."""
    throttle = state().throttle
    if not throttle.mail_allowed(throttle.email_key(account.email)):
        log.info("password reset mail not sent: too many asked for one address")
        return
    link = absolute("auth.reset", token=tokens.reset_token(account))
    text = (
        "Hello,\n\n"
        "someone (hopefully you) asked to reset the password of your Tinylytics account.\n"
        "Choose a new password here:\n\n"
        f"{link}\n\n"
        "The link works for one hour and only once. If you did not ask, ignore this message:\n"
        "your password stays as it is.\n"
    )
    try:
        container().mailer.send(Message(account.email, "Reset your password", text, (link,)))
    except MailError:
        log.warning("password reset mail could not be sent")
