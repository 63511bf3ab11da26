from flask_wtf import FlaskForm

from ...forms import NextField, email_field, password_pair


class RequestResetForm(FlaskForm):
    email = email_field()
    next = NextField()


def new_password_fields():
    return password_pair("New password", "Confirm new password", missing="Choose a new password.",
                         missing_again="Type the new password again.")


class NewPasswordForm(FlaskForm):
    password, confirm = new_password_fields()
