from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField
from wtforms.validators import AnyOf, DataRequired

from ...forms import PortalForm, email_field, new_password_fields, text_field


class ProfileForm(PortalForm):
    first_name = text_field(_l("First name"), 100, _l("Enter your first name."), autocomplete="given-name")
    last_name = text_field(_l("Last name"), 100, _l("Enter your last name."), autocomplete="family-name")
    organisation = text_field(
        _l("Organisation / media outlet"),
        200,
        _l("Enter your organisation or media outlet."),
        autocomplete="organization",
    )


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
