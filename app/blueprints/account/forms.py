from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField
from wtforms.validators import AnyOf, DataRequired

from ...forms import text_field
from ..reset.forms import new_password_fields


class ProfileForm(FlaskForm):
    first_name = text_field("First name", 100, "Enter your first name.")
    last_name = text_field("Last name", 100, "Enter your last name.")
    organisation = text_field("Organisation / media outlet", 200, "Enter your organisation or media outlet.")


class NewsletterForm(FlaskForm):
    subscribe = HiddenField(validators=[AnyOf(["on", "off"], message="Choose on or off.")])


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired("Enter your current password.")],
                            render_kw={"autocomplete": "current-password"})
    password, confirm = new_password_fields()


class DeleteAccountForm(FlaskForm):
    delete_password = PasswordField("Your password", validators=[DataRequired("Enter your password to delete the account.")],
                                    render_kw={"autocomplete": "current-password"})
