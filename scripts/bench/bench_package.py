#!/usr/bin/env python3
"""HLS packaging speed (x realtime) and time to the first playable segment, copy and transcode.

    python scripts/bench/bench_package.py [--seconds 60] [--height 720]

Generates a test clip (testsrc2 + beep) as H.264/AAC (packaged by stream copy) and as MPEG-4
Part 2 (packaged by a libx264 veryfast transcode), then packages each with the server's packager
and polls its playlist to see when the first segment became playable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from videosync.ffmpeg import find_tools  # noqa: E402
from videosync.hls import JobStatus, parse_playlist, source_rev  # noqa: E402
from videosync.hls_ffmpeg import package_video  # noqa: E402
from videosync.sample import make_clip  # noqa: E402


async def measure(source: Path, out: Path, ladder: bool = False) -> tuple[JobStatus, float, float | None]:
    tools = find_tools()
    started = time.perf_counter()
    first: list[float] = []

    info = source.stat()  # the output goes under the source's revision (status is kept in memory)
    playlist = out / source_rev(info.st_size, info.st_mtime) / ("v0/index.m3u8" if ladder else "index.m3u8")

    async def watch(job: asyncio.Task[JobStatus]) -> None:
        while not job.done() and not first:
            try:
                if parse_playlist(playlist.read_text()).segments:
                    first.append(time.perf_counter() - started)
            except OSError:
                pass
            await asyncio.sleep(0.005)

    job = asyncio.create_task(package_video(source, out, tools, ladder=ladder))
    await watch(job)
    status = await job
    return status, time.perf_counter() - started, first[0] if first else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--ladder", action="store_true", help="also time a --ladder transcode")
    args = parser.parse_args()
    tools = find_tools()
    width = args.height * 16 // 9
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"ffmpeg: {tools.ffmpeg}; clip {args.seconds:g} s {width}x{args.height} 30 fps")
        t = time.perf_counter()
        h264 = make_clip(root / "h264.mp4", tools, seconds=args.seconds, width=width, height=args.height)
        mpeg4 = make_clip(root / "mpeg4.mkv", tools, seconds=args.seconds, width=width, height=args.height,
                          video_codec="mpeg4")
        print(f"(clips generated in {time.perf_counter() - t:.1f} s)")
        runs = [("copy", h264, False), ("transcode", mpeg4, False)]
        if args.ladder:
            runs.append(("ladder", mpeg4, True))
        for name, source, ladder in runs:
            status, elapsed, first = asyncio.run(measure(source, root / f"hls-{name}", ladder))
            if status.status != "ready":
                print(f"{name}: {status.status}: {status.message}")
                return 1
            first_text = f"{first:.2f} s" if first is not None else "n/a"
            print(f"{name:10s} mode {status.mode:10s} {elapsed:6.2f} s"
                  f"  {args.seconds / elapsed:7.1f}x realtime  first segment playable after {first_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
