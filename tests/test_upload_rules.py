"""The upload access rules and quotas as pure logic (uploads.py), and their flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from videosync.media import MediaLibrary
from videosync.settings import SettingsError, from_sources
from videosync.uploads import Caller, Denied, Quotas, UploadMode, bearer_token, check_upload

HOST = Caller(session="KEY", presented=True)
ADMIN = Caller(admin=True, presented=True)
ANONYMOUS = Caller()
BAD_CREDENTIALS = Caller(presented=True)


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None),
     ("Bearer ", None)],
)
def test_the_token_is_read_from_a_bearer_authorization_header(header, token) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    ("mode", "caller", "status"),
    [
        (UploadMode.HOSTS, HOST, None), (UploadMode.HOSTS, ADMIN, None),
        (UploadMode.HOSTS, ANONYMOUS, 401), (UploadMode.HOSTS, BAD_CREDENTIALS, 401),
        (UploadMode.ANYONE, ANONYMOUS, None), (UploadMode.ANYONE, HOST, None),
        (UploadMode.ANYONE, BAD_CREDENTIALS, 401),  # wrong credentials are never taken as none
        (UploadMode.OFF, ADMIN, None), (UploadMode.OFF, HOST, 403), (UploadMode.OFF, ANONYMOUS, 403),
    ],
)
def test_who_may_upload_in_each_mode(mode, caller, status) -> None:
    if status is None:
        check_upload(mode, caller)
    else:
        with pytest.raises(Denied) as refused:
            check_upload(mode, caller)
        assert refused.value.status == status


def test_an_upload_belongs_to_the_hosts_session_and_the_admins_to_nobody() -> None:
    assert (HOST.owner, ADMIN.owner, ANONYMOUS.owner) == ("KEY", None, None)


def _library(tmp_path: Path) -> MediaLibrary:
    library = MediaLibrary(tmp_path / "media")
    library.scan()
    source = tmp_path / "a.mp4"
    source.write_bytes(b"x" * 100)
    library.place(source, "a.mp4", owner="KEY", uploaded=True)
    library.place(source, "b.mp4", owner="OTHER", uploaded=True)
    return library


def test_room_is_the_tighter_of_the_session_and_the_total_quota_counting_bytes_in_flight(
    tmp_path: Path,
) -> None:
    quotas = Quotas(_library(tmp_path), per_session=150, total=1000)
    assert quotas.room(HOST)[0] == 50 and "this session's upload quota" in quotas.room(HOST)[1]
    quotas.reserve(HOST, 30)
    assert quotas.room(HOST)[0] == 20
    assert quotas.room(Caller(session="THIRD"))[0] == 150
    quotas.release(HOST, 30)
    assert quotas.room(HOST)[0] == 50
    tight = Quotas(quotas.library, per_session=150, total=220)
    tight.reserve(Caller(session="THIRD"), 10)
    assert tight.room(Caller(session="THIRD")) == (10, "over the server's upload space (--media-quota, 220 bytes)")
    assert tight.room(ADMIN)[0] > 10**15, "the admin is never refused"


@pytest.mark.parametrize(
    ("environ", "error"),
    [({"VIDEOSYNC_UPLOADS": "everyone"}, "VIDEOSYNC_UPLOADS: must be off, hosts or anyone"),
     ({"VIDEOSYNC_UPLOAD_QUOTA": "-1"}, "VIDEOSYNC_UPLOAD_QUOTA: must be a positive integer"),
     ({"VIDEOSYNC_PACKAGER_JOBS": "0"}, "VIDEOSYNC_PACKAGER_JOBS: must be a positive integer")],
)
def test_bad_upload_settings_are_refused_with_one_clear_line(environ, error) -> None:
    with pytest.raises(SettingsError, match=error):
        from_sources(None, environ)


def test_upload_defaults_are_safe_for_a_public_address() -> None:
    settings = from_sources(None, {})
    assert (settings.uploads, settings.admin_token, settings.packager_jobs) == ("hosts", None, 1)
    assert from_sources(None, {"VIDEOSYNC_ADMIN_TOKEN": "s3cret"}).admin_token == "s3cret"
