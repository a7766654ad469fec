"""The forms of signing in, changing and resetting a password."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal_flask.passwords import MAX_LENGTH, MIN_LENGTH


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])
    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[Optional(), Length(max=64)],
    )
    remember = BooleanField("Keep me signed in on this computer")
    next = HiddenField()


class TwoStepCodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        validators=[DataRequired(message="Give the code your app shows."), Length(max=64)],
    )


def _new_password_fields():
    new = PasswordField(
        "New password",
        validators=[
            DataRequired(message="Give a new password."),
            Length(
                min=MIN_LENGTH,
                max=MAX_LENGTH,
                message=f"A password needs {MIN_LENGTH} to {MAX_LENGTH} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "New password again",
        validators=[EqualTo("new_password", message="The two new passwords differ.")],
    )
    return new, confirm


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(message="Give your current password."), Length(max=MAX_LENGTH)],
    )
    new_password, confirm_password = _new_password_fields()


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired(message="Give your email."), Length(max=254)]
    )


class ResetPasswordForm(FlaskForm):
    new_password, confirm_password = _new_password_fields()
