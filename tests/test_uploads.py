"""Uploading a master with tus 1.0.0 (issue #15): the protocol against tuspy, an independent
client, over real HTTP; resuming after the app server restarted; the protocol's refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import requests
from tusclient.client import TusClient

from app.extensions import db
from app.flows import tus
from app.models import AuditEvent, TranscodeJob, Upload, utcnow

from .helpers.uploads_helpers import TUS, UPLOAD_CONFIG, LiveServer, make_video, metadata, staff_headers


@pytest.fixture
def app_config():
    """The upload tests' settings (storage, ladder, limits) instead of the defaults."""
    return dict(UPLOAD_CONFIG)


def uploads_folder(app) -> Path:
    return Path(app.config["MEDIA_ROOT"]) / tus.UPLOADS_FOLDER


def rows(app, model):
    with app.app_context():
        found = db.session.query(model).order_by(model.id).all()
        db.session.expunge_all()
        db.session.remove()
        return found


def create(client, token, length, story, **extra):
    return client.post(
        "/staff/uploads/",
        headers={
            **TUS,
            "X-CSRFToken": token,
            "Upload-Length": str(length),
            "Upload-Metadata": metadata(story=story, filename="master.mp4", **extra),
        },
    )


def patch(client, token, location, offset, body):
    return client.patch(
        location,
        data=body,
        headers={
            **TUS,
            "X-CSRFToken": token,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )


def test_options_says_which_protocol_and_extensions(staff):
    client, _ = staff
    response = client.options("/staff/uploads/")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0" and response.headers["Tus-Resumable"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {"creation", "termination", "expiration"}
    assert int(response.headers["Tus-Max-Size"]) == 20 * 1024**3


def test_tuspy_uploads_in_parts_and_resumes_after_the_app_server_restarts(app, staff, story, tmp_path, database_url):
    video = make_video(tmp_path / "master.mp4")
    size = video.stat().st_size
    client, token = staff
    server = LiveServer(app)
    try:
        tus_client = TusClient(server.url + "/staff/uploads/", headers=staff_headers(client, token))
        uploader = tus_client.uploader(
            str(video),
            chunk_size=size // 3 + 1,
            metadata={"story": str(story), "filename": "master.mp4", "poster": "25"},
        )
        uploader.upload_chunk()
        uploader.upload_chunk()
        url = uploader.url
        # HEAD says how much has arrived
        head = requests.head(url, headers={**TUS, **staff_headers(client, token)})
        assert head.status_code == 200 and int(head.headers["Upload-Offset"]) == 2 * (size // 3 + 1)
        assert int(head.headers["Upload-Length"]) == size and "no-store" in head.headers["Cache-Control"]
        assert "GMT" in head.headers["Upload-Expires"]

        server = server.restarted(database_url, Path(app.instance_path), **UPLOAD_CONFIG)
        # a new client (a new program run) continues from the upload's URL alone
        resumed = TusClient(server.url + "/staff/uploads/", headers=staff_headers(client, token)).uploader(
            str(video), url=url, chunk_size=size // 3 + 1
        )
        assert resumed.offset == 2 * (size // 3 + 1)
        resumed.upload()
        assert resumed.offset == size
    finally:
        server.stop()

    [upload] = rows(app, Upload)
    assert upload.completed_at is not None and upload.poster_percent == 25 and upload.filename == "master.mp4"
    master = Path(app.config["MEDIA_ROOT"]) / upload.master_filename
    assert master.read_bytes() == video.read_bytes()  # every byte, once, in order
    assert list(uploads_folder(app).glob("*.part")) == []
    assert abs(upload.duration_seconds - 2) < 0.1 and (upload.width, upload.height) == (192, 108)
    # the ladder, minus the rung taller than the master, plus the poster
    assert [(job.kind, job.height, job.state) for job in rows(app, TranscodeJob)] == [
        ("hd", 108, "waiting"),
        ("sd", 72, "waiting"),
        ("preview", 54, "waiting"),
        ("poster", 0, "waiting"),
    ]
    assert [event.action for event in rows(app, AuditEvent) if not event.action.startswith(("user.", "account."))] == [
        "upload",
        "transcode",
    ]


def test_a_wrong_offset_is_refused_with_409(staff, story):
    client, token = staff
    location = create(client, token, 100, story).headers["Location"]
    assert patch(client, token, location, 0, b"x" * 40).status_code == 204
    conflict = patch(client, token, location, 10, b"y" * 10)
    assert conflict.status_code == 409 and conflict.headers["Tus-Resumable"] == "1.0.0"
    head = client.head(location, headers=TUS)
    assert head.headers["Upload-Offset"] == "40"


def test_a_declared_length_over_the_limit_is_refused_with_413(app, staff, story):
    client, token = staff
    response = create(client, token, app.config["UPLOAD_MAX_BYTES"] + 1, story)
    assert response.status_code == 413
    assert response.get_data(as_text=True) == "This file is larger than the 21.5\u00a0GB a master may have."
    french = client.post(  # from a French staff page, the upload URL is French too (the URL says the language)
        "/fr/staff/uploads/",
        headers={
            **TUS,
            "X-CSRFToken": token,
            "Upload-Length": str(app.config["UPLOAD_MAX_BYTES"] + 1),
            "Upload-Metadata": metadata(story=story),
        },
    )
    assert french.get_data(as_text=True) == "Ce fichier dépasse les 21,5\u00a0Go autorisés pour un master."
    assert rows(app, Upload) == [] and not any(uploads_folder(app).glob("*")) if uploads_folder(app).exists() else True


def test_no_room_on_disk_is_refused_with_507(app, staff, story):
    client, token = staff
    app.config["UPLOAD_DISK_RESERVE_BYTES"] = 10**18  # more than any disk has free
    assert create(client, token, 1000, story).status_code == 507
    assert rows(app, Upload) == []


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Upload-Length": "10"}, 412),  # no Tus-Resumable
        ({**TUS, "Upload-Length": "ten"}, 400),
        ({**TUS, "Upload-Length": "0"}, 400),
        ({**TUS, "Upload-Length": "10", "Upload-Metadata": "story !!!"}, 400),
        ({**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(story=2**31 + 5)}, 400),
    ],
)
def test_creation_refusals(staff, story, headers, status):
    client, token = staff
    response = client.post("/staff/uploads/", headers={**headers, "X-CSRFToken": token})
    assert response.status_code == status
    if status == 412:
        assert response.headers["Tus-Version"] == "1.0.0"


def test_a_patch_must_carry_a_tus_body(staff, story):
    client, token = staff
    location = create(client, token, 100, story).headers["Location"]
    response = client.patch(
        location, data=b"x", headers={**TUS, "X-CSRFToken": token, "Upload-Offset": "0", "Content-Type": "text/plain"}
    )
    assert response.status_code == 415


def test_termination_removes_the_upload_and_its_bytes(app, staff, story):
    client, token = staff
    location = create(client, token, 100, story).headers["Location"]
    patch(client, token, location, 0, b"x" * 50)
    assert len(list(uploads_folder(app).glob("*.part"))) == 1
    response = client.delete(location, headers={**TUS, "X-CSRFToken": token})
    assert response.status_code == 204
    assert client.head(location, headers=TUS).status_code == 404
    assert patch(client, token, location, 50, b"x").status_code == 404
    assert rows(app, Upload) == [] and list(uploads_folder(app).glob("*")) == []
    assert [event.action for event in rows(app, AuditEvent) if not event.action.startswith(("user.", "account."))] == [
        "upload.terminate"
    ]


def test_expired_uploads_are_gone_and_swept(app, staff, story):
    client, token = staff
    old = create(client, token, 100, story).headers["Location"]
    fresh = create(client, token, 100, story).headers["Location"]
    patch(client, token, old, 0, b"x" * 10)
    with app.app_context():
        first = db.session.query(Upload).order_by(Upload.id).first()
        first.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert client.head(old, headers=TUS).status_code == 404
    assert client.head(fresh, headers=TUS).status_code == 200
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])  # what the worker does every minute
    assert result.output.strip() == "jobs: 1 expired upload(s) removed, 0 job(s) queued"
    assert [u.key for u in rows(app, Upload)] == [fresh.rsplit("/", 1)[1]]
    assert [p.name for p in uploads_folder(app).glob("*.part")] == [fresh.rsplit("/", 1)[1] + ".part"]


def test_a_patch_renews_the_expiry(app, staff, story):
    client, token = staff
    location = create(client, token, 100, story).headers["Location"]
    with app.app_context():
        db.session.query(Upload).one().expires_at = utcnow() + timedelta(minutes=1)
        db.session.commit()
    response = patch(client, token, location, 0, b"x" * 10)
    [upload] = rows(app, Upload)
    assert upload.expires_at > utcnow() + timedelta(hours=23)
    assert "GMT" in response.headers["Upload-Expires"]


@pytest.mark.parametrize("content", [b"not a video at all " * 100, "jpeg"])
def test_a_file_that_is_not_a_video_is_refused_and_nothing_is_left(app, staff, story, tmp_path, content):
    if content == "jpeg":  # a still picture: one "video" stream to ffmpeg, but no video
        import subprocess

        from .helpers.uploads_helpers import ffmpeg_binary

        picture = tmp_path / "still.jpg"
        subprocess.run(
            [
                ffmpeg_binary({}),
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x64",
                "-frames:v",
                "1",
                str(picture),
            ],
            check=True,
        )
        content = picture.read_bytes()
    client, token = staff
    location = create(client, token, len(content), story).headers["Location"]
    response = patch(client, token, location, 0, content)
    assert response.status_code == 415
    assert "not a video" in response.get_data(as_text=True)
    assert rows(app, Upload) == [] and rows(app, TranscodeJob) == []
    assert list(uploads_folder(app).glob("*")) == []
    assert client.head(location, headers=TUS).status_code == 404


def test_memory_stays_flat_for_a_large_upload(app, staff, story):
    """64 MiB through one PATCH: read and written a chunk at a time, never held whole."""
    import tracemalloc

    client, token = staff
    size = 64 * 1024 * 1024
    location = create(client, token, size + 1, story).headers["Location"]

    class Body:  # a stream, as a socket is, so the test client holds no copy of its own
        sent = 0

        def read(self, n=-1):
            n = min(n if n > 0 else size, size - self.sent, 1 << 20)
            self.sent += n
            return b"\0" * n

        def tell(self):
            return self.sent

        def seek(self, offset, whence=0):
            self.sent = size + offset if whence == 2 else offset

    tracemalloc.start()
    response = client.patch(
        location,
        input_stream=Body(),
        headers={
            **TUS,
            "X-CSRFToken": token,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(size),
        },
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert response.status_code == 204 and response.headers["Upload-Offset"] == str(size)
    assert peak < 16 * 1024 * 1024, peak


def test_bytes_before_a_dropped_connection_are_kept(app, staff, story):
    """The connection drops in the middle of a PATCH: what arrived counts, the client goes on from it."""
    import socket
    import time

    client, token = staff
    location = create(client, token, 1000, story).headers["Location"]
    server = LiveServer(app)
    try:
        headers = staff_headers(client, token)
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            request = (
                f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 1000\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                + "\r\n"
            )
            connection.sendall(request.encode() + b"z" * 600)
            time.sleep(0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            head = requests.head(server.url + location, headers={**TUS, **headers})
            if head.headers.get("Upload-Offset") == "600":
                break
            time.sleep(0.1)
        assert head.headers["Upload-Offset"] == "600"
        rest = requests.patch(
            server.url + location,
            data=b"z" * 400,
            headers={**TUS, **headers, "Upload-Offset": "600", "Content-Type": "application/offset+octet-stream"},
        )
        assert rest.status_code == 415  # all 1000 bytes arrived; they are no video
    finally:
        server.stop()


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "HEAD", "PATCH", "DELETE"])
def test_the_tus_endpoints_are_invisible_to_members(app, story, method):
    from .helpers.portal import csrf_token, register_and_verify

    member = app.test_client()
    register_and_verify(member, app, "member@example.org")
    url = "/staff/uploads/" if method in ("OPTIONS", "POST") else "/staff/uploads/" + "a" * 32
    response = member.open(
        url,
        method=method,
        headers={
            **TUS,
            "X-CSRFToken": csrf_token(member),
            "Upload-Length": "10",
            "Upload-Offset": "0",
            "Upload-Metadata": metadata(story=story),
            "Content-Type": "application/offset+octet-stream",
        },
        data=b"x",
    )
    assert response.status_code == 404
    assert rows(app, Upload) == []


def test_staff_tus_requests_without_the_csrf_header_are_refused(app, staff, story):
    client, token = staff
    assert (
        client.post(
            "/staff/uploads/", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(story=story)}
        ).status_code
        == 400
    )
    assert rows(app, Upload) == []
    location = create(client, token, 100, story).headers["Location"]
    body = {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert client.patch(location, data=b"x" * 10, headers=body).status_code == 400
    assert client.patch(location, data=b"x" * 10, headers={**body, "X-CSRFToken": "made-up"}).status_code == 400
    assert client.delete(location, headers=TUS).status_code == 400
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"


def test_junk_tus_requests_never_fail(app, staff, story):
    """Whatever a client sends to the tus endpoints, the answer is never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client, token = staff
    key = create(client, token, 1000, story).headers["Location"].rsplit("/", 1)[1]
    numbers = st.sampled_from(["0", "1", "999", "1000", "1001", "-1", "1e3", "", " 5", "9" * 30, "٣"])
    texts = st.text(max_size=40) | numbers
    headers = st.fixed_dictionaries(
        {},
        optional={
            "Tus-Resumable": st.sampled_from(["1.0.0", "0.2.2", ""]),
            "Upload-Length": numbers | texts,
            "Upload-Offset": numbers | texts,
            "Upload-Metadata": texts | st.just(metadata(story=story, poster="x")),
            "Content-Type": st.sampled_from(
                [
                    "application/offset+octet-stream",
                    "text/plain",
                    "multipart/form-data; boundary=x",
                    "application/x-www-form-urlencoded",
                ]
            ),
        },
    )

    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        method=st.sampled_from(["OPTIONS", "POST", "HEAD", "PATCH", "DELETE", "GET"]),
        path=st.sampled_from(
            ["/staff/uploads/", f"/staff/uploads/{key}", "/staff/uploads/x", "/staff/uploads/" + "f" * 41]
        ),
        headers=headers,
        body=st.binary(max_size=300),
    )
    def attempt(method, path, headers, body):
        safe = {name: value.encode("utf-8", "replace").decode("latin-1") for name, value in headers.items()}
        response = client.open(path, method=method, data=body, headers={**safe, "X-CSRFToken": token})
        assert response.status_code < 500, (method, path, headers, response.status_code)

    attempt()


@pytest.mark.parametrize(
    "app_config", [{**UPLOAD_CONFIG, "UPLOAD_CREATE_LIMIT": "2 per minute", "UPLOAD_CHUNK_LIMIT": "1000 per minute"}]
)
def test_creating_uploads_is_rate_limited_and_chunks_are_not_held_back(app, staff, story):
    client, token = staff
    location = create(client, token, 100, story).headers["Location"]
    assert create(client, token, 100, story).status_code == 201
    assert create(client, token, 100, story).status_code == 429
    for offset in range(0, 20, 1):  # many small chunks of one upload go through
        assert patch(client, token, location, offset, b"x").status_code == 204


def test_a_complete_upload_answers_head_with_its_full_length(app, staff, story, tmp_path):
    """A client that asks again after the last chunk (its answer was lost) learns it is done."""
    client, token = staff
    video = make_video(tmp_path / "master.mp4", seconds=1)
    body = video.read_bytes()
    location = create(client, token, len(body), story).headers["Location"]
    assert patch(client, token, location, 0, body).status_code == 204
    head = client.head(location, headers=TUS)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(len(body))
    assert patch(client, token, location, len(body), b"x").status_code == 403


def test_a_complete_upload_is_accepted_once(app, staff, story, tmp_path):
    """Two requests that both saw the last byte arrive: one checks and plans the master, the
    other finds nothing left to do."""
    import io

    from app.flows import transcoding

    video = make_video(tmp_path / "master.mp4", seconds=1).read_bytes()
    client, token = staff
    key = create(client, token, len(video), story).headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        upload = tus.find(key, utcnow())
        tus.append(upload, io.BytesIO(video), 0, config=app.config, now=utcnow())
        assert len(transcoding.accept(upload, config=app.config)) == 4
        assert transcoding.accept(upload, config=app.config) == []
        db.session.remove()
    assert len(rows(app, TranscodeJob)) == 4
