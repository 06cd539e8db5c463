"""The media library: ids, confinement to the media dir, probing, and the sample video."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
import os
import shutil
from pathlib import Path

import pytest

from videosync.ffmpeg import ProbeError, ProgressParser, Tools, parse_ffmpeg_banner
from videosync.media import MediaLibrary
from videosync.media_dir import MediaDir
from videosync.sample import ensure_sample
from videosync.video import InvalidVideoId, VideoNotFound

from .media_support import clips, ffprobe_streams, tools  # noqa: F401 (fixtures)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    for name in ("b movie.mp4", "a_film.mkv", "notes.txt", ".hidden.mp4"):
        (root / name).write_bytes(b"data " + name.encode())
    (root / ".hls" / "a_film").mkdir(parents=True)
    (root / ".hls" / "a_film" / "seg.mp4").write_bytes(b"segment")
    (root / "shows").mkdir()
    (root / "shows" / "ep1.webm").write_bytes(b"ep1")
    return root


def test_scan_lists_videos_with_ids_from_their_names(media: Path) -> None:
    videos = {v.id: v for v in MediaLibrary(media).scan()}
    assert set(videos) == {"a_film", "b-movie", "shows-ep1"}
    assert videos["b-movie"].title == "b movie"
    assert videos["a_film"].size == len(b"data a_film.mkv")


def test_same_stem_in_two_containers_gets_two_ids(media: Path) -> None:
    (media / "a_film.mp4").write_bytes(b"other")
    ids = [v.id for v in MediaLibrary(media).scan()]
    assert sorted(ids) == ["a_film", "a_film-2", "b-movie", "shows-ep1"]


def test_ids_stay_with_their_files_when_a_file_sorting_first_is_added_later(media: Path) -> None:
    before = {v.path.name: v.id for v in MediaLibrary(media).scan()}
    assert before["a_film.mkv"] == "a_film"
    (media / "a_film.avi").write_bytes(b"added later, sorts first")
    (media / "0.mp4").write_bytes(b"sorts before everything")
    after = {v.path.name: v.id for v in MediaLibrary(media).scan()}  # a new process: a restart
    assert {name: after[name] for name in before} == before
    assert after["a_film.avi"] == "a_film-2"
    assert MediaLibrary(media, default_video="a_film.mkv").scan()[0].id == "0"


def test_a_removed_video_frees_nothing_it_did_not_hold(media: Path) -> None:
    library = MediaLibrary(media)
    library.scan()
    (media / "b movie.mp4").unlink()
    (media / "a_film.mp4").write_bytes(b"new")
    ids = {v.path.name: v.id for v in library.scan()}
    assert ids["a_film.mkv"] == "a_film" and ids["a_film.mp4"] == "a_film-2"


def test_place_puts_a_file_in_without_overwriting_and_knows_its_id_at_once(media: Path, tmp_path: Path) -> None:
    library = MediaLibrary(media)
    library.scan()
    source = tmp_path / "in.mkv"
    source.write_bytes(b"uploaded")
    permanent = library.place(source, "a_film.mkv", uploaded=True)
    assert (permanent.id, permanent.path.name) == ("a_film-2", "a_film-2.mkv")
    assert source.exists() and (media / "a_film.mkv").read_bytes() == b"data a_film.mkv"
    owned = library.place(source, "Trip.mkv", move=True, owner="KEY", uploaded=True, title="Trip.mkv")
    assert not source.exists() and owned.path.parent == media / ".uploads"
    assert owned.id.startswith("Trip-") and owned.owner == "KEY" and owned.title == "Trip.mkv"
    assert library.get(owned.id) == owned and library.uploads("KEY") == [owned]
    again = {v.id: v for v in MediaLibrary(media).scan()}  # another process sees the same
    assert again[owned.id].owner == "KEY" and again["a_film-2"].uploaded
    assert library.default().id == "a_film"


def test_uploads_are_never_the_default_video(media: Path, tmp_path: Path) -> None:
    library = MediaLibrary(tmp_path / "empty")
    library.scan()
    clip = tmp_path / "0.mp4"
    clip.write_bytes(b"x")
    library.place(clip, "0.mp4", uploaded=True)
    with pytest.raises(VideoNotFound):
        library.default()


def test_only_uploads_can_be_removed_and_take_their_packaging_with_them(media: Path) -> None:
    library = MediaLibrary(media)
    library.scan()
    with pytest.raises(PermissionError):
        library.remove("a_film")
    owned = library.place(media / "b movie.mp4", "up.mp4", owner="KEY", uploaded=True)
    (library.hls_dir(owned.id) / "1-2").mkdir(parents=True)
    library.remove(owned.id)
    assert not owned.path.exists() and not library.hls_dir(owned.id).exists()
    assert not library.has(owned.id) and owned.id not in {v.id for v in MediaLibrary(media).scan()}


def test_symlink_out_of_the_media_dir_is_not_listed(media: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"secret")
    (media / "escape.mp4").symlink_to(outside)
    (media / "inside.mp4").symlink_to(media / "b movie.mp4")
    ids = {v.id for v in MediaLibrary(media).scan()}
    assert "escape" not in ids and "inside" in ids


def test_a_file_swapped_for_a_symlink_out_is_no_longer_served(media: Path, tmp_path: Path) -> None:
    library = MediaLibrary(media)
    library.scan()
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"secret")
    (media / "b movie.mp4").unlink()
    (media / "b movie.mp4").symlink_to(outside)
    with pytest.raises(VideoNotFound):
        library.get("b-movie")


@pytest.mark.parametrize(
    "bad_id", ["", "..", "../etc/passwd", "a/b", "a\x00b", ".hidden", "%2e%2e", "a b", "x" * 200]
)
def test_ids_that_could_name_a_path_are_invalid(media: Path, bad_id: str) -> None:
    library = MediaLibrary(media)
    with pytest.raises(InvalidVideoId):
        library.get(bad_id)
    assert not library.has(bad_id)


def test_unknown_and_deleted_ids_are_not_found(media: Path) -> None:
    library = MediaLibrary(media)
    library.scan()
    with pytest.raises(VideoNotFound):
        library.get("nope")
    (media / "a_film.mkv").unlink()
    with pytest.raises(VideoNotFound):
        library.get("a_film")


@pytest.mark.parametrize("relative", ["../x.mp4", "shows/../../x.mp4", "a\x00.mp4", "", "shows"])
def test_resolve_file_never_leaves_the_media_dir(media: Path, relative: str) -> None:
    (media.parent / "x.mp4").write_bytes(b"outside")
    assert MediaDir(media).resolve_file(relative) is None


def _scanned(media: Path, default_video: str | None = None) -> MediaLibrary:
    library = MediaLibrary(media, default_video=default_video)
    library.scan()
    return library


def test_default_video_is_the_configured_file_or_id_else_the_first(media: Path) -> None:
    assert _scanned(media).default().id == "a_film"
    assert _scanned(media, "b movie.mp4").default().id == "b-movie"
    assert _scanned(media, "shows-ep1").default().id == "shows-ep1"
    with pytest.raises(VideoNotFound):
        _scanned(media, "missing.mp4").default()


def test_default_video_in_an_empty_dir_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFound):
        _scanned(tmp_path / "empty").default()


BANNER = """Input #0, matroska,webm, from 'x.mkv':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 1000 kb/s
  Stream #0:0: Video: h264 (High), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 25 fps
  Stream #0:1(eng): Audio: opus, 48000 Hz, stereo, fltp (default)
At least one output file must be specified"""


def test_ffmpeg_banner_gives_codecs_and_duration_without_ffprobe() -> None:
    info = parse_ffmpeg_banner(BANNER)
    assert (info.duration, info.video_codec, info.audio_codec) == (62.5, "h264", "opus")
    assert (info.width, info.height, info.pix_fmt) == (1280, 720, "yuv420p")


def test_ffmpeg_banner_of_a_non_video_is_a_probe_error() -> None:
    with pytest.raises(ProbeError, match="Invalid data"):
        parse_ffmpeg_banner("x.mp4: Invalid data found when processing input")


def test_progress_lines_become_one_report_per_block() -> None:
    parser = ProgressParser()
    lines = ["frame=10", "out_time_us=2500000", "speed=190x", "progress=continue",
             "out_time_us=5000000", "speed=N/A", "progress=end"]
    reports = [r for r in map(parser.feed, lines) if r is not None]
    assert [(r.seconds, r.speed, r.done) for r in reports] == [(2.5, 190.0, False), (5.0, None, True)]


@pytest.mark.ffmpeg
@pytest.mark.parametrize("with_ffprobe", [True, False], ids=["ffprobe", "ffmpeg-only"])
@pytest.mark.gen_test(timeout=60)
async def test_probe_reports_codecs_and_duration(clips, tools, tmp_path, with_ffprobe) -> None:
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(clips["h264_mp2"], media / "clip.mkv")
    library = MediaLibrary(media, tools if with_ffprobe else Tools(tools.ffmpeg, None))
    info, error = await library.probes.probe(library.scan()[0])
    assert error is None and info is not None
    assert (info.video_codec, info.audio_codec, info.height) == ("h264", "mp2", 180)
    assert info.duration == pytest.approx(10.0, abs=0.1)


@pytest.mark.ffmpeg
@pytest.mark.gen_test(timeout=60)
async def test_probe_of_a_non_video_reports_why(tools, tmp_path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "junk.mp4").write_bytes(os.urandom(4096))
    library = MediaLibrary(media, tools)
    info, error = await library.probes.probe(library.scan()[0])
    assert info is None and error


@pytest.mark.ffmpeg
def test_an_empty_media_dir_gets_a_sample_with_picture_and_sound(tools, tmp_path) -> None:
    sample = ensure_sample(tmp_path / "media", tools, seconds=3)
    assert sample == (tmp_path / "media" / "sample.mp4").resolve()
    streams = {s["codec_type"]: s for s in ffprobe_streams(sample)}
    assert (streams["video"]["codec_name"], streams["audio"]["codec_name"]) == ("h264", "aac")
    assert float(streams["video"]["duration"]) == pytest.approx(3.0, abs=0.1)
    assert ensure_sample(tmp_path / "media", tools, seconds=3) is None  # not twice
    assert [p.name for p in (tmp_path / "media").iterdir() if not p.name.startswith(".")] == ["sample.mp4"]


def test_no_sample_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    import imageio_ffmpeg

    def no_binary() -> str:
        raise RuntimeError("no ffmpeg for this platform")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    assert ensure_sample(tmp_path / "media") is None
