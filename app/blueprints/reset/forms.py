from flask_babel import lazy_gettext as _l

from ...forms import NextField, PortalForm, code_field, email_field, new_password_fields


class RequestResetForm(PortalForm):
    email = email_field()
    next = NextField()


class NewPasswordForm(PortalForm):
    password, confirm = new_password_fields()


class ResetCodeForm(PortalForm):
    code = code_field(_l("Reset code"))
