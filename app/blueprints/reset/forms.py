from flask_babel import lazy_gettext as _l

from ...forms import NextField, PortalForm, email_field, password_pair


class RequestResetForm(PortalForm):
    email = email_field()
    next = NextField()


def new_password_fields():
    return password_pair(
        _l("New password"),
        _l("Confirm new password"),
        missing=_l("Choose a new password."),
        missing_again=_l("Type the new password again."),
    )


class NewPasswordForm(PortalForm):
    password, confirm = new_password_fields()
