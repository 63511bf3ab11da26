from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..forms import NextField, PortalForm, code_field, strip


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
