from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ...forms import NextField, PortalForm, email_field, password_pair, strip, text_field


class RegisterForm(PortalForm):
    email = email_field(new_account=True)
    password, confirm = password_pair(
        _l("Password"),
        _l("Confirm password"),
        missing=_l("Choose a password."),
        missing_again=_l("Type the password again."),
    )
    first_name = text_field(_l("First name"), 100, _l("Enter your first name."), autocomplete="given-name")
    last_name = text_field(_l("Last name"), 100, _l("Enter your last name."), autocomplete="family-name")
    organisation = text_field(
        _l("Organisation / media outlet"),
        200,
        _l("Enter your organisation or media outlet."),
        autocomplete="organization",
    )
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
