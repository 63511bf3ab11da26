import logging
from datetime import timedelta
from pathlib import Path

from flask import (
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from ..account_session import begin_flow, note_send
from ..errors import error_response
from ..extensions import db
from ..flows import accounts, captions, catalogue, codes, downloads, media_types, pages, publishing
from ..i18n import LANGUAGES, current_language
from ..limits import flow_source
from ..models import Caption, Rendition, Video
from ..rendering import redirect_page, render_step, wants_partial
from ..staff_access import is_staff
from . import bp, cards, cli, http_cache, syndication  # noqa: F401  (cli: the "flask media" commands; http_cache: its hooks)

log = logging.getLogger(__name__)


@bp.route("/")
def index():
    query = catalogue.parse_query(request.args)
    # "Load more" asks for the next cards only; the search box for the whole result list.
    block = "more" if request.headers.get("HX-Target") == "load-more" else "results"
    partial = wants_partial()

    def render():
        fragment = cards.results_block(query, block if partial else "results", partial)
        return render_step(
            cards.TEMPLATE, block=block, query=query, fragment=fragment, categories=cards.category_choices()
        )

    return cards.page_for_visitor(render)


# The file a person who just logged in or verified is offered on the story page, held in the
# session rather than the URL so that it starts once: not again on a reload or on Back.
OFFERED_KEY = "offered_download"


@bp.route("/stories/<slug>")
def story(slug):
    """Rendered once per catalogue version and language for visitors (cards.page_for_visitor)."""

    def render():
        story = catalogue.story_by_slug(slug) or abort(404)
        can_download = current_user.is_authenticated and current_user.is_verified
        asked = story.rendition(request.args.get("download", type=int))
        if asked is not None and can_download:
            session[OFFERED_KEY] = asked.id
            return redirect(url_for("media.story", slug=story.slug), 303)
        offered = story.rendition(session.pop(OFFERED_KEY, None))  # used up by the page that shows it
        return make_response(
            render_template(
                "media/story.html",
                story=story,
                pending=offered if can_download else None,
                can_download=can_download,
                tracks=captions.for_page(story, current_language()),
                sharing=syndication.sharing(story, current_language()),
            )
        )

    return cards.page_for_visitor(render)


PAGE_TITLES = {
    "conditions": _l("Conditions of use"),
    "privacy": _l("Privacy notice"),
    "accessibility": _l("Accessibility statement"),
}


def render_page(name: str):
    """One of the pages an operator may replace (app/flows/pages.py): theirs, or the default."""
    page = pages.operator_page(Path(current_app.instance_path) / "pages", name, current_language(), LANGUAGES)
    if page is None:
        return render_template(f"media/{name}.html", title=PAGE_TITLES[name])
    return render_template(
        "media/operator_page.html", title=PAGE_TITLES[name], page=page, content=Markup(page.html)
    )  # the operator is trusted (app/flows/pages.py)


@bp.route("/conditions")
def conditions():
    return render_page("conditions")


@bp.route("/privacy")
def privacy():
    return render_page("privacy")


@bp.route("/accessibility")
def accessibility():
    return render_page("accessibility")


@bp.route("/media/preview/<id:rendition_id>")
def preview(rendition_id):
    rendition = db.session.get(Rendition, rendition_id)
    if (
        rendition is None
        or not rendition.is_preview
        or not _shown(rendition.video)
        or downloads.stored_with_a_gated_rendition(rendition)
    ):
        abort(404)
    return _send(rendition.filename, media_types.PREVIEW_TYPES)


@bp.route("/media/poster/<id:video_id>")
def poster(video_id):
    video = db.session.get(Video, video_id)
    if video is None or not video.poster_filename or not _shown(video):
        abort(404)
    return _send(video.poster_filename, media_types.IMAGE_TYPES)


@bp.route("/media/captions/<id:caption_id>.vtt")
def captions_file(caption_id):
    """Public like the preview (WCAG 1.2.2): shown in the player, not a download unless asked."""
    caption = db.session.get(Caption, caption_id)
    if caption is None or not (publishing.is_visible(caption.story) or is_staff(current_user)):
        abort(404)
    return send_from_directory(
        current_app.config["MEDIA_ROOT"], caption.filename, mimetype=captions.MIMETYPE, conditional=True, etag=True
    )


@bp.route("/download/<id:rendition_id>")
def download(rendition_id):
    rendition = db.session.get(Rendition, rendition_id)
    if rendition is None or not _shown(rendition.video):
        abort(404)
    back = url_for("media.story", slug=rendition.video.story.slug, download=rendition.id)
    if not current_user.is_authenticated:
        return redirect_page(url_for("account.login", next=back, intent="download"))
    if not current_user.is_verified:
        flow = begin_flow(current_user.email, codes.VERIFY, back)
        note_send(accounts.send_verification_code(current_user, source=flow_source(flow)))
        return redirect_page(url_for("account.verify", unverified=1))
    found = downloads.media_file(current_app.config["MEDIA_ROOT"], rendition.filename, media_types.VIDEO_TYPES)
    if found is None:
        log.error(
            "Rendition %s: file %r is missing from %s (or is not a video)",
            rendition.id,
            rendition.filename,
            current_app.config["MEDIA_ROOT"],
        )
        return error_response(
            404,
            _("File not available"),
            _("This file is missing on the server. Please try again later; the press office has been told."),
        )
    response, sent = _file_response(*found, rendition)
    if request.method == "GET" and response.status_code in (200, 206):  # not a HEAD, a 304 or a 416
        downloads.record(
            current_user,
            rendition,
            bytes_sent=sent,
            range_header=request.headers.get("Range"),
            window=timedelta(hours=current_app.config["DOWNLOAD_COUNT_WINDOW_HOURS"]),
        )
    return response


def _shown(video) -> bool:
    """A video's files are there for whoever sees its story: everyone once it is published, staff
    before (the preview of a draft)."""
    return publishing.is_visible(video.story) or is_staff(current_user)


def _file_response(path, mimetype, rendition):
    """The answer to a download and the bytes it sends."""
    mode = current_app.config["DOWNLOAD_ACCEL"]
    if mode == "sendfile" and not downloads.header_safe(str(path)):
        mode = ""  # no header can carry this path: the app sends the file itself
    if mode in ("nginx", "sendfile"):
        # The front server sends the bytes (and handles Range); we only decide who may have them.
        size = path.stat().st_size
        sent = downloads.range_bytes(request.headers.get("Range"), size)
        if sent is None:  # answered here, so that a download is logged only when it is one
            response = make_response("", 416)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response, 0
        response = make_response("")
        if mode == "nginx":
            response.headers["X-Accel-Redirect"] = downloads.accel_redirect(
                current_app.config["DOWNLOAD_ACCEL_PREFIX"], rendition.filename
            )
        else:
            response.headers["X-Sendfile"] = str(path)
        response.headers["Content-Type"] = mimetype
        # no Content-Length of ours: the front server sends the file with its own
        del response.headers["Content-Length"]
    else:
        response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=0)
        sent = response.content_length or 0
    response.headers["Content-Disposition"] = downloads.content_disposition(
        downloads.download_name(rendition, mimetype)
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response, sent


def _send(stored_name, types):
    """Previews and posters: public, seekable (Range), cacheable; only as the type their content is."""
    found = downloads.media_file(current_app.config["MEDIA_ROOT"], stored_name, types) or abort(404)
    path, mimetype = found
    return send_file(path, mimetype=mimetype, conditional=True, etag=True)
