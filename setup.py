"""Build hook: a wheel carries the web app and hls.js as package data; `web/` stays the source.

Metadata lives in setup.cfg. At build time, `build_py` copies the browser app (web/index.html,
pages/, js/, css/) into `videosync/web/` of the build tree, and hls.js's one file the player loads
(`web/node_modules/hls.js/dist/hls.min.mjs`, with its licence) into `videosync/web/vendor/hls/`.
The server looks for that packaged copy first and falls back to the checkout's `web/`
(`videosync.app.default_web_dir`), so an editable install copies nothing.

hls.js comes from npm (`cd web && npm ci`, which scripts/run.sh and scripts/test.sh do). Without it
the build stops with an error rather than ship a player that silently loses hls.js; set
VIDEOSYNC_WHEEL_WITHOUT_HLSJS=1 to build such a wheel on purpose (its player then uses native HLS
where the browser has it and progressive MP4 otherwise).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
WEB_APP = ("index.html", "pages", "js", "css", "img")  # what the server's web routes serve
HLSJS = WEB / "node_modules" / "hls.js"
HLSJS_FILES = {HLSJS / "dist" / "hls.min.mjs": "hls.min.mjs", HLSJS / "LICENSE": "LICENSE"}
WITHOUT_HLSJS = "VIDEOSYNC_WHEEL_WITHOUT_HLSJS"


def copy_web_app(target: Path) -> None:
    """web/ as the server serves it, into `target` (replaced whole, so nothing stale survives)."""
    if not (WEB / "index.html").is_file():
        raise SetupError(f"{WEB / 'index.html'} is missing: build from a full checkout or sdist")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in WEB_APP:
        source = WEB / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns(".*"))
        elif source.is_file():
            shutil.copy2(source, target / name)
    missing = [str(path) for path in HLSJS_FILES if not path.is_file()]
    if missing and os.environ.get(WITHOUT_HLSJS) == "1":
        print(f"warning: building without hls.js ({WITHOUT_HLSJS}=1): the player falls back to MP4")
        return
    if missing:
        raise SetupError(
            f"hls.js is missing ({', '.join(missing)}): run `npm ci` in web/ first (scripts/run.sh "
            f"does), or set {WITHOUT_HLSJS}=1 to build a wheel whose player falls back to MP4"
        )
    vendor = target / "vendor" / "hls"
    vendor.mkdir(parents=True)
    for source, name in HLSJS_FILES.items():
        shutil.copy2(source, vendor / name)


class BuildPyWithWebApp(build_py):
    """The standard build_py, then the web app into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install serves the checkout's web/ directly
        copy_web_app(Path(self.build_lib) / "videosync" / "web")


setup(cmdclass={"build_py": BuildPyWithWebApp})
