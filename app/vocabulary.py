"""Category names of the demo catalogue, marked for translation. Categories are data, so the
templates pass a name through gettext (the ``category`` filter): these are found in the French
catalogue, and a category imported later simply shows as it was written."""

from flask_babel import lazy_gettext as _l

CATEGORY_NAMES = [
    _l("Defence spending"),
    _l("Exercises"),
    _l("Ministerial meetings"),
    _l("Operations and missions"),
    _l("Press conferences"),
    _l("Summits"),
]
