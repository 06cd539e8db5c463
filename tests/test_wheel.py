"""`pip install .` gives a working server: the wheel carries the web app and hls.js, and installed
into a fresh virtualenv it runs as `videosync` and `python -m videosync` and serves them.

The wheel is built the way a user's `pip install .` builds it (an isolated build of a clean copy of
the source tree). The fresh virtualenv sees the test environment's packages through a `.pth` file
(everything but videosync itself), so installing the wheel with `--no-index` also checks that its
declared dependencies are met, without downloading them again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from videosync.ffmpeg import find_tools
from videosync.sample import make_clip

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
HLSJS = WEB / "node_modules" / "hls.js" / "dist" / "hls.min.mjs"
# what a source tree holds that a build must not see (caches, local installs, earlier builds)
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    "node_modules", "media",
)


def web_app_files() -> list[Path]:
    """The files the server's web routes serve, relative to web/."""
    files = [Path("index.html")]
    for folder in ("pages", "js", "css", "img"):
        files += [p.relative_to(WEB) for p in sorted((WEB / folder).rglob("*")) if p.is_file()]
    return files


def clean_copy(target: Path, with_hlsjs: bool = True) -> Path:
    """The source tree as a fresh clone has it (plus npm's packages when `with_hlsjs`)."""
    shutil.copytree(ROOT, target, ignore=NOT_SOURCE)
    if with_hlsjs:
        (target / "web" / "node_modules").symlink_to((WEB / "node_modules").resolve())
    return target


def build_wheel(source: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", str(out),
         str(source)],
        capture_output=True, text=True, timeout=300, env=env,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HLSJS.is_file():
        pytest.fail("web/node_modules is missing: run scripts/test.sh, which runs npm ci in web/")
    work = tmp_path_factory.mktemp("wheel")
    result = build_wheel(clean_copy(work / "src"), work / "dist")
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = (work / "dist").glob("videosync-*.whl")
    return built


def packages_view(target: Path) -> Path:
    """This environment's installed packages except videosync itself (which may be an editable
    install of some checkout), as a folder of symlinks a fresh virtualenv can put on its path."""
    target.mkdir()
    for site in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}:
        for entry in Path(site).iterdir():
            if "videosync" in entry.name.lower() or entry.suffix == ".pth" or (target / entry.name).exists():
                continue
            (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed (not editable)."""
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    Path(site, "test-environment.pth").write_text(f"{packages_view(root / 'packages')}\n")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
         "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300, env=clean_env(),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return env_dir


def clean_env() -> dict[str, str]:
    """The environment without the server's own settings, so only the given flags count, and
    without PYTHONPATH, which could put a checkout's videosync beside the installed one."""
    drop = ("REDIS_URL", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if not k.startswith("VIDEOSYNC_") and k not in drop}


def fetch(url: str, accept: str = "*/*", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept, **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_the_wheel_carries_the_web_app_hlsjs_and_a_console_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for relative in web_app_files():
            packaged = f"videosync/web/{relative.as_posix()}"
            assert packaged in names
            assert archive.read(packaged) == (WEB / relative).read_bytes()
        assert archive.read("videosync/web/vendor/hls/hls.min.mjs") == HLSJS.read_bytes()
        assert "videosync/web/vendor/hls/LICENSE" in names  # hls.js's licence travels with it
        assert not [n for n in names if "node_modules" in n or "/test/" in n]
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "videosync = videosync.__main__:main" in archive.read(entry_points).decode()


def test_the_installed_package_runs_as_a_command_and_as_a_module(venv: Path, tmp_path: Path) -> None:
    # run outside the checkout: `python -m` would otherwise import videosync from the working dir
    for command in ([str(venv / "bin" / "videosync")], [str(venv / "bin" / "python"), "-m", "videosync"]):
        result = subprocess.run(
            [*command, "--version"], cwd=tmp_path, capture_output=True, text=True, env=clean_env(), timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("videosync ")
    located = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import videosync.app as a; print(a.__file__); print(a.default_web_dir())"],
        cwd=tmp_path, capture_output=True, text=True, check=True, env=clean_env(),
    ).stdout.split()
    assert all(Path(path).is_relative_to(venv) for path in located), located


@pytest.fixture
def installed_server(venv: Path, tmp_path: Path) -> Iterator[str]:
    """The installed `videosync` serving on a free port (embedded store), with a 1 s clip."""
    media = tmp_path / "media"
    media.mkdir()
    make_clip(media / "clip.mp4", find_tools(), seconds=1, width=160, height=90, fps=10)
    command = [str(venv / "bin" / "videosync"), "--host", "127.0.0.1", "--port", str(port := free_port()),
               "--media-dir", str(media)]
    help_text = subprocess.run(
        [command[0], "serve", "--help"], capture_output=True, text=True, env=clean_env()
    ).stdout
    if "--data-dir" in help_text:  # a store that keeps its data on disk keeps it in the test's tmp
        command += ["--data-dir", str(tmp_path / "data")]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                fetch(f"{base}/health")
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        log.close()
    assert code == 0, (tmp_path / "server.log").read_text()


def test_the_installed_server_serves_the_web_app_with_hlsjs(installed_server: str) -> None:
    base = installed_server
    assert fetch(f"{base}/", accept="text/html") == (200, (WEB / "index.html").read_bytes())
    for relative in web_app_files():
        assert fetch(f"{base}/{relative.as_posix()}") == (200, (WEB / relative).read_bytes()), relative
    assert fetch(f"{base}/vendor/hls/hls.min.mjs") == (200, HLSJS.read_bytes())
    # and it is the whole server, not only its files: the API and the video
    status, body = fetch(f"{base}/")
    assert (status, json.loads(body)) == (200, {"message": "VideoSync API Server", "status": "running"})
    status, body = fetch(f"{base}/api/video", headers={"Range": "bytes=0-99"})
    assert (status, len(body)) == (206, 100)


def test_a_build_without_hlsjs_stops_and_says_how_to_get_it_unless_told_to_go_without(tmp_path: Path) -> None:
    source = clean_copy(tmp_path / "src", with_hlsjs=False)
    refused = build_wheel(source, tmp_path / "dist")
    assert refused.returncode != 0
    assert "hls.js is missing" in refused.stdout + refused.stderr
    assert "npm ci" in refused.stdout + refused.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))

    degraded = build_wheel(source, tmp_path / "dist", env={**os.environ, "VIDEOSYNC_WHEEL_WITHOUT_HLSJS": "1"})
    assert degraded.returncode == 0, degraded.stderr[-3000:]
    (built,) = (tmp_path / "dist").glob("videosync-*.whl")
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
    assert "videosync/web/index.html" in names
    assert not [n for n in names if "/vendor/" in n]
