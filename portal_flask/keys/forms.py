"""Forms of the users and keys page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length, Regexp


class NewUserForm(FlaskForm):
    user_name = StringField(
        "User name",
        validators=[
            DataRequired(message="Give the new user a name."),
            Regexp(
                r"^[A-Za-z0-9+=,.@_-]{1,64}$",
                message="Up to 64 letters, digits and + = , . @ _ - (no spaces).",
            ),
        ],
    )


class SignInForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired(message="Give an email address."), Length(max=254)],
    )
