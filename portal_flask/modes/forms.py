"""The settings forms: one mode's instance settings, and a destination (PACS or folder)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from administration.sizes import SIZES

MAX_TIMEOUT_MINUTES = 7 * 24 * 60
_AE_TITLE = Regexp(
    r"^[ -\[\]-~]*[!-\[\]-~][ -\[\]-~]*$",
    message="An AE title is up to 16 letters, digits or symbols (no backslash).",
)
_NAME = Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    message="Use letters, digits, '.', '_' and '-', starting with a letter or digit.",
)


class ModeForm(FlaskForm):
    enabled = BooleanField("Enabled: the scanner's menu offers this mode")
    size = RadioField("Instance size", choices=[SelectChoice(s.name, s.label) for s in SIZES])
    purchase = RadioField(
        "Purchase option",
        choices=[SelectChoice("spot", "Spot"), SelectChoice("on_demand", "On-demand")],
        validators=[DataRequired(message="Choose spot or on-demand.")],
    )
    timeout_minutes = IntegerField(
        "Time limit (minutes)",
        validators=[
            InputRequired(message="Give a time limit in minutes."),
            NumberRange(min=1, max=MAX_TIMEOUT_MINUTES, message="Between 1 minute and 7 days."),
        ],
    )


class PacsForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), _NAME])
    host = StringField(
        "Host",
        validators=[
            DataRequired(message="Give the PACS's host name or IP address."),
            Length(max=253),
            Regexp(r"^[A-Za-z0-9.:\-]+$", message="A host name or an IP address."),
        ],
    )
    port = IntegerField(
        "DICOM port",
        default=104,
        validators=[DataRequired(), NumberRange(min=1, max=65535, message="1 to 65535.")],
    )
    aec = StringField(
        "PACS AE title (called)", validators=[DataRequired(), Length(max=16), _AE_TITLE]
    )
    aet = StringField(
        "Our AE title (calling)",
        default="YARRACLOUD",
        validators=[DataRequired(), Length(max=16), _AE_TITLE],
    )
    modes = SelectMultipleField("Only for these modes", validators=[Optional()])


class FolderForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), _NAME])
    location = StringField(
        "Folder or share",
        validators=[
            DataRequired(message="Give the folder's path or the share's mount point."),
            Length(max=1024),
        ],
    )
    modes = SelectMultipleField("Only for these modes", validators=[Optional()])
