"""The upload access model against a real server and the real ffmpeg, on both stores: who may
upload, list and delete; where uploads go; quotas; uploads ending with their session."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPResponse

from videosync.app import Services

from ..media_support import (  # noqa: F401 (fixtures)
    clip_media_dir,
    clips,
    media_app,
    media_services,
    media_services_fixture,
    serving_media,
    tools,
)
from ..support.http import call

pytestmark = pytest.mark.ffmpeg

ADMIN_TOKEN = "operator-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings for one test: parametrize `overrides` to change them."""
    return {}


@pytest.fixture
def media_dir(tmp_path: Path, clips: dict[str, Path]) -> Path:
    return clip_media_dir(tmp_path, clips["h264_aac"])


@pytest.fixture
def media(media_dir, tools, tmp_path, store_url, overrides, io_loop):  # type: ignore[no-untyped-def]
    yield from serving_media(io_loop, media_dir, tools, tmp_path, store_url, admin_token=ADMIN_TOKEN, **overrides)


class Host:
    """A live session's host, as the web app holds it: the key and the host token."""

    def __init__(self, key: str, token: str) -> None:
        self.key = key
        self.headers = {"Authorization": f"Bearer {token}"}

    def url(self, path: str, **query: str) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"{path}?session={self.key}{extra}"


async def new_host(services: Services) -> Host:
    created = await services.sessions.create()
    return Host(created.key, created.host_token)


async def upload(http_client, base_url, clip: Path, path: str, headers: dict[str, str] | None = None,
                 name: str = "Trip.mp4") -> HTTPResponse:
    sep = "&" if "?" in path else "?"
    return await call(http_client, base_url, f"{path}{sep}filename={name}", method="POST",
                      body=clip.read_bytes(), headers=headers or {})


def listed(response: HTTPResponse) -> list[str]:
    assert response.code == 200, response.body
    return sorted(v["id"] for v in json.loads(response.body)["videos"])


def stored_files(media_dir: Path) -> list[str]:
    """Every file under the media dir but the catalogue and lock files."""
    return sorted(str(p.relative_to(media_dir)) for p in media_dir.rglob("*")
                  if p.is_file() and ".videosync" not in p.parts)


# -- who may upload -------------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_by_default_an_upload_without_a_hosts_token_is_401_and_stores_nothing(
    http_client, base_url, services, media_dir, clips
) -> None:
    before = stored_files(media_dir)
    host = await new_host(services)
    attempts = [
        ("/api/videos", {}),
        ("/api/videos", {"Authorization": "Bearer made-up"}),
        (host.url("/api/videos"), {"Authorization": "Bearer not-the-host-token"}),
        ("/api/videos", host.headers),  # the token names no session by itself
        ("/api/videos?session=0190a0a0-0000-7000-8000-000000000000", host.headers),
    ]
    for path, headers in attempts:
        got = await upload(http_client, base_url, clips["h264_aac"], path, headers)
        assert got.code == 401, (path, headers, got.body)
        assert "host token" in json.loads(got.body)["error"]
        assert got.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored_files(media_dir) == before


@pytest.mark.gen_test(timeout=30)
async def test_a_hosts_upload_belongs_to_the_session_and_is_listed_only_to_it(
    http_client, base_url, services, media_dir, clips
) -> None:
    host, other = await new_host(services), await new_host(services)
    got = await upload(http_client, base_url, clips["h264_aac"], host.url("/api/videos"), host.headers)
    assert got.code == 201, got.body
    video = json.loads(got.body)
    vid = video["id"]
    assert vid.startswith("Trip-") and got.headers["Location"] == f"/api/videos/{vid}"
    assert (video["title"], video["uploaded"], video["session"], video["deletable"]) == ("Trip", True, True, True)
    assert (media_dir / ".uploads" / f"{vid}.mp4").read_bytes() == clips["h264_aac"].read_bytes()
    assert listed(await call(http_client, base_url, "/api/videos")) == ["clip"]
    assert listed(await call(http_client, base_url, other.url("/api/videos"), headers=other.headers)) == ["clip"]
    assert listed(await call(http_client, base_url, host.url("/api/videos"), headers=host.headers)) == sorted(["clip", vid])
    assert listed(await call(http_client, base_url, "/api/videos", headers=ADMIN)) == sorted(["clip", vid])
    bad = await call(http_client, base_url, host.url("/api/videos"), headers={"Authorization": "Bearer nope"})
    assert bad.code == 401
    # usable by the session: its members play it by id, as any video
    assert (await call(http_client, base_url, f"/api/videos/{vid}/file", method="HEAD")).code == 200
    assert json.loads((await call(http_client, base_url, f"/api/videos/{vid}")).body)["deletable"] is False


@pytest.mark.gen_test(timeout=30)
async def test_an_upload_is_never_the_default_video(
    http_client, base_url, services, library_of, media_dir, clips
) -> None:
    clip_bytes = (media_dir / "clip.mp4").read_bytes()
    host = await new_host(services)
    for path, headers in ((host.url("/api/videos"), host.headers), ("/api/videos", ADMIN)):
        got = await upload(http_client, base_url, clips["silent"], path, headers, name="0-first.mp4")
        assert got.code == 201, got.body
    await library_of(services).rescan()
    assert (await call(http_client, base_url, "/api/video")).body == clip_bytes
    (media_dir / "clip.mp4").unlink()
    assert (await call(http_client, base_url, "/api/video")).code == 404  # and not an upload instead


@pytest.fixture
def library_of():  # type: ignore[no-untyped-def]
    return lambda services: services.library


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("overrides", [{"uploads": "off"}])
async def test_with_uploads_off_only_the_admin_uploads_and_into_the_permanent_library(
    http_client, base_url, services, media_dir, clips
) -> None:
    host = await new_host(services)
    got = await upload(http_client, base_url, clips["h264_aac"], host.url("/api/videos"), host.headers)
    assert got.code == 403 and json.loads(got.body) == {"error": "uploads are turned off on this server"}
    got = await upload(http_client, base_url, clips["h264_aac"], "/api/videos", ADMIN)
    assert got.code == 201
    video = json.loads(got.body)
    assert (video["id"], video["session"], video["uploaded"]) == ("Trip", False, True)
    assert (media_dir / "Trip.mp4").is_file()
    assert listed(await call(http_client, base_url, "/api/videos")) == ["Trip", "clip"]


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("overrides", [{"uploads": "anyone"}])
async def test_with_uploads_anyone_an_anonymous_upload_is_permanent_but_deletable_only_by_the_admin(
    http_client, base_url, services, clips
) -> None:
    got = await upload(http_client, base_url, clips["h264_aac"], "/api/videos")
    assert got.code == 201
    vid = json.loads(got.body)["id"]
    host = await new_host(services)
    assert (await call(http_client, base_url, host.url(f"/api/videos/{vid}"), method="DELETE",
                       headers=host.headers)).code == 403
    assert (await call(http_client, base_url, f"/api/videos/{vid}", method="DELETE", headers=ADMIN)).code == 204


# -- deleting -------------------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=60)
async def test_the_owning_host_deletes_an_upload_with_its_packaging_and_nobody_else_can(
    http_client, base_url, media, media_dir, clips
) -> None:
    services, library, packager = media
    await packager.start()
    host, other = await new_host(services), await new_host(services)
    got = await upload(http_client, base_url, clips["h264_aac"], host.url("/api/videos"), host.headers)
    vid = json.loads(got.body)["id"]
    await packager.join()
    assert packager.status(vid)["status"] == "ready" and library.hls_dir(vid).is_dir()
    path = f"/api/videos/{vid}"
    nobody = await call(http_client, base_url, path, method="DELETE")
    assert nobody.code == 401 and "error" in json.loads(nobody.body)
    stranger = await call(http_client, base_url, other.url(path), method="DELETE", headers=other.headers)
    assert stranger.code == 403
    assert library.has(vid)
    owner = await call(http_client, base_url, host.url(path), method="DELETE", headers=host.headers)
    assert owner.code == 204 and owner.body == b""
    assert not (media_dir / ".uploads" / f"{vid}.mp4").exists() and not library.hls_dir(vid).exists()
    assert (await call(http_client, base_url, path)).code == 404
    assert (await call(http_client, base_url, host.url(path), method="DELETE", headers=host.headers)).code == 404


@pytest.mark.gen_test(timeout=30)
async def test_the_operators_files_are_read_only_over_http_even_for_the_admin(
    http_client, base_url, services, media_dir
) -> None:
    host = await new_host(services)
    for headers, path in ((ADMIN, "/api/videos/clip"), (host.headers, host.url("/api/videos/clip"))):
        got = await call(http_client, base_url, path, method="DELETE", headers=headers)
        assert got.code == 403
        assert json.loads(got.body) == {"error": "files the operator put in the media dir are read-only"}
    assert (media_dir / "clip.mp4").is_file()


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("ending_how", ["ended", "expired"])
async def test_uploads_of_an_ended_session_are_swept_with_their_packaging(
    http_client, base_url, media, media_dir, clips, ending_how
) -> None:
    services, library, packager = media
    await packager.start()
    ending, staying = await new_host(services), await new_host(services)
    ids = {}
    for host in (ending, staying):
        got = await upload(http_client, base_url, clips["h264_aac"], host.url("/api/videos"), host.headers)
        ids[host.key] = json.loads(got.body)["id"]
    await packager.join()
    assert await packager.sweep() == []  # both sessions live: nothing to do
    if ending_how == "ended":
        await services.store.delete_session(ending.key)
    else:
        await services.store.touch(ending.key, 1)  # the shortest TTL there is
        for _ in range(100):  # deadline poll: until the store says it has expired
            if not await services.store.session_exists(ending.key):
                break
            await asyncio.sleep(0.05)
    assert await packager.sweep() == [ids[ending.key]]
    assert not library.hls_dir(ids[ending.key]).exists()
    assert [p.stem for p in (media_dir / ".uploads").iterdir()] == [ids[staying.key]]
    assert library.has(ids[staying.key]) and packager.status(ids[staying.key])["status"] == "ready"


# -- quotas ---------------------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("overrides", [{"upload_quota": 400_000, "media_quota": 10_000_000}])
async def test_a_session_over_its_upload_quota_gets_413_before_anything_is_stored(
    http_client, base_url, services, media_dir, clips
) -> None:
    size = clips["h264_aac"].stat().st_size
    assert 400_000 // 2 < size < 400_000, "the clip must fit the quota once, not twice"
    host = await new_host(services)
    assert (await upload(http_client, base_url, clips["h264_aac"], host.url("/api/videos"), host.headers)).code == 201
    before = stored_files(media_dir)
    got = await upload(http_client, base_url, clips["h264_aac"], host.url("/api/videos"), host.headers)
    assert got.code == 413
    assert "this session's upload quota" in json.loads(got.body)["error"]
    assert stored_files(media_dir) == before
    other = await new_host(services)  # the quota is per session
    assert (await upload(http_client, base_url, clips["h264_aac"], other.url("/api/videos"), other.headers)).code == 201


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("overrides", [{"media_quota": 400_000}])
async def test_all_uploads_together_stay_under_the_media_quota_also_when_chunked(
    http_client, base_url, services, media_dir, clips
) -> None:
    first, second = await new_host(services), await new_host(services)
    assert (await upload(http_client, base_url, clips["h264_aac"], first.url("/api/videos"), first.headers)).code == 201
    before = stored_files(media_dir)
    body = clips["h264_aac"].read_bytes()

    async def chunks(write):  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 64 * 1024):
            await write(body[start:start + 64 * 1024])

    got = await call(http_client, base_url, second.url("/api/videos", filename="x.mp4"), method="POST",
                     body_producer=chunks, headers=second.headers)  # no Content-Length: chunked
    assert got.code == 413
    assert "--media-quota" in json.loads(got.body)["error"]
    assert stored_files(media_dir) == before
    assert (await upload(http_client, base_url, clips["h264_aac"], "/api/videos", ADMIN)).code == 201


# -- no server path in an answer ------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_no_answer_names_a_server_path(http_client, base_url, services, media_dir, library_of) -> None:
    (media_dir / "broken.mp4").write_bytes(b"not a video at all" * 100)
    await library_of(services).rescan()
    host = await new_host(services)
    answers = [
        await call(http_client, base_url, "/api/videos/broken"),
        await call(http_client, base_url, "/api/videos"),
        await call(http_client, base_url, host.url("/api/videos", filename="a.mp4"), method="POST",
                   body=b"text, not video" * 100, headers=host.headers),
    ]
    for got in answers:
        assert str(media_dir) not in got.body.decode() and str(media_dir.resolve()) not in got.body.decode()
    broken = json.loads(answers[0].body)
    assert broken["error"] and broken["id"] == "broken"
    assert answers[2].code == 415


# -- packaging status travels ---------------------------------------------------------------------


@pytest.mark.gen_test(timeout=60)
async def test_packaging_status_reaches_a_websocket_member_as_media_status(
    http_client, base_url, http_port, media, clips
) -> None:
    from ..wsclient import Client

    services, _, packager = media
    services.hub.start()
    packager.subscribe(services.hub.publish_media_status)
    host = await new_host(services)
    got = await upload(http_client, base_url, clips["h264_aac"], host.url("/api/videos"), host.headers)
    vid = json.loads(got.body)["id"]
    created = await services.sessions.create(vid)
    member = await Client.connect(http_port, f"?sessionKey={created.key}")
    try:
        await asyncio.sleep(0.1)  # the hub's media channel subscription is in place
        await packager.start()
        statuses = []
        while not statuses or statuses[-1]["status"] not in ("ready", "failed"):
            message = await member.recv_type("mediaStatus", timeout=30)
            assert message["video"] == vid
            statuses.append(message["status"])
        assert statuses[-1]["status"] == "ready"
        assert statuses[-1]["playlist"].startswith(f"/media/hls/{vid}/")
        assert set(statuses[-1]) == {"status", "progress", "edge", "playlist", "message", "mode", "speed"}
    finally:
        await member.close()
        await services.hub.shutdown(timeout=2)


# -- several workers ------------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=60)
async def test_a_worker_that_does_not_package_answers_with_the_packaging_workers_status(
    http_client, base_url, media, media_dir, tools, tmp_path, store_url, clips
) -> None:
    """This server (worker 1) stores the upload; worker 0, on the same media dir and store,
    packages it; GET /api/videos/{id} here follows it to `ready` without reading any status file."""
    from videosync.store import open_store

    services, _, packager = media
    await packager.start(package=False)
    store_0 = services.store if store_url == "memory://" else open_store(store_url)
    worker_0, _, packager_0 = media_services(media_dir, tools, tmp_path / "w0", store_url, store=store_0,
                                             admin_token=ADMIN_TOKEN)
    packager_0.subscribe(worker_0.hub.publish_media_status)
    await packager_0.start(package=True)
    try:
        await asyncio.sleep(0.1)  # both processes' channel subscriptions are in place
        host = await new_host(services)
        got = await upload(http_client, base_url, clips["mpeg4"], host.url("/api/videos"), host.headers)
        vid = json.loads(got.body)["id"]
        seen = []
        for _ in range(600):  # deadline poll: 60 s
            hls = json.loads((await call(http_client, base_url, f"/api/videos/{vid}")).body)["hls"]
            if not seen or seen[-1] != hls["status"]:
                seen.append(hls["status"])
            if hls["status"] in ("ready", "failed"):
                break
            await asyncio.sleep(0.1)
        assert seen[-1] == "ready" and hls["playlist"].startswith(f"/media/hls/{vid}/")
        assert hls["mode"] == "transcode" and hls["edge"] == pytest.approx(10.0, abs=0.3)
        assert not list((media_dir / ".hls").rglob("status.json"))
    finally:
        await packager_0.close()
        if store_0 is not services.store:
            await store_0.close()
