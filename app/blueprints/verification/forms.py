from flask_babel import lazy_gettext as _l

from ...forms import PortalForm, code_field


class CodeForm(PortalForm):
    code = code_field(_l("Verification code"))


class ResetCodeForm(PortalForm):
    code = code_field(_l("Reset code"))


class ResendForm(PortalForm):
    """Only the CSRF token: the address comes from this browser's flow."""


CODE_FORMS = {"verify": CodeForm, "reset": ResetCodeForm}  # by codes.VERIFY / codes.RESET
