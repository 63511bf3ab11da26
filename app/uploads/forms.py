from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, StringField
from wtforms.validators import AnyOf, InputRequired, NumberRange

from ..forms import PortalForm
from ..i18n import LANGUAGES


class PosterForm(PortalForm):
    percent = DecimalField(_l("Poster taken at (percent of the duration)"), places=None,
                           validators=[InputRequired(_l("Enter a number from 0 to 100.")),
                                       NumberRange(0, 100, _l("Enter a number from 0 to 100."))])


class CaptionForm(PortalForm):
    """The language of a captions file; the file itself is read by the view (request.files)."""
    language = StringField(_l("Language of the captions"), validators=[AnyOf(list(LANGUAGES), _l("Choose English or French."))])
