from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo

from ...forms import NextField, email_field, password_policy


class RequestResetForm(FlaskForm):
    email = email_field()
    next = NextField()


def new_password_fields():
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), password_policy],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired("Type the new password again."),
                    EqualTo("password", "The two passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class NewPasswordForm(FlaskForm):
    password, confirm = new_password_fields()
