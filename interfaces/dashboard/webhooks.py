"""Account → Webhooks: create, change, rotate, disable/enable, delete and test webhooks,
and each webhook's Events page (recent deliveries, retry).

Mirrors `tinylytics webhooks …` (interfaces/cli/webhooks.py): the Webhooks application
makes every change, scoped to the signed-in account (another account's webhook, or
delivery, is 404); the lists come from the webhooks read model (`WebhookReads`).
"""

from typing import Any
from uuid import UUID

from flask import abort, flash, redirect, render_template, request, url_for

from application.webhooks import WebhookChanges
from domain.deliveries import DELIVERED, FAILED
from domain.errors import DomainError, NotFound
from domain.webhooks import Webhook
from interfaces.container import container
from interfaces.dashboard.blueprint import dashboard
from interfaces.dashboard.forms import WebhookActionForm, WebhookForm
from interfaces.dashboard.session import login_required, signed_in
from interfaces.dashboard.views import add_error
from interfaces.whole_numbers import whole_number
from projections.reads import DeliveryListing, WebhookListing

PAGE_SIZE = 25
MAX_ID = 2**62  # ids are notification ids; a larger `before` would overflow a BIGINT


def owned_webhook(number: int) -> Webhook:
    """The signed-in account's webhook with this id; anyone else's (or none) is 404."""
    return container().webhooks.webhook_by_number(number, signed_in().id)


def _rows(owner_id: UUID) -> list[WebhookListing]:
    c = container()
    c.projections.catch_up(["webhooks"])  # what was just saved is shown
    return c.reads.webhooks.for_owner(owner_id)


def _apply_error(form: WebhookForm, error: DomainError) -> None:
    """A refusal of the application, beside the field it is about."""
    message = error.message
    if "event" in message.lower():
        add_error(form.events, message)
    elif message.startswith("Platform"):
        add_error(form.platform, message)
    else:
        add_error(form.url, message)


def _list_page(
    status: int = 200, form: WebhookForm | None = None, created: Any = None
) -> tuple[str, int]:
    account = signed_in()
    page = render_template(
        "dashboard/webhooks.html",
        webhooks=_rows(account.id),
        form=form or WebhookForm(prefix="hook", formdata=None),
        created=created,
        subscribed=account.is_subscribed,
    )
    return page, status


@dashboard.get("/account/webhooks")
@login_required
def webhooks() -> Any:
    return _list_page()


@dashboard.post("/account/webhooks")
@login_required
def create_webhook() -> Any:
    form = WebhookForm(prefix="hook")
    if form.validate():
        try:
            created = container().webhooks.create_webhook(
                signed_in().id, form.url.data, form.events.data, form.platform.data, form.wrap.data
            )
        except DomainError as error:
            _apply_error(form, error)
        else:
            # The secret is shown on this answer; later pages only show that there is one.
            return _list_page(201, created=created)
    return _list_page(422, form=form)


def _edit_page(
    number: int,
    webhook: Webhook,
    status: int = 200,
    form: WebhookForm | None = None,
    rotated: bool = False,
) -> tuple[str, int]:
    if form is None:
        form = WebhookForm(
            prefix="hook",
            formdata=None,
            url=webhook.url,
            events=list(webhook.events),
            platform=webhook.platform,
            wrap=webhook.wrap,
        )
    c = container()
    page = render_template(
        "dashboard/webhook.html",
        number=number,
        webhook=webhook,
        form=form,
        rotated=rotated,
        previous_expires=(
            webhook.previous_secret_expires_at
            if webhook.signing_secrets(c.webhooks.clock())[1:]
            else None
        ),
        subscribed=signed_in().is_subscribed,
    )
    return page, status


@dashboard.get("/account/webhooks/<int:number>")
@login_required
def webhook(number: int) -> Any:
    return _edit_page(number, owned_webhook(number))


@dashboard.post("/account/webhooks/<int:number>")
@login_required
def change_webhook(number: int) -> Any:
    webhook = owned_webhook(number)
    form = WebhookForm(prefix="hook")
    if form.validate():
        changes = WebhookChanges(
            url=form.url.data,
            events=form.events.data,
            platform=form.platform.data,
            wrap=form.wrap.data,
        )
        try:
            container().webhooks.change_webhook(webhook.id, changes)
        except DomainError as error:
            _apply_error(form, error)
        else:
            flash("Webhook saved.", "success")
            return redirect(url_for("dashboard.webhook", number=number))
    return _edit_page(number, webhook, 422, form=form)


def _action(number: int) -> Webhook:
    """The webhook an action form is about, once its token is checked (by the blueprint)."""
    webhook = owned_webhook(number)
    if not WebhookActionForm().validate():
        abort(400)
    return webhook


@dashboard.post("/account/webhooks/<int:number>/rotate")
@login_required
def rotate_webhook_secret(number: int) -> Any:
    webhook = container().webhooks.rotate_secret(_action(number).id)
    return _edit_page(number, webhook, rotated=True)


@dashboard.post("/account/webhooks/<int:number>/disable")
@login_required
def disable_webhook(number: int) -> Any:
    container().webhooks.disable_webhook(_action(number).id)
    flash("Webhook disabled: nothing is sent to it until you enable it.", "success")
    return redirect(url_for("dashboard.webhook", number=number))


@dashboard.post("/account/webhooks/<int:number>/enable")
@login_required
def enable_webhook(number: int) -> Any:
    container().webhooks.change_webhook(_action(number).id, WebhookChanges(active=True))
    flash("Webhook enabled: what happens from now on is sent.", "success")
    return redirect(url_for("dashboard.webhook", number=number))


@dashboard.route("/account/webhooks/<int:number>/delete", methods=["GET", "POST"])
@login_required
def delete_webhook(number: int) -> Any:
    webhook = owned_webhook(number)
    form = WebhookActionForm()
    if request.method == "POST" and form.validate():
        container().webhooks.delete_webhook(webhook.id)
        flash(f"Webhook {webhook.url} deleted.", "success")
        return redirect(url_for("dashboard.webhooks"))
    return render_template("dashboard/webhook_delete.html", number=number, webhook=webhook)


@dashboard.post("/account/webhooks/<int:number>/test")
@login_required
def test_webhook(number: int) -> Any:
    webhook = _action(number)
    try:
        ref = container().webhooks.send_test(webhook.id)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("dashboard.webhook", number=number))
    flash(f"Test delivery {ref.id} scheduled: its outcome shows below.", "success")
    return redirect(url_for("dashboard.webhook_events", number=number))


def delivery_status(row: DeliveryListing) -> str:
    """scheduled, delivered, failed (a retry is scheduled) or gave up."""
    if row.status == DELIVERED:
        return "delivered"
    if row.status == FAILED:
        return "gave up"
    return "failed" if row.attempts else "scheduled"


@dashboard.get("/account/webhooks/<int:number>/events")
@login_required
def webhook_events(number: int) -> Any:
    webhook = owned_webhook(number)
    before = whole_number(request.args.get("before"))
    if before is not None and not 1 <= before <= MAX_ID:
        before = None  # out of range: the newest page
    c = container()
    c.projections.catch_up(["webhooks"])
    rows = c.reads.webhooks.deliveries_of(webhook.id, PAGE_SIZE + 1, before)
    has_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "dashboard/webhook_events.html",
        number=number,
        webhook=webhook,
        deliveries=[{"row": r, "status": delivery_status(r)} for r in rows],
        older=rows[-1].id if has_older else None,  # the next page: ids before this one
        paged=before is not None,
        subscribed=signed_in().is_subscribed,
    )


@dashboard.post("/account/webhooks/<int:number>/deliveries/<int:delivery>/retry")
@login_required
def retry_webhook_delivery(number: int, delivery: int) -> Any:
    webhook = _action(number)
    c = container()
    found = c.webhooks.delivery_by_number(delivery, signed_in().id)
    if found.webhook_id != webhook.id:
        raise NotFound("Delivery not found")
    try:
        c.webhooks.retry_delivery(delivery, signed_in().id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Delivery {delivery} is being sent again.", "success")
    return redirect(url_for("dashboard.webhook_events", number=number))
