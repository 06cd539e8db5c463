"""The packager extracts a video's text subtitle streams with each job (real ffmpeg)."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
from pathlib import Path

import pytest

from videosync.media import MediaLibrary
from videosync.packager import Packager

from ..media_support import clips, tools  # noqa: F401 (fixtures)
from .support import with_mov_text

pytestmark = pytest.mark.ffmpeg


@pytest.mark.gen_test(timeout=120)
async def test_packaging_a_video_extracts_its_mov_text_stream_as_webvtt(tmp_path: Path, clips, tools) -> None:  # type: ignore[no-untyped-def]
    media = tmp_path / "media"
    media.mkdir()
    with_mov_text(clips["h264_aac"], media / "Subbed.mp4", lang="eng")
    library = MediaLibrary(media, tools)
    packager = Packager(library, tools, rescan_interval=None, settle_seconds=0)
    await packager.start()
    try:
        await packager.join()
    finally:
        await packager.close()
    assert packager.status("Subbed")["status"] == "ready"
    extracted = sorted((media / ".subs" / "Subbed").glob("*.vtt"))
    assert [p.name.split(".")[0] for p in extracted] == ["s2"]  # video 0, audio 1, subtitles 2
    text = extracted[0].read_text()
    assert text.startswith("WEBVTT") and "Inside the file" in text
    tracks = await packager.subtitles.tracks(library.get("Subbed"))
    assert [(t.id, t.lang, t.label) for t in tracks] == [("s2", "en", "English")]


@pytest.mark.gen_test(timeout=120)
async def test_the_extracted_subtitles_of_a_video_that_is_gone_are_pruned(tmp_path: Path, clips, tools) -> None:  # type: ignore[no-untyped-def]
    media = tmp_path / "media"
    media.mkdir()
    with_mov_text(clips["h264_aac"], media / "Subbed.mp4")
    library = MediaLibrary(media, tools)
    packager = Packager(library, tools, rescan_interval=None, settle_seconds=0)
    await packager.start()
    try:
        await packager.join()
        assert list((media / ".subs" / "Subbed").glob("*.vtt"))
        (media / "Subbed.mp4").unlink()  # the operator takes the file away
        await packager.rescan()
    finally:
        await packager.close()
    assert not (media / ".subs" / "Subbed").exists()
