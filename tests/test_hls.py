"""The HLS packager: decisions, playlists and segments checked with ffprobe, failures, restarts."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest

from videosync.ffmpeg import ProbeError, ProbeInfo, Tools
from videosync.hls import (
    FAILED,
    PACKAGING,
    QUEUED,
    READY,
    JobStatus,
    claim,
    parse_playlist,
    read_ready,
    source_rev,
)
from videosync.hls_ffmpeg import decide_mode, ladder_rungs, package_video
from videosync.media import MediaLibrary
from videosync.packager import Packager

from .media_support import clips, fake_ffmpeg, ffprobe_streams, tools  # noqa: F401 (fixtures)


@pytest.mark.parametrize(
    ("video", "audio", "pix_fmt", "ladder", "mode"),
    [
        ("h264", "aac", "yuv420p", False, "copy"),
        ("h264", None, "yuv420p", False, "copy"),
        ("h264", "mp3", "yuv420p", False, "copy-video"),
        ("h264", "opus", None, False, "copy-video"),
        ("h264", "aac", "yuv444p", False, "transcode"),  # browsers cannot decode 4:4:4 H.264
        ("hevc", "aac", "yuv420p", False, "transcode"),
        ("mpeg4", "mp2", "yuv420p", False, "transcode"),
        ("h264", "aac", "yuv420p", True, "ladder"),
    ],
)
def test_mode_is_decided_by_codecs(video, audio, pix_fmt, ladder, mode) -> None:
    info = ProbeInfo(10.0, video, audio, 320, 180, pix_fmt=pix_fmt)
    assert decide_mode(info, ladder) == mode


def test_audio_only_input_is_refused() -> None:
    with pytest.raises(ProbeError):
        decide_mode(ProbeInfo(10.0, None, "aac"), ladder=False)


@pytest.mark.parametrize(
    ("height", "heights"),
    [(180, [90, 180]), (360, [180, 360]), (480, [360, 480]), (719, [360, 718]), (720, [360, 720]),
     (1080, [360, 720, 1080]),
     (2160, [360, 720, 1080])],
)
def test_ladder_never_upscales_and_has_two_rungs(height, heights) -> None:
    assert [h for h, _ in ladder_rungs(height)] == heights


def test_playlist_parsing_counts_segments_and_end() -> None:
    text = "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2.0,\na.ts\n#EXTINF:1.5,\nb.ts\n"
    info = parse_playlist(text)
    assert (info.segments, info.seconds, info.ended) == (2, 3.5, False)
    assert parse_playlist(text + "#EXT-X-ENDLIST\n").ended


def _playlist(out: Path, name: str = "index.m3u8") -> str:
    return (out / name).read_text()


def _rev_dir(hls_dir: Path) -> Path:
    revs = [p for p in hls_dir.iterdir() if p.is_dir()]
    assert len(revs) == 1, "one revision folder: the one packaged"
    return revs[0]


async def _package(source: Path, hls_dir: Path, tools: Tools, **kw) -> JobStatus:
    return await package_video(source, hls_dir, tools, **kw)


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_h264_aac_is_stream_copied_into_an_ended_event_playlist(clips, tools, tmp_path) -> None:
    status = await _package(clips["h264_aac"], tmp_path / "hls", tools)
    assert (status.status, status.mode, status.progress) == (READY, "copy", 1.0)
    out = _rev_dir(tmp_path / "hls")
    text = _playlist(out)
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text
    info = parse_playlist(text)
    assert info.ended and info.segments >= 4
    assert info.seconds == pytest.approx(10.0, abs=0.2)
    assert not list(out.glob("*.tmp")), "no temporary segment left behind"
    codecs = {s["codec_type"]: s["codec_name"] for s in ffprobe_streams(out / "seg_00000.ts")}
    assert codecs == {"video": "h264", "audio": "aac"}
    st = clips["h264_aac"].stat()
    assert read_ready(tmp_path / "hls", st.st_size, st.st_mtime).mode == "copy"  # for a restart


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_incompatible_audio_is_reencoded_while_video_is_copied(clips, tools, tmp_path) -> None:
    status = await _package(clips["h264_mp2"], tmp_path / "hls", tools)
    assert (status.status, status.mode) == (READY, "copy-video")
    seg = _rev_dir(tmp_path / "hls") / "seg_00000.ts"
    codecs = {s["codec_type"]: s["codec_name"] for s in ffprobe_streams(seg)}
    assert codecs == {"video": "h264", "audio": "aac"}


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_silent_video_is_copied_without_audio(clips, tools, tmp_path) -> None:
    status = await _package(clips["silent"], tmp_path / "hls", tools)
    assert (status.status, status.mode) == (READY, "copy")
    seg = _rev_dir(tmp_path / "hls") / "seg_00000.ts"
    assert [s["codec_type"] for s in ffprobe_streams(seg)] == ["video"]


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_other_video_is_transcoded_with_two_second_segments(clips, tools, tmp_path) -> None:
    status = await _package(clips["mpeg4"], tmp_path / "hls", tools)
    assert (status.status, status.mode) == (READY, "transcode")
    out = _rev_dir(tmp_path / "hls")
    durations = [float(line[8:].split(",")[0]) for line in _playlist(out).splitlines()
                 if line.startswith("#EXTINF:")]
    assert durations[:-1] == pytest.approx([2.0] * (len(durations) - 1), abs=0.05)
    assert {s["codec_type"]: s["codec_name"] for s in ffprobe_streams(out / "seg_00001.ts")} == {
        "video": "h264", "audio": "aac"}


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_ladder_writes_a_master_playlist_over_renditions(clips, tools, tmp_path) -> None:
    status = await _package(clips["h264_aac"], tmp_path / "hls", tools, ladder=True)
    assert (status.status, status.mode) == (READY, "ladder")
    out = _rev_dir(tmp_path / "hls")
    master = _playlist(out, "master.m3u8")
    assert master.count("#EXT-X-STREAM-INF") == 2
    assert "RESOLUTION=160x90" in master and "RESOLUTION=320x180" in master
    for rendition, height in (("v0", 90), ("v1", 180)):
        assert parse_playlist(_playlist(out / rendition)).ended
        video = [s for s in ffprobe_streams(out / rendition / "seg_00000.ts") if s["codec_type"] == "video"]
        assert video[0]["height"] == height


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_a_transcode_is_playable_before_it_ends(clips, tools, tmp_path) -> None:
    """Watch while packaging: segments and a growing EVENT playlist exist before #EXT-X-ENDLIST."""
    hls_dir = tmp_path / "hls"
    seen: list[tuple[int, bool]] = []
    statuses: list[JobStatus] = []

    async def watch(job: asyncio.Task[JobStatus]) -> None:
        while not job.done():
            status = statuses[-1] if statuses else None
            if status and status.rev and (hls_dir / status.rev / "index.m3u8").exists():
                info = parse_playlist((hls_dir / status.rev / "index.m3u8").read_text())
                seen.append((info.segments, info.ended))
            await asyncio.sleep(0.02)

    async def run() -> JobStatus:
        job = asyncio.create_task(_package(clips["long"], hls_dir, tools, on_status=statuses.append))
        await watch(job)
        return await job

    assert (await run()).status == READY
    growing = [n for n, ended in seen if not ended and n > 0]
    assert growing, "never saw a playable playlist while packaging"
    assert len(set(growing)) > 1, "the playlist did not grow"


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_garbage_input_fails_with_a_message(tools, tmp_path) -> None:
    source = tmp_path / "junk.mp4"
    source.write_bytes(b"this is not a video" * 1000)
    status = await _package(source, tmp_path / "hls", tools)
    assert status.status == FAILED and status.message
    st = source.stat()
    assert read_ready(tmp_path / "hls", st.st_size, st.st_mtime) is None


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_truncated_input_fails_and_is_never_ready(clips, tools, tmp_path) -> None:
    data = clips["moov_last"].read_bytes()
    source = tmp_path / "cut.mp4"
    source.write_bytes(data[: len(data) // 2])  # the index (moov) was at the end: gone
    status = await _package(source, tmp_path / "hls", tools)
    assert status.status == FAILED and status.message


@pytest.mark.gen_test(timeout=60)
async def test_missing_ffmpeg_fails_the_job(tmp_path) -> None:
    source = tmp_path / "a.mp4"
    source.write_bytes(b"x")
    missing = Tools(str(tmp_path / "no-such-ffmpeg"), None)
    status = await _package(source, tmp_path / "hls", missing)
    assert status.status == FAILED and "ffmpeg" in status.message


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_a_full_disk_fails_the_job_with_ffmpegs_reason(clips, tmp_path) -> None:
    ffmpeg = fake_ffmpeg(tmp_path, "echo 'seg_00003.ts: No space left on device' >&2; exit 1")
    status = await _package(clips["h264_aac"], tmp_path / "hls", Tools(ffmpeg, shutil.which("ffprobe")))
    assert status.status == FAILED
    assert "No space left on device" in status.message


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_a_hung_ffmpeg_is_killed_and_the_job_fails(clips, tmp_path) -> None:
    ffmpeg = fake_ffmpeg(tmp_path, "exec sleep 60")
    tools_ = Tools(ffmpeg, shutil.which("ffprobe"))
    status = await _package(clips["h264_aac"], tmp_path / "hls", tools_, stall_timeout=0.5)
    assert status.status == FAILED and "no progress" in status.message


# -- the job runner ---------------------------------------------------------------------------


def _library(tmp_path: Path, source: Path, tools: Tools) -> MediaLibrary:
    media = tmp_path / "media"
    media.mkdir(exist_ok=True)
    shutil.copy(source, media / "clip.mp4")
    os.utime(media / "clip.mp4", (1_700_000_000, 1_700_000_000))  # settled long ago
    return MediaLibrary(media, tools)


async def _run_packager(packager: Packager) -> None:
    await packager.start()
    try:
        await asyncio.wait_for(packager.join(), 60)
    finally:
        await packager.close()


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_runner_packages_new_files_and_reports_each_state(clips, tools, tmp_path) -> None:
    library = _library(tmp_path, clips["h264_aac"], tools)
    packager = Packager(library, tools, rescan_interval=None)
    events: list[tuple[str, dict[str, object]]] = []
    packager.subscribe(lambda vid, status: events.append((vid, status)))
    await _run_packager(packager)
    states = [status["status"] for _, status in events]
    assert states[0] == QUEUED and PACKAGING in states and states[-1] == READY
    assert {vid for vid, _ in events} == {"clip"}
    final = packager.status("clip")
    assert final["edge"] == pytest.approx(10.0, abs=0.2)
    assert str(final["playlist"]).startswith("/media/hls/clip/") and packager.edge("clip") is None


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_restart_repackages_a_half_packaged_video(clips, tools, tmp_path) -> None:
    library = _library(tmp_path, clips["h264_aac"], tools)
    video = library.scan()[0]
    hls_dir = library.hls_dir("clip")
    half = hls_dir / source_rev(video.size, video.mtime)  # the current revision, but no ready.json
    half.mkdir(parents=True)
    (half / "index.m3u8").write_text("#EXTM3U\n#EXTINF:2.0,\nseg_00000.ts\n")
    (hls_dir / "0-0").mkdir()
    packager = Packager(library, tools, rescan_interval=None)
    await _run_packager(packager)
    assert packager.status("clip")["status"] == READY
    assert read_ready(hls_dir, video.size, video.mtime) is not None
    assert not (hls_dir / "0-0").exists()


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_ready_output_is_kept_across_restarts_and_redone_when_the_source_changes(
    clips, tools, tmp_path
) -> None:
    library = _library(tmp_path, clips["h264_aac"], tools)
    first = Packager(library, tools, rescan_interval=None)
    await _run_packager(first)
    again = Packager(library, tools, rescan_interval=None)
    events: list[object] = []
    again.subscribe(lambda vid, status: events.append(status))
    await _run_packager(again)
    assert events == [] and again.status("clip") == first.status("clip")
    assert again.status("clip")["mode"] == "copy"
    os.utime(library.root / "clip.mp4", (1_700_000_100, 1_700_000_100))
    third = Packager(library, tools, rescan_interval=None)
    await _run_packager(third)
    assert third.status("clip")["status"] == READY
    assert third.status("clip")["playlist"] != first.status("clip")["playlist"]


@pytest.mark.gen_test(timeout=60)
async def test_a_subscriber_that_raises_does_not_stop_packaging(tmp_path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "a.mp4").write_bytes(b"junk")
    os.utime(media / "a.mp4", (1_700_000_000, 1_700_000_000))
    packager = Packager(MediaLibrary(media), None, rescan_interval=None)

    def broken(video_id: str, status: dict[str, object]) -> None:
        raise RuntimeError("subscriber bug")

    packager.subscribe(broken)
    await _run_packager(packager)
    assert packager.status("a")["status"] == FAILED


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=90)
async def test_open_media_makes_a_sample_and_packages_it(tools, tmp_path) -> None:
    from videosync.mediaservice import open_media
    from videosync.settings import Settings

    settings = Settings(media_dir=str(tmp_path / "media"))
    async with open_media(settings) as (library, packager):
        for _ in range(600):
            if packager.status("sample")["status"] == READY:
                break
            await asyncio.sleep(0.1)
        assert [v.id for v in library.videos()] == ["sample"]
        assert packager.status("sample")["status"] == READY
    assert not packager.running


@pytest.mark.gen_test
async def test_a_process_that_does_not_package_reports_status_heard_on_the_media_channel(
    tmp_path, store
) -> None:
    from videosync.events import Event, EventKind
    from videosync.mediasync import STATUS_CHANNEL
    from videosync.server_messages import encode_media_status

    media = tmp_path / "media"
    media.mkdir()
    (media / "a.mp4").write_bytes(b"x")
    library = MediaLibrary(media)
    idle = Packager(library, None, rescan_interval=None, bus=store)
    await idle.start(package=False)
    try:
        idle.enqueue("a")  # does not package: leaves the job to the process that does
        assert idle.status("a")["status"] == "none"
        view = {**idle.status("a"), "status": PACKAGING, "progress": 0.5}
        for _ in range(100):  # until the listener is subscribed and has heard it
            await store.publish(STATUS_CHANNEL, Event(EventKind.MEDIA, {"video": "a"}, encode_media_status("a", view)).encode())
            if idle.status("a")["status"] == PACKAGING:
                break
            await asyncio.sleep(0.05)
        assert idle.status("a") == view
    finally:
        await idle.close()


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_a_video_someone_else_is_packaging_is_left_to_them(clips, tools, tmp_path) -> None:
    library = _library(tmp_path, clips["h264_aac"], tools)
    packager = Packager(library, tools, rescan_interval=None)
    with claim(library.hls_root, "clip") as mine:  # as the package command holds it
        assert mine
        await _run_packager(packager)
        assert packager.status("clip")["status"] == PACKAGING
        assert packager.status("clip")["message"] == "being packaged by another process"
    assert not library.hls_dir("clip").exists()


@pytest.mark.gen_test(timeout=30)
async def test_the_queue_serves_owners_in_turn() -> None:
    from videosync.jobqueue import FairQueue

    queue = FairQueue()
    for n in range(3):
        queue.put("greedy", f"g{n}")
    queue.put(None, "library")
    queue.put("other", "o0")
    order = [await queue.get() for _ in range(5)]
    assert order == ["g0", "library", "o0", "g1", "g2"]
    assert queue.discard("nothing") is False


@pytest.mark.gen_test
async def test_coroutine_subscribers_are_run_as_tasks(tmp_path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "a.mp4").write_bytes(b"junk")
    os.utime(media / "a.mp4", (1_700_000_000, 1_700_000_000))
    packager = Packager(MediaLibrary(media), None, rescan_interval=None)
    heard: list[str] = []

    async def publish(video_id: str, status: dict[str, object]) -> None:
        await asyncio.sleep(0)
        heard.append(str(status["status"]))

    unsubscribe = packager.subscribe(publish)
    await _run_packager(packager)
    await asyncio.sleep(0.05)
    assert heard[0] == QUEUED and heard[-1] == FAILED
    unsubscribe()
    packager.board.changed("a", JobStatus(READY))
    await asyncio.sleep(0.05)
    assert heard[-1] == FAILED


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_a_file_dropped_into_the_media_dir_is_packaged_once_it_settles(clips, tools, tmp_path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    packager = Packager(MediaLibrary(media, tools), tools, rescan_interval=0.05, settle_seconds=0.3)
    await packager.start()
    try:
        shutil.copy(clips["h264_aac"], media / "dropped.mp4")  # mtime: now, so it must settle first
        await asyncio.sleep(0.15)
        assert packager.status("dropped")["status"] == "none", "packaged while it may still be copied"
        for _ in range(200):
            if packager.status("dropped")["status"] == READY:
                break
            await asyncio.sleep(0.1)
        assert packager.status("dropped")["status"] == READY
    finally:
        await packager.close()


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_the_packaging_of_a_deleted_video_is_deleted_with_it(clips, tools, tmp_path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for name in ("kept", "deleted"):
        shutil.copy(clips["h264_aac"], media / f"{name}.mp4")
        os.utime(media / f"{name}.mp4", (time.time() - 60, time.time() - 60))  # settled
    library = MediaLibrary(media, tools)
    packager = Packager(library, tools, rescan_interval=None)
    await packager.start()
    try:
        await packager.join()
        assert packager.status("deleted")["status"] == READY
        (media / "deleted.mp4").unlink()
        await packager.rescan()
        assert not library.hls_dir("deleted").exists()
        assert packager.status("deleted")["status"] == "none"
        assert packager.status("kept")["status"] == READY and library.hls_dir("kept").is_dir()
    finally:
        await packager.close()


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=30)
async def test_shutting_down_while_the_sample_renders_leaves_no_partial_file(tmp_path) -> None:
    from videosync.mediaservice import open_media
    from videosync.settings import Settings

    media = tmp_path / "media"
    async with open_media(Settings(media_dir=str(media))):
        await asyncio.sleep(0.5)  # ffmpeg is rendering the 60 s sample now
    assert sorted(p.name for p in media.iterdir() if p.name not in (".hls", ".videosync")) == []


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("jobs", [1, 2])
async def test_at_most_packager_jobs_ffmpegs_run_at_once_each_with_bounded_threads(
    clips, tmp_path, jobs
) -> None:
    running = tmp_path / "running"
    running.mkdir()
    ffmpeg = fake_ffmpeg(tmp_path, f"""
touch {running}/$$; ls {running} | wc -l >> {tmp_path}/peaks; echo "$@" >> {tmp_path}/args
sleep 0.4; rm {running}/$$; exit 1""")
    media = tmp_path / "media"
    media.mkdir()
    for n in range(3):
        shutil.copy(clips["h264_aac"], media / f"v{n}.mp4")
        os.utime(media / f"v{n}.mp4", (1_700_000_000, 1_700_000_000))
    library = MediaLibrary(media, Tools(ffmpeg, shutil.which("ffprobe")))
    packager = Packager(library, library.tools, rescan_interval=None, jobs=jobs, threads=3)
    await _run_packager(packager)
    peaks = [int(line) for line in (tmp_path / "peaks").read_text().split()]
    assert len(peaks) == 3 and max(peaks) == jobs
    for line in (tmp_path / "args").read_text().splitlines():  # decoding and encoding both bounded
        assert line.startswith("-threads 3 -i ") and line.count("-threads 3 ") == 2, line
