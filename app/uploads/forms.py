from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import DecimalField, StringField
from wtforms.validators import AnyOf, InputRequired, NumberRange

from ..forms import PortalForm
from ..i18n import LANGUAGES


class PosterForm(PortalForm):
    percent = DecimalField(
        _l("Poster taken at (percent of the duration)"),
        places=None,
        validators=[
            InputRequired(_l("Enter a number from 0 to 100.")),
            NumberRange(0, 100, _l("Enter a number from 0 to 100.")),
        ],
    )


class CaptionForm(PortalForm):
    """A captions file and its language: the one form that takes a file. It reads the file part
    named "file" and nothing else from the request's files (PortalForm says why)."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            if not form.is_submitted():
                return None
            data: MultiDict[str, str | FileStorage] = MultiDict(request.form)
            data.setlist("file", request.files.getlist("file"))
            return data

    language = StringField(
        _l("Language of the captions"), validators=[AnyOf(list(LANGUAGES), _l("Choose English or French."))]
    )
    file = FileField(_l("Captions file (WebVTT or SRT, UTF-8)"), validators=[FileRequired(_l("Choose a file first."))])
