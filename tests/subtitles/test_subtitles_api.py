"""The subtitle API against a real server and the real ffmpeg, on both stores: listing, serving as
WebVTT, and uploads beside an uploaded video by its owner only."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
import json
from pathlib import Path

import pytest
from tornado.httpclient import HTTPResponse

from videosync.app import Services
from videosync.subtitle_format import srt_to_vtt

from ..media_support import clip_media_dir, clips, media_app, media_services_fixture, serving_media, tools  # noqa: F401 (fixtures)
from ..support.http import call
from .support import MALFORMED, SRT, VTT, with_mov_text

pytestmark = pytest.mark.ffmpeg

ADMIN_TOKEN = "operator-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SUBTITLE_CAP = 4096


@pytest.fixture
def media_dir(tmp_path: Path, clips: dict[str, Path]) -> Path:
    media = clip_media_dir(tmp_path, clips["h264_aac"], "Movie.mp4")
    (media / "Movie.en.srt").write_text(SRT)
    (media / "Movie.fr.vtt").write_text(VTT)
    with_mov_text(clips["h264_aac"], media / "Subbed.mp4")
    return media


@pytest.fixture
def media(media_dir, tools, tmp_path, store_url, io_loop):  # type: ignore[no-untyped-def]
    yield from serving_media(
        io_loop, media_dir, tools, tmp_path, store_url, admin_token=ADMIN_TOKEN, max_subtitle_bytes=SUBTITLE_CAP,
    )


async def host_headers(services: Services) -> tuple[str, dict[str, str]]:
    created = await services.sessions.create()
    return created.key, {"Authorization": f"Bearer {created.host_token}"}


async def upload_video(http_client, base_url, services, clip: Path) -> tuple[str, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    key, headers = await host_headers(services)
    got = await call(http_client, base_url, f"/api/videos?session={key}&filename=Trip.mp4", method="POST",
                     body=clip.read_bytes(), headers=headers)
    assert got.code == 201, got.body
    return json.loads(got.body)["id"], key, headers


def _error(response: HTTPResponse) -> str:
    assert response.headers["Content-Type"].startswith("application/json")
    return str(json.loads(response.body)["error"])


@pytest.mark.gen_test(timeout=60)
async def test_a_video_lists_its_sidecars_and_streams(http_client, base_url) -> None:
    got = json.loads((await call(http_client, base_url, "/api/videos/Movie")).body)
    assert got["subtitles"] == [
        {"id": "en-srt", "lang": "en", "label": "English", "source": "file",
         "url": "/api/videos/Movie/subtitles/en-srt.vtt"},
        {"id": "fr-vtt", "lang": "fr", "label": "Français", "source": "file",
         "url": "/api/videos/Movie/subtitles/fr-vtt.vtt"},
    ]
    listed = json.loads((await call(http_client, base_url, "/api/videos")).body)["videos"]
    by_id = {v["id"]: v["subtitles"] for v in listed}
    assert by_id["Movie"] == got["subtitles"]
    assert [(t["id"], t["lang"], t["source"]) for t in by_id["Subbed"]] == [("s2", "fr", "stream")]
    alone = json.loads((await call(http_client, base_url, "/api/videos/Subbed/subtitles")).body)
    assert alone == {"subtitles": by_id["Subbed"]}


@pytest.mark.gen_test(timeout=60)
async def test_every_track_is_served_as_webvtt(http_client, base_url) -> None:
    srt = await call(http_client, base_url, "/api/videos/Movie/subtitles/en-srt.vtt")
    vtt = await call(http_client, base_url, "/api/videos/Movie/subtitles/fr-vtt.vtt")
    stream = await call(http_client, base_url, "/api/videos/Subbed/subtitles/s2.vtt")
    for got in (srt, vtt, stream):
        assert got.code == 200
        assert got.headers["Content-Type"] == "text/vtt; charset=utf-8"
        assert got.body.startswith(b"WEBVTT")
    assert srt.body.decode() == srt_to_vtt(SRT)
    assert vtt.body.decode() == VTT
    assert "Inside the file" in stream.body.decode()
    head = await call(http_client, base_url, "/api/videos/Movie/subtitles/en-srt.vtt", method="HEAD")
    assert head.code == 200 and head.body == b"" and int(head.headers["Content-Length"]) == len(srt.body)
    part = await call(http_client, base_url, "/api/videos/Movie/subtitles/fr-vtt.vtt", headers={"Range": "bytes=0-5"})
    assert part.code == 206 and part.body == b"WEBVTT"


@pytest.mark.gen_test
@pytest.mark.parametrize("path", [
    "/api/videos/Movie/subtitles/de-srt.vtt",  # no such track
    "/api/videos/Movie/subtitles/..%2FMovie.vtt",
    "/api/videos/Nope/subtitles/en-srt.vtt",
])
async def test_unknown_tracks_are_json_404s(http_client, base_url, path) -> None:
    got = await call(http_client, base_url, path)
    assert got.code == 404 and _error(got)


@pytest.mark.gen_test
async def test_a_malformed_sidecar_is_a_json_422_not_a_crash(http_client, base_url, media_dir) -> None:
    (media_dir / "Movie.de.srt").write_bytes(MALFORMED["garbage"])
    got = await call(http_client, base_url, "/api/videos/Movie/subtitles/de-srt.vtt")
    assert got.code == 422 and "not a valid SRT file" in _error(got)
    fine = await call(http_client, base_url, "/api/videos/Movie/subtitles/en-srt.vtt")
    assert fine.code == 200


@pytest.mark.gen_test(timeout=60)
async def test_the_host_who_uploaded_a_video_adds_subtitles_to_it(http_client, base_url, services, clips) -> None:
    vid, key, headers = await upload_video(http_client, base_url, services, clips["h264_aac"])
    got = await call(http_client, base_url, f"/api/videos/{vid}/subtitles?session={key}&lang=pt-br&filename=x.srt",
                     method="POST", body=SRT.encode(), headers=headers)
    assert got.code == 201, got.body
    track = json.loads(got.body)
    assert track == {"id": "pt-br-vtt", "lang": "pt-BR", "label": "Português (Brasil)", "source": "file",
                     "url": f"/api/videos/{vid}/subtitles/pt-br-vtt.vtt"}
    assert got.headers["Location"] == track["url"]
    listed = json.loads((await call(http_client, base_url, f"/api/videos/{vid}", headers=headers)).body)
    assert listed["subtitles"] == [track]
    served = await call(http_client, base_url, track["url"])
    assert served.body.decode() == srt_to_vtt(SRT)
    again = await call(http_client, base_url, f"/api/videos/{vid}/subtitles?session={key}&lang=pt-BR",
                       method="POST", body=VTT.encode(), headers=headers)  # replaces it
    assert again.code == 201
    assert (await call(http_client, base_url, track["url"])).body.decode() == VTT
    admin = await call(http_client, base_url, f"/api/videos/{vid}/subtitles?lang=en", method="POST",
                       body=VTT.encode(), headers=ADMIN)
    assert admin.code == 201
    deleted = await call(http_client, base_url, f"/api/videos/{vid}?session={key}", method="DELETE", headers=headers)
    assert deleted.code == 204
    assert (await call(http_client, base_url, track["url"])).code == 404
    leftovers = [p.name for p in services.library.upload_dir.iterdir()]
    assert leftovers == []


@pytest.mark.gen_test(timeout=60)
async def test_only_the_videos_owner_may_add_subtitles(http_client, base_url, services, clips) -> None:
    vid, key, _ = await upload_video(http_client, base_url, services, clips["h264_aac"])
    other_key, other = await host_headers(services)
    body = SRT.encode()
    anonymous = await call(http_client, base_url, f"/api/videos/{vid}/subtitles?lang=en", method="POST", body=body)
    assert anonymous.code == 401 and _error(anonymous)
    stranger = await call(http_client, base_url, f"/api/videos/{vid}/subtitles?session={other_key}&lang=en",
                          method="POST", body=body, headers=other)
    assert stranger.code == 403 and _error(stranger)
    operator_file = await call(http_client, base_url, "/api/videos/Movie/subtitles?lang=de", method="POST",
                               body=body, headers=ADMIN)
    assert operator_file.code == 403 and "read-only" in _error(operator_file)
    listed = json.loads((await call(http_client, base_url, f"/api/videos/{vid}")).body)
    assert listed["subtitles"] == []
    assert not (services.library.root / "Movie.de.vtt").exists()


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_a_malformed_upload_is_a_clear_400_and_stores_nothing(http_client, base_url, services, clips, name) -> None:
    vid, key, headers = await upload_video(http_client, base_url, services, clips["h264_aac"])
    filename = "x.vtt" if "vtt" in name else "x.srt"
    got = await call(http_client, base_url, f"/api/videos/{vid}/subtitles?session={key}&lang=en&filename={filename}",
                     method="POST", body=MALFORMED[name], headers=headers)
    assert got.code == 400 and _error(got)
    listed = json.loads((await call(http_client, base_url, f"/api/videos/{vid}")).body)
    assert listed["subtitles"] == []


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize(("query", "body", "status"), [
    ("lang=english!", SRT.encode(), 400),
    ("lang=en", b"", 400),
    ("lang=en", SRT.encode() * (SUBTITLE_CAP // len(SRT) + 1), 413),
])
async def test_bad_uploads_are_refused_with_json(http_client, base_url, services, clips, query, body, status) -> None:
    vid, key, headers = await upload_video(http_client, base_url, services, clips["h264_aac"])
    got = await call(http_client, base_url, f"/api/videos/{vid}/subtitles?session={key}&{query}", method="POST",
                     body=body, headers=headers, allow_nonstandard_methods=True)
    assert got.code == status and _error(got)
