from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..blueprints.verification.forms import code_field
from ..forms import NextField, PortalForm, strip


class TotpSetupForm(PortalForm):
    code = code_field(_l("Code from your authenticator app"))


class SecondFactorForm(PortalForm):
    """The sign-in step: an authenticator code (6 digits) or a recovery code (xxxxx-xxxxx)."""

    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        filters=[strip],
        validators=[DataRequired(_l("Enter the 6-digit code from your authenticator app, or a recovery code.")),
                    Length(max=40, message=_l("That code is not correct."))],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "off"},
    )
    remember_browser = BooleanField(_l("Do not ask again on this browser for 30 days"))
    next = NextField()


class PasswordConfirmForm(PortalForm):
    """Removing a factor or making new recovery codes asks for the password again."""

    factor_password = PasswordField(_l("Your password"), validators=[DataRequired(_l("Enter your password."))],
                                    render_kw={"autocomplete": "current-password"})

