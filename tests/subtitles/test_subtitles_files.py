"""Subtitle discovery, naming and conversion to WebVTT, on real files (no server)."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
import asyncio
import os
import shutil
from pathlib import Path

import pytest

from videosync.media import MediaLibrary
from videosync.subtitle_format import SubtitleError, check_vtt, srt_to_vtt, to_vtt
from videosync.subtitle_tracks import Source, make_label, normalize_lang, parse_suffix
from videosync.subtitles import Subtitles

from ..media_support import clips, tools  # noqa: F401 (fixtures)
from .support import MALFORMED, SRT, VTT, with_mov_text


@pytest.mark.parametrize(("middle", "lang", "flags"), [
    ("", "und", []),
    ("en", "en", []),
    ("fr.forced", "fr", ["forced"]),
    ("eng", "en", []),
    ("pt-br.sdh", "pt-BR", ["SDH"]),
    ("director-commentary", "und", []),
])
def test_the_name_between_stem_and_extension_gives_language_and_flags(middle, lang, flags) -> None:
    assert parse_suffix(middle) == (lang, flags)


def test_labels_are_language_names() -> None:
    assert make_label("en") == "English"
    assert make_label("pt-BR", ["SDH"]) == "Português (Brasil) (SDH)"
    assert make_label("und") == "Subtitles"
    assert make_label("tlh") == "tlh"  # not in the table: the code itself
    assert make_label("fr", title="Commentaire") == "Commentaire"


@pytest.mark.parametrize("bad", ["", "english!", "e", "en_US", "x" * 9, "en-" + "a" * 9])
def test_a_language_code_that_is_not_one_is_refused(bad) -> None:
    with pytest.raises(SubtitleError):
        normalize_lang(bad)


def test_srt_becomes_webvtt_with_its_timing_and_safe_text() -> None:
    assert srt_to_vtt(SRT) == (
        "WEBVTT\n\n"
        "00:00:00.500 --> 00:00:03.000\n<i>First</i> line &amp; more\n\n"
        "00:00:03.500 --> 00:00:06.000\nSecond line\n"
    )
    odd = "1\r\n01:02:03,004 --> 01:02:04,000\r\n{\\an8}<font color=\"red\">Top</font> <script>\r\n\r\n"
    assert srt_to_vtt(odd) == "WEBVTT\n\n01:02:03.004 --> 01:02:04.000\nTop &lt;script&gt;\n"


def test_windows_1252_srt_is_read() -> None:
    assert "Déjà vu" in to_vtt(SRT.replace("Second line", "Déjà vu").encode("cp1252"))


def test_webvtt_is_kept_as_it_is() -> None:
    assert to_vtt(("\ufeff" + VTT).encode()) == VTT
    assert check_vtt(VTT) == VTT


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_are_a_subtitle_error_with_a_reason(name) -> None:
    with pytest.raises(SubtitleError) as caught:
        to_vtt(MALFORMED[name], "x.vtt" if "vtt" in name else "x.srt")
    assert str(caught.value)


@pytest.fixture
def library(tmp_path: Path, clips, tools) -> MediaLibrary:  # type: ignore[no-untyped-def]
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(clips["h264_aac"], media / "Movie.mp4")
    library = MediaLibrary(media, tools)
    library.scan()
    return library


@pytest.mark.ffmpeg
def test_sidecars_beside_a_video_are_its_tracks(library: MediaLibrary, tmp_path: Path) -> None:
    root = library.root
    (root / "Movie.srt").write_text(SRT)
    (root / "Movie.en.vtt").write_text(VTT)
    (root / "Movie.fr.forced.srt").write_text(SRT)
    (root / "Movie.txt").write_text("not subtitles")
    (root / "Other.en.srt").write_text(SRT)
    (root / ".Movie.de.srt").write_text(SRT)  # hidden: not listed
    outside = tmp_path / "outside.srt"
    outside.write_text(SRT)
    os.symlink(outside, root / "Movie.es.srt")  # points out of the media dir: not listed
    tracks = asyncio.run(Subtitles(library).tracks(library.get("Movie")))
    assert [(t.id, t.lang, t.label, t.source) for t in tracks] == [
        ("en-vtt", "en", "English", Source.FILE),
        ("fr-forced-srt", "fr", "Français (forced)", Source.FILE),
        ("srt", "und", "Subtitles", Source.FILE),
    ]


@pytest.mark.ffmpeg
def test_an_srt_sidecar_is_converted_once_and_again_when_it_changes(library: MediaLibrary) -> None:
    subs = Subtitles(library)
    sidecar = library.root / "Movie.en.srt"
    sidecar.write_text(SRT)
    video = library.get("Movie")
    first = asyncio.run(subs.vtt_path(video, "en-srt"))
    assert first.read_text() == srt_to_vtt(SRT)
    assert asyncio.run(subs.vtt_path(video, "en-srt")) == first
    sidecar.write_text(SRT.replace("Second", "Changed"))
    os.utime(sidecar, (1, 1))
    second = asyncio.run(subs.vtt_path(video, "en-srt"))
    assert second != first and not first.exists()
    assert "Changed line" in second.read_text()


@pytest.mark.ffmpeg
def test_a_malformed_sidecar_is_an_error_for_its_track_only(library: MediaLibrary) -> None:
    (library.root / "Movie.en.srt").write_bytes(MALFORMED["garbage"])
    (library.root / "Movie.fr.srt").write_text(SRT)
    subs = Subtitles(library)
    video = library.get("Movie")
    with pytest.raises(SubtitleError):
        asyncio.run(subs.vtt_path(video, "en-srt"))
    assert asyncio.run(subs.vtt_path(video, "fr-srt")).read_text().startswith("WEBVTT")


@pytest.mark.ffmpeg
def test_a_mov_text_stream_is_listed_and_extracted_to_webvtt(library: MediaLibrary, clips) -> None:  # type: ignore[no-untyped-def]
    with_mov_text(clips["h264_aac"], library.root / "Subbed.mp4")
    library.scan()
    subs = Subtitles(library)
    video = library.get("Subbed")
    tracks = asyncio.run(subs.tracks(video))
    assert [(t.lang, t.label, t.source) for t in tracks] == [("fr", "Français", Source.STREAM)]
    path = asyncio.run(subs.vtt_path(video, tracks[0].id))
    text = path.read_text()
    assert text.startswith("WEBVTT") and "00:01.000 --> 00:04.000" in text and "Inside the file" in text
