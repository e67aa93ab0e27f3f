"""The account page: email, password, time zone, API keys, data export, deletion."""

from collections.abc import Iterator
from typing import Any

from flask import Response, flash, g, redirect, render_template, url_for

from application.exports import EVENT_COLUMNS, HIT_COLUMNS, KUDO_COLUMNS, csv_chunks, zip_chunks
from domain.accounts import Account
from domain.api_keys import ApiKey
from domain.errors import Conflict, DomainError, NotFound
from interfaces.container import container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.community import MENTION_COLUMNS
from interfaces.dashboard.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    KeyForm,
    RevokeForm,
    TimezoneForm,
)
from interfaces.dashboard.mails import send_confirmation
from interfaces.dashboard.session import log_in, log_out, login_required, signed_in
from interfaces.dashboard.views import add_error


def _keys(account: Account) -> list[dict[str, Any]]:
    c = container()
    found = []
    for key_id in reversed(account.key_ids):
        try:
            key = c.configuration.get(key_id, ApiKey, "API key")
        except NotFound:
            continue
        found.append(
            {
                "key": key,
                "created_at": key.created_on,
                "last_used": c.key_usage.last_used(key.id),
            }
        )
    return found


def _page(status: int = 200, issued: Any = None, **forms: Any) -> tuple[str, int]:
    account = signed_in()
    defaults = {
        "email_form": ChangeEmailForm(prefix="email", formdata=None),
        "password_form": ChangePasswordForm(prefix="password", formdata=None),
        "timezone_form": TimezoneForm(prefix="tz", formdata=None, timezone=account.timezone),
        "key_form": KeyForm(prefix="key", formdata=None),
    }
    defaults.update(forms)
    page = render_template(
        "dashboard/account.html",
        keys=_keys(account),
        issued=issued,
        **defaults,
    )
    return page, status


def _current_password_given(form: Any, account: Any) -> bool:
    """Whether the form's `current_password` is the account's; if not, says so on the form."""
    if container().configuration.passwords.verify(
        account.password_hash, form.current_password.data
    ):
        return True
    add_error(form.current_password, "That is not your current password.")
    return False


@dashboard.get("/account")
@login_required
def account() -> Any:
    return _page()


@dashboard.post("/account/email")
@login_required
def change_email() -> Any:
    form = ChangeEmailForm(prefix="email")
    account = signed_in()
    c = container()
    if form.validate() and _current_password_given(form, account):
        try:
            c.configuration.change_email(account.id, form.email.data)
        except Conflict:
            add_error(form.email, "Another account uses this address.")
        except DomainError as error:
            add_error(form.email, error.message)
        else:
            updated = c.configuration.get_account(account.id)
            if updated.email != account.email and send_confirmation(updated):
                flash(
                    f"Your address is now {updated.email}: we sent a link to confirm it.",
                    "success",
                )
            elif updated.email == account.email:
                flash("That is your address already.", "success")
            return redirect(url_for("dashboard.account"))
    form.current_password.data = ""
    return _page(422, email_form=form)


@dashboard.post("/account/password")
@login_required
def change_password() -> Any:
    form = ChangePasswordForm(prefix="password")
    account = signed_in()
    c = container()
    if form.validate() and _current_password_given(form, account):
        try:
            c.configuration.change_password(account.id, form.password.data)
        except DomainError as error:
            add_error(form.password, error.message)
        else:
            # The new hash signs every other session out; this one carries on.
            log_in(c.configuration.get_account(account.id))
            flash("Your password was changed. Other sessions are signed out.", "success")
            return redirect(url_for("dashboard.account"))
    return _page(422, password_form=form)


@dashboard.post("/account/timezone")
@login_required
def change_timezone() -> Any:
    form = TimezoneForm(prefix="tz")
    if form.validate():
        try:
            container().configuration.change_account_timezone(signed_in().id, form.timezone.data)
        except DomainError as error:
            add_error(form.timezone, error.message)
        else:
            flash("Time zone saved.", "success")
            return redirect(url_for("dashboard.account"))
    return _page(422, timezone_form=form)


@dashboard.post("/account/keys")
@login_required
def create_key() -> Any:
    form = KeyForm(prefix="key")
    if form.validate():
        try:
            issued = container().configuration.issue_key(
                signed_in().id, form.name.data, form.access.data
            )
        except Conflict:
            add_error(form.name, "You have a key with this name already.")
        except DomainError as error:
            add_error(form.name, error.message)
        else:
            # Shown on this answer only: the secret is never stored, so never shown again.
            g.pop("account", None)  # the account just gained a key: read it again
            return _page(201, issued=issued)
    return _page(422, key_form=form)


@dashboard.post("/account/keys/revoke")
@login_required
def revoke_key() -> Any:
    form = RevokeForm()
    if form.validate():
        try:
            container().configuration.revoke_key(signed_in().id, form.name.data)
        except NotFound:
            flash("That key is revoked already.", "error")
        else:
            flash(
                f"Key “{form.name.data}” revoked: programs using it are locked out now.", "success"
            )
    return redirect(url_for("dashboard.account"))


@dashboard.get("/account/export.zip")
@login_required
def export_account() -> Any:
    account = signed_in()
    c = container()
    sites = [c.configuration.get_site(site_id) for site_id in account.site_ids]
    keys = _keys(account)
    reads = c.reads
    account_row = {
        "email": account.email,
        "timezone": account.timezone,
        "email_confirmed": account.email_confirmed,
        "created_at": account.created_on,
    }
    site_rows = [
        {
            "uid": s.uid,
            "url": s.url,
            "label": s.label,
            "timezone": s.timezone,
            "public": s.is_public,
            "unique_tracking": s.tracks_uniques,
            "any_domain": s.allows_any_domain,
            "ignored_paths": " ".join(s.ignored_paths),
            "report_recipients": " ".join(s.report_recipients),
            "archived": s.is_archived,
            "created_at": s.created_on,
        }
        for s in sites
    ]
    key_rows = [
        {
            "name": k["key"].name,
            "access": k["key"].access,
            "hint": k["key"].hint,
            "revoked": k["key"].is_revoked,
            "created_at": k["created_at"],
            "last_used_at": k["last_used"],
        }
        for k in keys
    ]

    def files() -> Iterator[tuple[str, Iterator[bytes]]]:
        yield "account.csv", csv_chunks(tuple(account_row), [account_row])
        site_columns = tuple(site_rows[0]) if site_rows else ("uid", "url", "label")
        yield "sites.csv", csv_chunks(site_columns, site_rows)
        key_columns = ("name", "access", "hint", "revoked", "created_at", "last_used_at")
        yield "api_keys.csv", csv_chunks(key_columns, key_rows)
        for site in sites:
            folder = f"sites/{site.uid}"
            hits, events = reads.traffic.export_hits(site.id), reads.traffic.export_events(site.id)
            yield f"{folder}/hits.csv", csv_chunks(HIT_COLUMNS, hits)
            yield f"{folder}/events.csv", csv_chunks(EVENT_COLUMNS, events)
            yield f"{folder}/kudos.csv", csv_chunks(KUDO_COLUMNS, reads.kudos.export(site.id))
            mentions = reads.mentions.export(site.id)
            yield f"{folder}/mentions.csv", csv_chunks(MENTION_COLUMNS, mentions)

    return Response(
        zip_chunks(files()),
        mimetype="application/zip",
        headers={"Content-Disposition": 'attachment; filename="tinylytics-export.zip"'},
    )


@dashboard.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account() -> Any:
    account = signed_in()
    form = DeleteAccountForm()
    c = container()
    if form.validate_on_submit():
        if form.email.data.strip().lower() != account.email:
            add_error(form.email, "That is not the address of this account.")
        elif not c.configuration.passwords.verify(
            account.password_hash, form.current_password.data
        ):
            add_error(form.current_password, "That is not your current password.")
        else:
            c.erasure.delete_account(account.id)
            for address in {account.email, *account.past_emails}:
                c.mailer.forget(address)
            log_out()
            flash(
                "Your account and all its data are deleted. Thank you for using Tinylytics.",
                "success",
            )
            return redirect(url_for("dashboard.home"))
    form.current_password.data = ""
    status = 422 if any(f.errors for f in form) else 200
    return render_template("dashboard/delete.html", form=form), status
