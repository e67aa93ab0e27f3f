"""Sign up, sign in and out, email confirmation and forgotten passwords (under /auth)."""

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from domain.errors import Conflict, DomainError, NotFound
from interfaces.collect.client import client_ip
from interfaces.container import container
from interfaces.dashboard.blueprint import auth, state
from interfaces.dashboard.forms import ForgotForm, ResendForm, ResetForm, SignInForm, SignUpForm
from interfaces.dashboard.mails import send_confirmation, send_reset
from interfaces.dashboard.session import (
    current_account,
    log_in,
    log_out,
    login_required,
    safe_next,
    signed_in,
)
from interfaces.dashboard.tokens import Outcome, check_confirmation, check_reset
from interfaces.dashboard.views import add_error, form_status


@auth.route("/sign_up", methods=["GET", "POST"])
def sign_up() -> Any:
    if current_account() is not None:
        return redirect(url_for("dashboard.sites"))
    form = SignUpForm()
    if form.validate_on_submit():
        c = container()
        try:
            created = c.configuration.register_account(
                form.email.data, form.password.data, timezone=form.timezone.data
            )
        except Conflict:
            add_error(form.email, "An account with this address exists already: sign in instead.")
        except DomainError as error:
            add_error(form.password if "assword" in error.message else form.email, error.message)
        else:
            account = c.configuration.get_account(created.uuid)
            log_in(account)
            if send_confirmation(account, throttled=False):
                flash(
                    f"Welcome! We sent a link to {account.email}: open it to confirm your address.",
                    "success",
                )
            return redirect(url_for("dashboard.sites"))
    return render_template("dashboard/sign_up.html", form=form), form_status(form)


@auth.route("/sign_in", methods=["GET", "POST"])
def sign_in() -> Any:
    target = safe_next(request.args.get("next"))
    if current_account() is not None:
        return redirect(target or url_for("dashboard.sites"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        throttle = state().throttle
        email_key = throttle.email_key(form.email.data)
        client_key = throttle.client_key(client_ip(request, container().settings))
        verdict = throttle.login_allowed(email_key, client_key)
        if not verdict.allowed:
            minutes = max(1, (verdict.retry_after + 59) // 60)
            add_error(
                form.password,
                f"Too many failed attempts. Try again in {minutes} minute"
                f"{'s' if minutes > 1 else ''}, or reset your password.",
            )
            status = 429
        else:
            account = container().configuration.authenticate_password(
                form.email.data, form.password.data
            )
            if account is None:
                throttle.login_failed(email_key, client_key)
                add_error(form.password, "That email address and password do not match.")
            else:
                throttle.login_succeeded(email_key, client_key)
                log_in(account)
                return redirect(target or url_for("dashboard.sites"))
    form.password.data = ""
    page = render_template("dashboard/sign_in.html", form=form, next=target)
    return page, status if status != 200 else form_status(form)


@auth.post("/sign_out")
def sign_out() -> Any:
    log_out()
    flash("You are signed out.", "success")
    return redirect(url_for("dashboard.home"))


@auth.get("/confirm/<token>")
def confirm(token: str) -> Any:
    checked = check_confirmation(token)
    if checked.outcome is Outcome.VALID and checked.account is not None:
        container().configuration.confirm_email(checked.account.id)
        flash(f"Thank you: {checked.account.email} is confirmed.", "success")
        if current_account() is not None:
            return redirect(url_for("dashboard.sites"))
        return redirect(url_for("auth.sign_in"))
    return _link_problem("confirm", checked.outcome)


@auth.post("/confirm/resend")
@login_required
def resend_confirmation() -> Any:
    account = signed_in()  # the CSRF token was checked before the view ran
    if account.email_confirmed:
        flash("Your address is confirmed already.", "success")
    elif send_confirmation(account):
        flash(f"We sent a new link to {account.email}.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("dashboard.sites"))


@auth.route("/forgot_password", methods=["GET", "POST"])
def forgot_password() -> Any:
    form = ForgotForm()
    sent = False
    if form.validate_on_submit():
        try:
            account = container().configuration.find_account(form.email.data)
        except NotFound:
            account = None
        if account is not None:
            send_reset(account)
        sent = True
    return render_template("dashboard/forgot.html", form=form, sent=sent), form_status(form)


@auth.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    checked = check_reset(token)
    if checked.outcome is not Outcome.VALID or checked.account is None:
        return _link_problem("reset", checked.outcome)
    form = ResetForm()
    if form.validate_on_submit():
        c = container()
        try:
            c.configuration.change_password(checked.account.id, form.password.data)
        except DomainError as error:
            add_error(form.password, error.message)
        else:
            log_in(c.configuration.get_account(checked.account.id))
            flash("Your password was changed, and you are signed in.", "success")
            return redirect(url_for("dashboard.sites"))
    return render_template("dashboard/reset.html", form=form, token=token), form_status(form)


def _link_problem(kind: str, outcome: Outcome) -> tuple[str, int]:
    titles = {
        Outcome.EXPIRED: "This link has expired",
        Outcome.USED: "This link has been used already",
        Outcome.INVALID: "This link is not valid",
    }
    status = 404 if outcome is Outcome.INVALID else 410
    page = render_template(
        "dashboard/link_problem.html",
        kind=kind,
        outcome=outcome.value,
        title=titles.get(outcome, "This link is not valid"),
        resend=ResendForm(),
    )
    return page, status
