"""The story editor's forms. The fields' rules are app/flows/story_fields.py (the importer's too):
the form gathers what was typed into a story in the manifest's shape, and puts each problem the
rules find beside its field."""

from __future__ import annotations

from datetime import date, datetime
from itertools import zip_longest

from flask_babel import lazy_gettext as _l
from wtforms import Field, HiddenField, StringField, TextAreaField
from wtforms.validators import AnyOf

from ..flows import story_fields
from ..forms import PortalForm
from ..models import Story, split_shots

BLANK_ROWS, MORE_ROWS = 3, 5
# Form field: where story_fields says it is in the manifest's shape.
PLACES = {
    "title": "title",
    "location": "location",
    "published": "published",
    "summary": "summary",
    "body": "body",
    "credit": "credit",
    "rights": "rights",
    "categories": "categories",
}
TRANSLATED = ("title", "location", "summary", "body", "credit", "rights")
PLACES.update({f"fr_{name}": f"translations.fr.{name}" for name in TRANSLATED})


class RepeatedField(Field):
    """Inputs that share one name, in page order (the shotlist's rows): a list of strings."""

    def process_formdata(self, valuelist):
        self.data = [value if isinstance(value, str) else "" for value in valuelist][:500]

    def _value(self):
        return ""


class StoryForm(PortalForm):
    version = HiddenField()
    action = HiddenField(validators=[AnyOf(["save", "add-rows"])], default="save")
    title = StringField(_l("Title"))
    location = StringField(_l("Place"))
    published = StringField(_l("Date"), render_kw={"type": "date"})
    summary = TextAreaField(_l("Summary"), render_kw={"rows": 3})
    body = TextAreaField(_l("Body"), render_kw={"rows": 12})
    categories = StringField(_l("Categories"))
    credit = StringField(_l("Credit"))
    rights = TextAreaField(_l("Rights note"), render_kw={"rows": 2})
    fr_title = StringField(_l("Title (French)"))
    fr_location = StringField(_l("Place (French)"))
    fr_summary = TextAreaField(_l("Summary (French)"), render_kw={"rows": 3})
    fr_body = TextAreaField(_l("Body (French)"), render_kw={"rows": 12})
    fr_credit = StringField(_l("Credit (French)"))
    fr_rights = TextAreaField(_l("Rights note (French)"), render_kw={"rows": 2})
    shot_at = RepeatedField()
    shot_text = RepeatedField()
    fr_shot_text = RepeatedField()

    @classmethod
    def for_story(cls, story: Story | None) -> StoryForm:
        """The editor filled with a saved story (or a new one's defaults)."""
        if story is None:
            return cls(formdata=None, data={"published": date.today().isoformat()})
        french = story.translation("fr")
        shots = story.video.shots if story.video else []
        french_shots = dict(split_shots(french.shotlist)) if french else {}
        data = {
            "version": str(story.version),
            "title": story.title,
            "location": story.location,
            "published": story.published_at.date().isoformat(),
            "summary": story.summary,
            "body": story.body,
            "categories": ", ".join(c.name for c in story.categories),
            "credit": story.credit_line,
            "rights": story.rights_note,
            "shot_at": [at for at, _ in shots],
            "shot_text": [t for _, t in shots],
            "fr_shot_text": [french_shots.get(at, "") for at, _ in shots],
        }
        if french:
            data.update(
                fr_title=french.title,
                fr_location=french.location,
                fr_summary=french.summary,
                fr_body=french.body,
                fr_credit=french.credit_line,
                fr_rights=french.rights_note,
            )
        return cls(formdata=None, data=data)

    @property
    def adds_rows(self) -> bool:
        return self.action.data == "add-rows"

    def version_number(self) -> int:
        raw = (self.version.data or "").strip()
        return int(raw) if raw.isdigit() and len(raw) < 10 else -1

    def typed_rows(self) -> list[tuple[str, str, str]]:
        """The shotlist rows as typed, empty ones left out."""
        columns = zip_longest(
            self.shot_at.data or [], self.shot_text.data or [], self.fr_shot_text.data or [], fillvalue=""
        )
        rows = [(at.strip(), text.strip(), fr.strip()) for at, text, fr in columns]
        return [row for row in rows if any(row)]

    def rows(self, blank: int) -> list[dict]:
        """What the shotlist editor shows: the typed rows with their problems, then ``blank`` empty ones."""
        errors = getattr(self, "row_errors", {})
        typed = [
            {"at": at, "text": text, "fr_text": fr, "error": errors.get(i)}
            for i, (at, text, fr) in enumerate(self.typed_rows())
        ]
        return typed + [{"at": "", "text": "", "fr_text": "", "error": None}] * blank

    def entry(self) -> dict:
        """What was typed, as one story of a manifest (the shape story_fields checks)."""
        rows = self.typed_rows()
        entry = {
            name: self[name].data or ""
            for name in ("title", "location", "published", "summary", "body", "credit", "rights")
        }
        entry["categories"] = [name.strip() for name in (self.categories.data or "").split(",") if name.strip()]
        entry["video"] = {"shotlist": [{"at": at, "text": text} for at, text, _ in rows]}
        french = {name: self[f"fr_{name}"].data or "" for name in TRANSLATED}
        french_shots = [{"at": at, "text": fr} for at, _, fr in rows if fr]
        if any(value.strip() for value in french.values()) or french_shots:
            entry["translations"] = {"fr": {**french, "shotlist": french_shots}}
        return entry

    def validate(self, extra_validators=None) -> bool:
        """The form's own checks (CSRF token, action), then the story rules, each problem put on its field."""
        valid = super().validate(extra_validators)
        if self.adds_rows:
            return False
        self.row_errors: dict[int, str] = {}
        french_rows = [i for i, row in enumerate(self.typed_rows()) if row[2]]
        for problem in story_fields.story_problems(self.entry(), slug_required=False):
            valid = False
            name = next((name for name, place in PLACES.items() if place == problem.field), None)
            if name is not None:
                self[name].errors = [*self[name].errors, problem.message]
            elif problem.field.startswith("video.shotlist["):
                self.row_errors.setdefault(_index(problem.field), problem.message)
            elif problem.field.startswith("translations.fr.shotlist["):
                self.row_errors.setdefault(french_rows[_index(problem.field)], problem.message)
        return valid


class StateForm(PortalForm):
    version = HiddenField()
    action = HiddenField(validators=[AnyOf(["publish", "schedule", "unpublish"])])
    publish_at = StringField(_l("Publish at (UTC)"), render_kw={"type": "datetime-local"})

    version_number = StoryForm.version_number

    def moment(self) -> datetime | None:
        """The time asked for (naive UTC), or None: publish now."""
        return story_fields.parse_date((self.publish_at.data or "").strip()) if self.action.data == "schedule" else None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and self.action.data == "schedule" and self.moment() is None:
            self.publish_at.errors = [_l("Use a date and time like 2025-05-14 09:30.")]
            return False
        return valid


def _index(field: str) -> int:
    return int(field.rsplit("[", 1)[1].rstrip("]"))
