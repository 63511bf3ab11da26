from flask_babel import lazy_gettext as _l
from wtforms import DecimalField
from wtforms.validators import InputRequired, NumberRange

from ..forms import PortalForm


class PosterForm(PortalForm):
    percent = DecimalField(_l("Poster taken at (percent of the duration)"), places=None,
                           validators=[InputRequired(_l("Enter a number from 0 to 100.")),
                                       NumberRange(0, 100, _l("Enter a number from 0 to 100."))])
