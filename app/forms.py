"""Fields and validators shared by the account forms."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError

from .flows.emails import InvalidEmail, check_deliverable, normalize_email
from .flows.passwords import PasswordPolicy
from .flows.text import has_control_characters


class PortalForm(FlaskForm):
    """Every form of the portal is an HTML form of text fields: it reads the request's form fields
    only. Flask-WTF would also hand it uploaded files and the values of a JSON body (numbers,
    lists, objects), which no text validator expects (a 500)."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            if formdata is None or hasattr(formdata, "getlist"):  # handed in by the caller
                return formdata
            return (request.form or None) if form.is_submitted() else None


def strip(value):
    return value.strip() if isinstance(value, str) else value


def plain_text(form, field):
    """Names and the like: no control characters, nothing that failed to decode."""
    value = field.data or ""
    if has_control_characters(value):
        raise ValidationError(_("This field contains characters that are not allowed."))
    if "\ufffd" in value:
        raise ValidationError(_("This field contains characters that could not be read. Please type it again."))


def valid_email(form, field):
    try:
        field.data = normalize_email(field.data or "")
    except InvalidEmail as exc:
        raise ValidationError(str(exc)) from None


def deliverable_email(form, field):
    """A new account's address must be one our mail can reach (its code comes by mail)."""
    if field.errors:  # not a valid address: valid_email has said why
        return
    try:
        check_deliverable(field.data, current_app.config["MAIL_SMTPUTF8"])
    except InvalidEmail as exc:
        raise ValidationError(str(exc)) from None


def password_policy(form, field):
    problems = PasswordPolicy.from_config(current_app.config).problems(field.data or "")
    if problems:
        raise ValidationError(" ".join(problems))


def password_pair(label, confirm_label, *, missing, missing_again):
    """A new password under the policy, and the same typed again (labels and messages: lazy strings)."""
    password = PasswordField(
        label, validators=[DataRequired(missing), password_policy], render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        confirm_label,
        validators=[DataRequired(missing_again), EqualTo("password", _l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


def text_field(label, max_length: int, required_message, *, autocomplete: str) -> StringField:
    """``autocomplete``: the field's purpose, so browsers and assistive tools can fill it (WCAG 1.3.5)."""
    return StringField(
        label,
        render_kw={"autocomplete": autocomplete},
        filters=[strip],
        validators=[
            DataRequired(required_message),
            Length(max=max_length, message=_l("Please keep this under %(count)s characters.", count=max_length)),
            plain_text,
        ],
    )


def email_field(label=None, *, new_account: bool = False) -> StringField:
    checks = [valid_email, deliverable_email] if new_account else [valid_email]
    return StringField(
        _l("Email address") if label is None else label,
        filters=[strip],
        validators=[DataRequired(_l("Enter your email address.")), *checks],
        render_kw={"type": "email", "autocomplete": "email", "spellcheck": "false"},
    )


class NextField(HiddenField):
    """The page to go back to, carried through the dialog's steps."""

    data: str | None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.data = (self.data or "")[:2000]

    def _value(self):
        return self.data or request.args.get("next", "")[:2000]


def tidy_code(value):
    """People paste codes with spaces or a dash in the middle ("123 456"); take the digits."""
    if not isinstance(value, str):
        return value
    return "".join(value.split()).replace("-", "")[:64]


def code_field(label) -> StringField:
    return StringField(
        label,
        filters=[tidy_code],
        validators=[
            DataRequired(_l("Enter the 6-digit code from the email.")),
            Regexp(r"^[0-9]{6}\Z", message=_l("The code is 6 digits (numbers only), as in the email.")),
        ],
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "maxlength": "12",
            "pattern": r"[0-9 \-]*",
            "spellcheck": "false",
        },
    )


def new_password_fields():
    """A new password and its confirmation, as the reset and the account page's change ask them."""
    return password_pair(
        _l("New password"),
        _l("Confirm new password"),
        missing=_l("Choose a new password."),
        missing_again=_l("Type the new password again."),
    )
