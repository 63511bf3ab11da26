"""The staff list of stories and the story editor: write, save, publish or schedule, unpublish, preview."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import true

from ..extensions import db
from ..flows import catalogue, publishing
from ..models import Story
from ..rendering import render_step
from . import bp, stats
from .forms import BLANK_ROWS, MORE_ROWS, StateForm, StoryForm

PER_PAGE = 25


@bp.route("/")
def index():
    query = catalogue.parse_query(request.args)
    state = request.args.get("state", "") if request.args.get("state") in publishing.STATES else ""
    only = publishing.in_state(state) if state else true()
    page = catalogue.find_stories(query, PER_PAGE, only=only)
    return render_step(
        "staff/index.html", block="results", page=page, query=query, state=state, state_of=publishing.state_of
    )


@bp.route("/stories/new", methods=["GET", "POST"])
def new():
    form = StoryForm() if request.method == "POST" else StoryForm.for_story(None)
    if form.validate_on_submit():
        story = publishing.create_story(form.entry(), _actor())
        flash(_("The draft is saved."))
        return redirect(url_for(".edit", story_id=story.id), 303)
    return _editor(form, None)


@bp.route("/stories/<id:story_id>", methods=["GET", "POST"])
def edit(story_id):
    story = _story(story_id)
    form = StoryForm() if request.method == "POST" else StoryForm.for_story(story)
    if form.validate_on_submit():
        try:
            publishing.save_story(story, form.entry(), form.version_number(), _actor())
        except publishing.VersionConflict:
            return _editor(form, _story(story_id), status=409, conflict=True)
        flash(_("Saved."))
        return redirect(url_for(".edit", story_id=story_id), 303)
    return _editor(form, story)


@bp.route("/stories/<id:story_id>/state", methods=["POST"])
def change_state(story_id):
    story = _story(story_id)
    form = StateForm()
    if not form.validate_on_submit():
        return _editor(StoryForm.for_story(story), story, state_form=form, status=422)
    try:
        if form.action.data == "unpublish":
            publishing.unpublish(story, form.version_number(), _actor())
        else:
            publishing.publish(story, form.version_number(), _actor(), at=form.moment())
    except publishing.VersionConflict:
        flash(_("Someone else saved this story after you opened it. Check their changes, then try again."))
    else:
        flash(str(STATE_DONE[publishing.state_of(story)]))
    return redirect(url_for(".edit", story_id=story_id), 303)


STATE_DONE = {
    publishing.DRAFT: _l("The story is unpublished: it is a draft again."),
    publishing.SCHEDULED: _l("The story is scheduled."),
    publishing.PUBLISHED: _l("The story is published."),
}


@bp.route("/stories/<id:story_id>/preview")
def preview(story_id):
    """The public page as a visitor would see it, drafts included (staff only, as the whole area)."""
    return render_template(
        "staff/preview.html", story=_story(story_id), pending=None, can_download=False, state_of=publishing.state_of
    )


def _editor(
    form: StoryForm,
    story: Story | None,
    *,
    status: int | None = None,
    conflict: bool = False,
    state_form: StateForm | None = None,
):
    blank = BLANK_ROWS + (MORE_ROWS if form.adds_rows else 0)
    status = status or (422 if form.errors or getattr(form, "row_errors", None) else 200)
    return render_template(
        "staff/edit.html",
        form=form,
        story=story,
        rows=form.rows(blank),
        conflict=conflict,
        schedule_form=state_form or StateForm(formdata=None),
        state=publishing.state_of(story) if story else publishing.DRAFT,
        figures=stats.story_block(story.id) if story else None,
    ), status


def _story(story_id: int) -> Story:
    return db.session.get(Story, story_id) or abort(404)


def _actor() -> publishing.Actor:
    return publishing.Actor(current_user._get_current_object(), request.remote_addr)
