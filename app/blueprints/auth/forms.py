from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ...forms import NextField, email_field, password_pair, strip, text_field


class RegisterForm(FlaskForm):
    email = email_field()
    password, confirm = password_pair("Password", "Confirm password", missing="Choose a password.",
                                      missing_again="Type the password again.")
    first_name = text_field("First name", 100, "Enter your first name.")
    last_name = text_field("Last name", 100, "Enter your last name.")
    organisation = text_field("Organisation / media outlet", 200, "Enter your organisation or media outlet.")
    accept_conditions = BooleanField(
        "I accept the conditions of use",
        validators=[DataRequired("Please accept the conditions of use to create an account.")],
    )
    next = NextField()


class LoginForm(FlaskForm):
    email = StringField(
        "Email address",
        filters=[strip],
        validators=[DataRequired("Enter your email address."), Length(max=320, message="Email or password is incorrect.")],
        render_kw={"type": "email", "autocomplete": "email", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=1024, message="Email or password is incorrect.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me logged in on this device")
    next = NextField()
