"""Settings come from flags, then VIDEOSYNC_* variables, then defaults; bad values are refused."""

from __future__ import annotations

import argparse
import re

import pytest

from videosync.settings import Settings, SettingsError, build_parser, from_sources


def parse(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    args = build_parser(argparse.ArgumentParser()).parse_args(argv)
    return from_sources(args, env or {})


def test_defaults_match_the_go_server() -> None:
    settings = parse([])
    assert (settings.host, settings.port, settings.session_ttl) == ("0.0.0.0", 8080, 86400)
    assert not settings.uses_redis
    assert settings.allowed_origins == ("*",)
    assert not settings.trust_proxy_headers  # reachable directly, forwarded addresses are hearsay


def test_the_default_store_is_sqlite_in_a_data_dir_under_the_working_directory(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert parse([]).store_url == f"sqlite://{tmp_path.resolve()}/data/videosync.sqlite3"
    assert parse([], {"VIDEOSYNC_DATA_DIR": "/srv/vs"}).store_url == "sqlite:///srv/vs/videosync.sqlite3"
    assert parse(["--data-dir", "memory://"]).store_url == "memory://"
    assert parse(["--redis-url", "redis://r/0"]).store_url == "redis://r/0"  # the data dir is unused then
    assert parse(["--data-dir", "memory://", "--workers", "1"]).workers == 1


def test_flags_win_over_environment_which_wins_over_defaults() -> None:
    env = {"VIDEOSYNC_PORT": "9000", "VIDEOSYNC_SESSION_TTL": "60"}
    settings = parse(["--port", "9100"], env)
    assert settings.port == 9100
    assert settings.session_ttl == 60


def test_redis_url_falls_back_to_the_conventional_variable() -> None:
    assert parse([], {"REDIS_URL": "redis://r:6379/0"}).redis_url == "redis://r:6379/0"
    both = {"REDIS_URL": "redis://a/0", "VIDEOSYNC_REDIS_URL": "redis://b/0"}
    assert parse([], both).redis_url == "redis://b/0"


@pytest.mark.parametrize(("text", "value"), [("yes", True), ("TRUE", True), ("1", True), ("no", False), ("off", False)])
def test_trust_proxy_headers_takes_yes_or_no(text: str, value: bool) -> None:
    assert parse(["--trust-proxy-headers", text]).trust_proxy_headers is value
    assert parse([], {"VIDEOSYNC_TRUST_PROXY_HEADERS": text}).trust_proxy_headers is value


def test_allowed_origins_is_a_comma_list() -> None:
    settings = parse(["--allowed-origins", "https://a.example, https://b.example/"])
    assert settings.allowed_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "abc"],
        ["--port", "70000"],
        ["--session-ttl", "0"],
        ["--session-ttl", "-5"],
        ["--log-level", "loud"],
        ["--ping-interval", "nan"],
        ["--allowed-origins", " , "],
        ["--workers", "2"],
        ["--trust-proxy-headers", "maybe"],
        ["--accel-redirect", "_media"],
        ["--accel-redirect", "/"],
        ["--accel-redirect", "/a b"],
        ["--accel-redirect", "/x/../y"],
        ["--accel-redirect", "/_media?x=1"],
        ["--accel-redirect", "/api/media"],
        ["--accel-redirect", "/media"],
        ["--accel-redirect", "/ws"],
    ],
)
def test_bad_values_are_refused_with_the_flag_named(argv: list[str]) -> None:
    with pytest.raises(SettingsError, match=argv[0]):
        parse(argv)


def test_bad_environment_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="VIDEOSYNC_PORT"):
        parse([], {"VIDEOSYNC_PORT": "eighty"})


def test_accel_redirect_is_off_by_default_and_a_path_of_its_own() -> None:
    assert parse([]).accel_redirect is None
    assert parse(["--accel-redirect", "/_media/"]).accel_redirect == "/_media"
    assert parse([], {"VIDEOSYNC_ACCEL_REDIRECT": "/internal/media"}).accel_redirect == "/internal/media"


def test_the_routes_an_accel_prefix_must_avoid_are_all_of_the_app_s(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """ROUTE_ROOTS is what start-up checks --accel-redirect against: every route is in it."""
    from videosync.app import Services, make_app
    from videosync.media import MediaLibrary
    from videosync.sessions import SessionService
    from videosync.setting_values import ROUTE_ROOTS
    from videosync.store import open_store

    (tmp_path / "web").mkdir()
    settings = Settings(media_dir=str(tmp_path / "media"), web_dir=str(tmp_path / "web"))
    store = open_store("memory://")
    services = Services(settings=settings, store=store, sessions=SessionService(store, 60),
                        library=MediaLibrary(settings.media_dir))
    patterns = [rule.matcher.regex.pattern for rule in make_app(services).wildcard_router.rules]
    # "/api/videos/([^/]+)/file$" -> api; "/((?:pages|js|css|img)/.*)$" -> pages, js, css, img
    firsts = {name for pattern in patterns
              for name in re.sub(r"\?:|[()$\\]", "", pattern[1:].split("/")[0]).split("|")}
    assert firsts - {""} <= ROUTE_ROOTS, firsts - ROUTE_ROOTS
    assert {"api", "ws", "media", "health", "pages", "vendor", "index.html"} <= firsts  # parsed right
