from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Regexp

from ...forms import PortalForm


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
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "12",
                   "pattern": r"[0-9 \-]*", "spellcheck": "false"},
    )


class CodeForm(PortalForm):
    code = code_field(_l("Verification code"))


class ResetCodeForm(PortalForm):
    code = code_field(_l("Reset code"))


class ResendForm(PortalForm):
    """Only the CSRF token: the address comes from this browser's flow."""


CODE_FORMS = {"verify": CodeForm, "reset": ResetCodeForm}  # by codes.VERIFY / codes.RESET
