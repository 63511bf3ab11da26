from flask_wtf import FlaskForm


class SubscribeForm(FlaskForm):
    """One button; the account comes from the session."""
