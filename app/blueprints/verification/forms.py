from flask_babel import lazy_gettext as _l

from ...forms import PortalForm, code_field


class CodeForm(PortalForm):
    code = code_field(_l("Verification code"))
