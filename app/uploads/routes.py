"""Views: the tus endpoints, the panel and its job buttons. The rules are in app/flows/tus.py and
app/flows/transcoding.py."""

from __future__ import annotations

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import http_date

from ..extensions import db, limiter
from ..flows import audit, captions, transcoding, tus
from ..jobs import enqueue
from ..models import Story, TranscodeJob, utcnow
from ..rendering import form_status, wants_partial
from . import bp
from .forms import CaptionForm, PosterForm

TUS_BODY = "application/offset+octet-stream"


def _per_ip():
    return current_app.config["RATELIMIT_PER_IP"]


@bp.url_value_preprocessor
def _allow_large_chunks(endpoint, values):
    # Runs before the CSRF check reads the request: a tus chunk may be far larger than the
    # MAX_CONTENT_LENGTH of forms. Only for a tus body, which is never parsed as a form.
    if request.method == "PATCH" and request.mimetype == TUS_BODY:
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"]
    elif endpoint == "uploads.add_captions":  # room for the form around a file of the largest size
        request.max_content_length = current_app.config["CAPTION_MAX_BYTES"] + 64 * 1024


@bp.before_request
def _speaks_tus():
    if (
        request.endpoint in TUS_ENDPOINTS
        and request.method != "OPTIONS"
        and request.headers.get("Tus-Resumable") != tus.VERSION
    ):
        return _tus_response(412, "Tus-Resumable: 1.0.0 is required", **{"Tus-Version": tus.VERSION})


@bp.errorhandler(tus.TusError)
def _tus_error(exc: tus.TusError):
    return _tus_response(exc.status, exc.message)


def _tus_response(status: int, text: str = "", **headers):
    response = make_response(text, status)
    response.mimetype = "text/plain"
    response.headers["Tus-Resumable"] = tus.VERSION
    response.headers.update({name.replace("_", "-"): str(value) for name, value in headers.items()})
    return response


@bp.route("/", methods=["OPTIONS", "POST"])
@limiter.limit(lambda: current_app.config["UPLOAD_CREATE_LIMIT"], methods=["POST"])
def create():
    if request.method == "OPTIONS":
        return _tus_response(
            204,
            **{
                "Tus-Version": tus.VERSION,
                "Tus-Extension": tus.EXTENSIONS,
                "Tus-Max-Size": current_app.config["UPLOAD_MAX_BYTES"],
            },
        )
    length = tus.parse_length(request.headers.get("Upload-Length"))
    metadata = tus.parse_metadata(request.headers.get("Upload-Metadata"))
    story_id = metadata.get("story", "")
    story = db.session.get(Story, int(story_id)) if story_id.isdigit() and len(story_id) < 10 else None
    if story is None:
        raise tus.TusError(400, "Upload-Metadata must name an existing story (story <base64 id>)")
    upload = tus.create(story, current_user, length, metadata, config=current_app.config, now=utcnow())
    db.session.commit()
    return _tus_response(201, Location=url_for(".upload", key=upload.key), Upload_Expires=http_date(upload.expires_at))


@bp.route("/<key>", methods=["HEAD"])
def upload(key):
    found = _find(key)
    return _tus_response(
        200,
        Upload_Offset=tus.offset(current_app.config["MEDIA_ROOT"], found),
        Upload_Length=found.length,
        Upload_Expires=http_date(found.expires_at),
    )


@bp.route("/<key>", methods=["PATCH"])
@limiter.limit(lambda: current_app.config["UPLOAD_CHUNK_LIMIT"])
def append(key):
    found = _find(key)
    if request.mimetype != TUS_BODY:
        raise tus.TusError(415, f"Content-Type must be {TUS_BODY}")
    at = tus.parse_offset(request.headers.get("Upload-Offset"))
    try:
        received = tus.append(found, request.stream, at, config=current_app.config, now=utcnow())
    except ClientDisconnected:  # what arrived is kept; the client asks with HEAD and goes on
        db.session.commit()
        return _tus_response(400, "The connection dropped")
    db.session.commit()
    if received == found.length and found.completed_at is None:
        jobs = transcoding.accept(found, config=current_app.config, actor=current_user, ip=request.remote_addr)
        enqueue([job.id for job in jobs])
    return _tus_response(204, Upload_Offset=received, Upload_Expires=http_date(found.expires_at))


@bp.route("/<key>", methods=["DELETE"])
@limiter.limit(_per_ip)
def terminate(key):
    found = _find(key)
    if found.completed_at is not None:
        raise tus.TusError(403, "A complete upload is the story's master; it cannot be deleted here")
    audit.record(
        "upload.terminate",
        actor=current_user,
        story=found.story,
        ip=request.remote_addr,
        detail=f"{found.filename} ({tus.offset(current_app.config['MEDIA_ROOT'], found)} of {found.length} bytes)",
    )
    tus.remove(current_app.config["MEDIA_ROOT"], found)
    db.session.commit()
    return _tus_response(204)


TUS_ENDPOINTS = {"uploads.create", "uploads.upload", "uploads.append", "uploads.terminate"}


def _find(key: str):
    found = tus.find(key, utcnow())
    if found is None:
        raise tus.TusError(
            404,
            _(
                "This upload is no longer on the server (unfinished uploads are kept for "
                "%(hours)s hours). Please start it again.",
                hours=current_app.config["UPLOAD_EXPIRY_HOURS"],
            ),
        )
    return found


# --- the panel ------------------------------------------------------------------------------


@bp.app_template_global("transcode_state")
def transcode_state(story):
    """For templates/uploads/state.html: the story's newest master and its jobs."""
    return transcoding.current_upload(story.id)


@bp.app_template_global("upload_phase")
def upload_phase(upload):
    return transcoding.phase(upload)


@bp.route("/story/<id:story_id>")
def story(story_id):
    found = db.session.get(Story, story_id) or abort(404)
    if wants_partial():
        return render_template("uploads/state.html", story=found, swapped=True)
    return render_template("uploads/story.html", story=found)


@bp.route("/jobs/<id:job_id>/cancel", methods=["POST"])
@limiter.limit(_per_ip)
def cancel(job_id):
    job = db.session.get(TranscodeJob, job_id) or abort(404)
    transcoding.cancel(job, actor=current_user, ip=request.remote_addr)
    return _back_to_panel(job.upload.story_id)


@bp.route("/jobs/<id:job_id>/retry", methods=["POST"])
@limiter.limit(_per_ip)
def retry(job_id):
    job = db.session.get(TranscodeJob, job_id) or abort(404)
    if transcoding.retry(job, actor=current_user, ip=request.remote_addr):
        enqueue([job.id])
    return _back_to_panel(job.upload.story_id)


@bp.route("/story/<id:story_id>/poster", methods=["POST"])
@limiter.limit(_per_ip)
def poster(story_id):
    upload = transcoding.current_upload(story_id) or abort(404)
    form = PosterForm()
    if form.validate_on_submit():
        job = transcoding.retake_poster(upload, float(form.percent.data), actor=current_user, ip=request.remote_addr)
        enqueue([job.id] if job else [])
    return _back_to_panel(upload.story_id, form)


@bp.route("/story/<id:story_id>/captions", methods=["POST"])
@limiter.limit(_per_ip)
def add_captions(story_id):
    story = db.session.get(Story, story_id) or abort(404)
    form = CaptionForm()
    try:
        if not form.validate_on_submit():
            raise captions.CaptionError(
                next((error for field in form for error in field.errors), _("Choose a file first."))
            )
        data = form.file.data.stream.read(current_app.config["CAPTION_MAX_BYTES"] + 1)
        captions.save(
            story, form.language.data, data, config=current_app.config, actor=current_user, ip=request.remote_addr
        )
    except captions.CaptionError as exc:
        return render_template(
            "uploads/story.html", story=story, caption_error=str(exc), caption_language=form.language.data
        ), 422
    return redirect(url_for(".story", story_id=story.id), 303)


@bp.route("/story/<id:story_id>/captions/<language>/remove", methods=["POST"])
@limiter.limit(_per_ip)
def remove_captions(story_id, language):
    story = db.session.get(Story, story_id) or abort(404)
    captions.remove(story, language, config=current_app.config, actor=current_user, ip=request.remote_addr)
    return redirect(url_for(".story", story_id=story.id), 303)


def _back_to_panel(story_id, poster_form=None):
    """The panel's state for HTMX; a page otherwise: the panel again, or with the form's error."""
    status = form_status(poster_form)
    if wants_partial():
        story = db.session.get(Story, story_id)
        return render_template("uploads/state.html", story=story, poster_form=poster_form, swapped=True), status
    if status == 422:
        return render_template(
            "uploads/story.html", story=db.session.get(Story, story_id), poster_form=poster_form
        ), 422
    return redirect(url_for(".story", story_id=story_id), 303)
