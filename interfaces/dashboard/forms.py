"""The dashboard's forms (Flask-WTF): each field validated with the domain's own rules,
so that an error is shown beside the field it is about, with what was typed kept."""

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from domain.api_keys import MAX_NAME_LENGTH
from domain.emails import normalize_email
from domain.errors import DomainError
from domain.passwords import MAX_LENGTH, MIN_LENGTH
from domain.paths import validate_ignore_patterns
from domain.sites import MAX_LABEL_LENGTH, normalize_recipients
from domain.urls import normalize_site_url
from domain.webhooks import (
    CONTENT_ISSUE,
    DISCORD,
    GENERIC,
    MONITOR_DOWN,
    MONITOR_UP,
    NEW_EVENT,
    NEW_HIT,
    NEW_INSIGHT,
    NEW_KUDO,
    validate_webhook_url,
)
from domain.webhooks import MAX_URL_LENGTH as MAX_WEBHOOK_URL_LENGTH
from interfaces.container import container

# Control characters (but tab, line feed and carriage return) never belong in a form.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_RANGE_DAYS = 730


@cache
def timezones() -> dict[str, str]:
    """IANA zone names (value) and how they read (label), UTC first."""
    names = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return {"UTC": "UTC", **{z: z.replace("_", " ") for z in names}}


def lines(text: str | None) -> list[str]:
    """One entry per line."""
    return [part.strip() for part in re.split(r"[\r\n]+", text or "") if part.strip()]


def addresses(text: str | None) -> list[str]:
    """Email addresses one per line, or separated by commas, semicolons or spaces."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def domain_rule(rule: Callable[[Any], Any]) -> Callable[[Any, Field], None]:
    """A WTForms validator from a domain function that raises DomainError."""

    def check(_form: Any, field: Field) -> None:
        try:
            rule(field.data)
        except DomainError as error:
            raise ValidationError(error.message) from None

    return check


def _email(value: str) -> str:
    return normalize_email(value)


class Form(FlaskForm):
    """Every dashboard form: no control characters in any text it takes."""

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and _CONTROL.search(field.data):
                errors = list(field.errors)
                errors.append("Remove the control characters from this field")
                field.errors = errors
                valid = False
        return valid


class GetForm(Form):
    """A form sent by GET (filters, builders): nothing to protect, no token."""

    class Meta:
        csrf = False


def email_field(label: str = "Email address") -> StringField:
    return StringField(
        label,
        validators=[
            DataRequired("Enter your email address"),
            Length(max=254, message="That address is too long"),
            domain_rule(_email),
        ],
        render_kw={"autocomplete": "email", "inputmode": "email", "spellcheck": "false"},
    )


def new_password_field(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("Choose a password"),
            Length(
                min=MIN_LENGTH,
                max=MAX_LENGTH,
                message=f"Use at least {MIN_LENGTH} characters (at most {MAX_LENGTH})",
            ),
        ],
        render_kw={"autocomplete": "new-password", "minlength": MIN_LENGTH},
    )


def timezone_field(label: str = "Time zone") -> SelectField:
    return SelectField(
        label,
        choices=timezones(),
        default="UTC",
        validate_choice=True,
        render_kw={"data-detect-timezone": "true"},
    )


# -- accounts ----------------------------------------------------------------------------
class SignUpForm(Form):
    email = email_field()
    password = new_password_field()
    timezone = timezone_field()


class SignInForm(Form):
    email = StringField(
        "Email address",
        validators=[DataRequired("Enter your email address"), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password"), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class ForgotForm(Form):
    email = email_field()


class ResetForm(Form):
    password = new_password_field("New password")
    confirm = PasswordField(
        "New password, again",
        validators=[DataRequired("Type the new password again")],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_confirm(self, field: Field) -> None:
        if field.data != self.password.data:
            raise ValidationError("The two passwords differ")


def current_password_field() -> PasswordField:
    return PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password"), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangeEmailForm(Form):
    email = email_field("New email address")
    current_password = current_password_field()


class ChangePasswordForm(ResetForm):
    current_password = current_password_field()


class TimezoneForm(Form):
    timezone = timezone_field()


class ResendForm(Form):
    """Just the token: resend the confirmation link."""


class DeleteAccountForm(Form):
    email = StringField(
        "Type your email address to confirm",
        validators=[DataRequired("Type your email address")],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    current_password = current_password_field()


class KeyForm(Form):
    name = StringField(
        "Name",
        validators=[
            DataRequired("Give the key a name"),
            Length(max=MAX_NAME_LENGTH, message=f"At most {MAX_NAME_LENGTH} characters"),
        ],
        render_kw={"autocomplete": "off", "placeholder": "e.g. Home Assistant"},
    )
    access = RadioField(
        "Access",
        choices={
            "read_only": "Read-only: analytics and settings",
            "full_access": "Full access: may also record hits, events and kudos",
        },
        default="read_only",
        validators=[DataRequired("Choose the access")],
    )


class RevokeForm(Form):
    name = StringField(validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)])


# -- sites -------------------------------------------------------------------------------
def url_field() -> StringField:
    return StringField(
        "URL",
        validators=[
            DataRequired("Enter the address of your site"),
            domain_rule(normalize_site_url),
        ],
        render_kw={
            "placeholder": "mysite.com",
            "inputmode": "url",
            "autocomplete": "url",
            "spellcheck": "false",
        },
    )


def label_field() -> StringField:
    return StringField(
        "Label",
        validators=[Length(max=MAX_LABEL_LENGTH, message=f"At most {MAX_LABEL_LENGTH} characters")],
        description="A name for the site in your dashboard; the URL when left empty.",
        render_kw={"autocomplete": "off"},
    )


class NewSiteForm(Form):
    url = url_field()
    timezone = timezone_field()
    label = label_field()


class EditSiteForm(Form):
    label = label_field()
    url = url_field()
    timezone = timezone_field()
    public = BooleanField("Public stats: anyone with the link can see this site's overview")
    unique_tracking = BooleanField("Count unique hits (anonymous daily hashes)")
    any_domain = BooleanField("Allow the script on any domain")
    ignored_paths = TextAreaField(
        "Ignored paths",
        description="One pattern per line, e.g. /admin or /drafts/*. Hits on them are not counted.",
        validators=[domain_rule(lambda text: validate_ignore_patterns(lines(text)))],
        render_kw={"rows": 4, "spellcheck": "false"},
    )
    reports_to_owner = BooleanField("Send the weekly report to me")
    report_recipients = TextAreaField(
        "Email recipients for reports",
        description="One address per line (at most 10). Reports go to these addresses too.",
        validators=[domain_rule(lambda text: normalize_recipients(addresses(text)))],
        render_kw={"rows": 3, "spellcheck": "false"},
    )


class ArchiveForm(Form):
    """Just the token: archive or unarchive."""


class SendReportForm(Form):
    """Just the token: Send Report Now."""


class UnsubscribeForm(Form):
    """Just the token: the button on the unsubscribe page."""


# -- filters -----------------------------------------------------------------------------
class RangeForm(GetForm):
    start = DateField("From", format="%Y-%m-%d", validators=[InputRequired("Pick a start date")])
    end = DateField("To", format="%Y-%m-%d", validators=[InputRequired("Pick an end date")])

    def validate_end(self, field: Field) -> None:
        start, end = self.start.data, field.data
        if not isinstance(start, date) or not isinstance(end, date):
            return
        if start > end:
            raise ValidationError("The end date must not be before the start date")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ValidationError(f"Pick at most {MAX_RANGE_DAYS} days")
        if start.year < 2000 or end.year > 2100:
            raise ValidationError("Pick dates between 2000 and 2100")


class EmbedForm(GetForm):
    minified = BooleanField("Minified script (/min.js)")
    spa = BooleanField("spa: count client-side navigation (single-page apps)")
    events = BooleanField("events: track clicks on data-tinylytics-event elements")
    beacon = BooleanField("beacon: send events with the Beacon API")
    hits = SelectField(
        "hits: hit counter widget",
        choices={"": "off", "total": "total hits", "unique": "unique hits"},
        default="",
    )
    kudos = BooleanField("kudos: kudos button")
    kudos_emoji = StringField(
        "Kudos emoji (or custom for the count only)",
        validators=[Length(max=20, message="At most 20 characters")],
        render_kw={"placeholder": "👋", "autocomplete": "off"},
    )
    countries = BooleanField("countries: visitor country flags")
    uptime = BooleanField("uptime: uptime percentage")
    webring = SelectField(
        "webring: a random webring member",
        choices={"": "off", "plain": "link", "avatars": "link with avatar"},
        default="",
    )


# -- webhooks ----------------------------------------------------------------------------
class MultiCheckboxField(SelectMultipleField):
    """Several choices, one checkbox each."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _webhook_url(url: str) -> None:
    # The rules the application applies (scheme, no credentials, refused addresses).
    validate_webhook_url(url, container().webhooks.policy)


class WebhookForm(Form):
    url = StringField(
        "URL",
        validators=[
            DataRequired("Enter the URL to send events to"),
            Length(max=MAX_WEBHOOK_URL_LENGTH, message="That URL is too long"),
            domain_rule(_webhook_url),
        ],
        description="A public http:// or https:// address (https recommended).",
        render_kw={
            "placeholder": "https://example.com/webhooks/tinylytics",
            "inputmode": "url",
            "autocomplete": "off",
            "spellcheck": "false",
        },
    )
    events = MultiCheckboxField(
        "Events",
        choices={
            NEW_HIT: "new_hit: a live hit is recorded",
            NEW_KUDO: "new_kudo: a kudo is given",
            MONITOR_DOWN: "monitor_down: a site goes down",
            MONITOR_UP: "monitor_up: a site is back up",
            NEW_EVENT: "new_event: a custom event is recorded",
            NEW_INSIGHT: "new_insight: a daily insight is generated",
            CONTENT_ISSUE: "content_issue: a content check finds a new issue",
        },
    )
    platform = RadioField(
        "Platform",
        choices={GENERIC: "Generic JSON", DISCORD: "Discord"},
        default=GENERIC,
        validators=[DataRequired("Choose the platform")],
    )
    wrap = BooleanField('Wrap content: send each payload as {"content": …}')

    def validate_events(self, field: Field) -> None:
        if not field.data:
            raise ValidationError("Select at least one event")


class WebhookActionForm(Form):
    """Just the token: rotate, disable, enable, delete, send test, retry."""


class DeleteSiteForm(Form):
    domain = StringField(
        "Type the site's domain to confirm",
        validators=[DataRequired("Type the site's domain")],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
