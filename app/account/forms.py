"""The account's forms: registration and log in, password reset, the account page, and the
second factor. The code step's form is in code_step.py; the fields shared with other features are
in app/forms.py."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length

from ..forms import (
    NextField,
    PortalForm,
    code_field,
    email_field,
    new_password_fields,
    password_pair,
    strip,
    text_field,
)


def profile_fields():
    """First name, last name and organisation: asked at registration, changed on the account page."""
    return (
        text_field(_l("First name"), 100, _l("Enter your first name."), autocomplete="given-name"),
        text_field(_l("Last name"), 100, _l("Enter your last name."), autocomplete="family-name"),
        text_field(
            _l("Organisation / media outlet"),
            200,
            _l("Enter your organisation or media outlet."),
            autocomplete="organization",
        ),
    )


# Registration and log in


class RegisterForm(PortalForm):
    email = email_field(new_account=True)
    password, confirm = password_pair(
        _l("Password"),
        _l("Confirm password"),
        missing=_l("Choose a password."),
        missing_again=_l("Type the password again."),
    )
    first_name, last_name, organisation = profile_fields()
    accept_conditions = BooleanField(
        _l("I accept the conditions of use"),
        validators=[DataRequired(_l("Please accept the conditions of use to create an account."))],
    )
    next = NextField()


class LoginForm(PortalForm):
    email = StringField(
        _l("Email address"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=320, message=_l("Email or password is incorrect.")),
        ],
        render_kw={"type": "email", "autocomplete": "email", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Enter your password.")),
            Length(max=1024, message=_l("Email or password is incorrect.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = NextField()


class PasskeyLoginForm(PortalForm):
    """Sign in with a passkey alone; ``credential`` is filled by app/static/js/passkeys.js."""

    credential = HiddenField(validators=[DataRequired(), Length(max=20000)])
    next = NextField()


# Password reset


class RequestResetForm(PortalForm):
    email = email_field()
    next = NextField()


class NewPasswordForm(PortalForm):
    password, confirm = new_password_fields()


class ResetCodeForm(PortalForm):
    code = code_field(_l("Reset code"))


# The account page


class ProfileForm(PortalForm):
    first_name, last_name, organisation = profile_fields()


class NewsletterForm(PortalForm):
    subscribe = HiddenField(validators=[AnyOf(["on", "off"], message=_l("Choose on or off."))])


class ChangePasswordForm(PortalForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = new_password_fields()


class DeleteAccountForm(PortalForm):
    delete_password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(_l("Enter your password to delete the account."))],
        render_kw={"autocomplete": "current-password"},
    )


class EmailChangeForm(PortalForm):
    # the rules of a new account's address: normalised, and one our mail can reach (its code comes by mail)
    new_email = email_field(_l("New email address"), new_account=True)
    email_password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


# The second factor (two_step.py, passkey_views.py)


class TotpSetupForm(PortalForm):
    code = code_field(_l("Code from your authenticator app"))


class SecondFactorForm(PortalForm):
    """The sign-in step: an authenticator code (6 digits) or a recovery code (xxxxx-xxxxx)."""

    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter the 6-digit code from your authenticator app, or a recovery code.")),
            Length(max=40, message=_l("That code is not correct.")),
        ],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "off"},
    )
    remember_browser = BooleanField(_l("Do not ask again on this browser for 30 days"))
    next = NextField()


class PasswordConfirmForm(PortalForm):
    """Removing a factor or making new recovery codes asks for the password again."""

    factor_password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


class PasskeyForm(PortalForm):
    """A new passkey: its name; ``credential`` is filled by app/static/js/passkeys.js."""

    name = StringField(
        _l("Name of the passkey"),
        filters=[strip],
        validators=[
            DataRequired(_l("Give the passkey a name, such as “Work laptop”.")),
            Length(max=100, message=_l("The name can be at most 100 characters.")),
        ],
    )
    credential = HiddenField(validators=[Length(max=20000)])


class PasskeyNameForm(PortalForm):
    name = StringField(
        _l("New name"),
        filters=[strip],
        validators=[
            DataRequired(_l("Give the passkey a name, such as “Work laptop”.")),
            Length(max=100, message=_l("The name can be at most 100 characters.")),
        ],
    )


class PasskeySignInForm(PortalForm):
    credential = HiddenField(validators=[DataRequired(), Length(max=20000)])
