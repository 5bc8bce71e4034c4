"""The configuration models and loader: key paths and line numbers of every kind of error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from cameras.config import CameraConfig, CameraKind, StreamSettings
from console.config import (
    CentraleConfig,
    ConfigInvalid,
    ConfigNotFound,
    SecurityConfig,
    SiteConfig,
    format_key_path,
    load_config,
    locate_keys,
)
from registry import i18n
from registry.errors import ConfigError
from registry.passwords import HashParameters, PasswordPolicy

FIXTURES = Path(__file__).parent / "fixtures" / "config"
SAMPLE = Path(__file__).parent.parent / "config.toml"


@pytest.fixture(autouse=True)
def english() -> None:
    """The reasons asserted below are the English message ids."""
    i18n.set_language("en")


# fixture -> [(key path, line, words in the reason)]
INVALID = {
    "unknown_top_level_key": [("recording", 4, "unknown key")],
    "unknown_site_key": [("site.colour", 3, "unknown key")],
    "unknown_camera_key": [("cameras[1].zoom", 15, "unknown key")],
    "wrong_type": [("ui.idle_lock_minutes", 6, "valid integer")],
    "bad_kind": [("cameras[1].kind", 14, "Input should be 'fixed', 'ptz' or 'plate'")],
    "missing_required_key": [("cameras[0].place", 4, "missing required key")],
    "missing_site_comune": [("site.comune", 4, "missing required key")],
    "duplicate_camera_id": [("cameras[2].id", 18, "already used by cameras[0]")],
    "onvif_and_main_url": [("cameras[0].main_url", 10, "not both")],
    "no_source": [
        ("cameras[0]", 4, "no video source"),
        ("cameras[1]", 9, "no video source"),
    ],
    "sub_url_without_main_url": [("cameras[0].sub_url", 8, "needs main_url")],
    "password_in_url": [("cameras[0].main_url", 9, "centrale camera set-password ID")],
    "bad_timezone": [("site.timezone", 4, "Europe/Lumezzane")],
    "grid_layout_not_allowed": [("ui.grid_layout", 6, "1, 4, 9 or 16")],
    "several_errors": [
        ("site.timezone", 3, "Mars/Olympus"),
        ("ui.grid_layout", 6, "1, 4, 9 or 16"),
        ("cameras[0].id", 9, "invalid camera id"),
        ("cameras[0].main_url", 12, "unsupported scheme 'http'"),
    ],
    "inline_and_dotted": [
        ("ui.grid_layout", 2, "1, 4, 9 or 16"),
        ("cameras[1].colour", 6, "unknown key"),
    ],
    "security_below_floor": [("security.history", 6, "at least 5: the last 5 passwords")],
    "security_above_ceiling": [
        ("security.max_age_days", 5, "at most 90: passwords expire at least every 3 months"),
        ("security.disable_unused_days", 6, "at most 180: credentials unused for 6 months"),
    ],
    "unknown_security_key": [("security.mfa", 6, "unknown key")],
    "audit_retention_too_short": [("audit.retention_months", 5, "at least 6 months (R13)")],
    "duplicate_purpose": [
        ("register.extra_purposes[2]", 8, "already given as extra_purposes[0]"),
    ],
    "empty_purpose": [("register.extra_purposes[1]", 5, "1 to 120 characters")],
    "idle_lock_too_long": [("ui.idle_lock_minutes", 5, "less than or equal to 60")],
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_each_kind_of_error_has_its_key_path_and_line(name: str) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(FIXTURES / f"{name}.toml")
    issues = caught.value.issues
    assert [(i.path, i.line) for i in issues] == [(p, n) for p, n, _ in INVALID[name]]
    for issue, (path, line, words) in zip(issues, INVALID[name], strict=True):
        assert words in issue.message
        assert str(issue).startswith(f"{path} (line {line}): ")


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(FIXTURES / "syntax_error.toml")
    (issue,) = caught.value.issues
    assert (issue.line, issue.column) == (5, 15)
    assert str(issue).startswith("line 5, column 15: TOML syntax error")
    assert "(at line" not in issue.message


@pytest.mark.parametrize("name", ["empty", "only_comments"])
def test_empty_file(name: str) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(FIXTURES / f"{name}.toml")
    (issue,) = caught.value.issues
    assert "empty" in issue.message


def test_missing_file_directory_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(ConfigNotFound, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[site]\ncomune = "Citt\xe0"\n')
    with pytest.raises(ConfigInvalid) as caught:
        load_config(latin1)
    assert caught.value.issues[0].line == 2


def test_sample_config_is_valid() -> None:
    config = load_config(SAMPLE)
    assert config.site.comune == "Lumezzane"
    kinds = {c.kind for c in config.cameras}
    assert kinds == {CameraKind.PTZ, CameraKind.FIXED, CameraKind.PLATE}
    assert any(c.anonymous for c in config.cameras)
    assert all(c.onvif or c.main_url for c in config.cameras)
    urls = [u for c in config.cameras for u in (c.onvif, c.main_url, c.sub_url) if u]
    assert urls and not any("@" in u for u in urls)  # no credentials in the sample


def test_defaults() -> None:
    config = CentraleConfig(site=SiteConfig(comune="Lumezzane"))
    assert config.site.timezone == "Europe/Rome"
    assert config.ui.grid_layout == 4
    assert config.streams == StreamSettings()
    assert config.cameras == []


def _camera(**values: object) -> CameraConfig:
    base: dict[str, object] = {"id": "cam-1", "name": "Cam", "place": "Via Roma"}
    return CameraConfig.model_validate(base | values)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("10.1.2.3:8080", "http://10.1.2.3:8080/onvif/device_service"),
        ("10.1.2.3", "http://10.1.2.3/onvif/device_service"),
        ("http://10.1.2.3", "http://10.1.2.3/onvif/device_service"),
        ("https://cam.example/onvif/device_service", "https://cam.example/onvif/device_service"),
    ],
)
def test_onvif_address_is_normalised(given: str, expected: str) -> None:
    assert _camera(onvif=given).onvif == expected


@pytest.mark.parametrize("bad", ["ftp://10.1.2.3", "http://", "10.1.2.3:notaport"])
def test_bad_onvif_address(bad: str) -> None:
    with pytest.raises(ValueError, match="onvif/device_service or host:port"):
        _camera(onvif=bad)


def test_onvif_password_refused() -> None:
    with pytest.raises(ValueError, match="set-password"):
        _camera(onvif="http://admin:secret@10.1.2.3/onvif/device_service")


def test_stream_url_falls_back_to_main() -> None:
    cam = _camera(main_url="rtsp://h/main")
    assert cam.stream_url("sub") == cam.stream_url("main") == "rtsp://h/main"
    cam = _camera(main_url="rtsp://h/main", sub_url="rtsps://h/sub")
    assert cam.stream_url("sub") == "rtsps://h/sub"
    assert _camera(onvif="h").stream_url("main") is None


def test_user_without_password_in_url_is_accepted() -> None:
    assert _camera(main_url="rtsp://viewer@h/main").main_url == "rtsp://viewer@h/main"


def test_file_sources_and_loop(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        '[site]\ncomune = "Demo"\n'
        '[[cameras]]\nid = "a"\nname = "A"\nplace = "P"\nmain_url = "clips/a.mp4"\nloop = true\n'
        '[[cameras]]\nid = "b"\nname = "B"\nplace = "P"\nmain_url = "file:/srv/b.mp4"\n'
    )
    config = load_config(config_file)
    assert config.cameras[0].main_url == str(tmp_path / "clips" / "a.mp4")
    assert config.cameras[0].is_file and config.cameras[0].loop
    assert config.cameras[1].main_url == "file:/srv/b.mp4" and config.cameras[1].is_file
    with pytest.raises(ValueError, match="only for file sources"):
        _camera(main_url="rtsp://h/main", loop=True)


def test_anonymous_ptz_is_allowed() -> None:
    assert _camera(kind="ptz", onvif="h", anonymous=True).anonymous


def test_backoff_order() -> None:
    with pytest.raises(ValueError, match="reconnect_max_s"):
        StreamSettings(reconnect_min_s=10, reconnect_max_s=5)


def test_locator_follows_tables_arrays_and_strings() -> None:
    text = (
        "# comment [not a table]\n"  # 1
        "title = '''\n"  # 2
        "[fake]\n"  # 3: inside a multi-line string
        "'''\n"  # 4
        "[site]  # trailing comment\n"  # 5
        '"quoted.key" = 1\n'  # 6
        "a.b.c = [\n"  # 7
        "  1,\n"  # 8
        "  { x = 2 },\n"  # 9
        "]\n"  # 10
        "[[cameras]]\n"  # 11
        "[[cameras]]\n"  # 12
        'id = "x#y"\n'  # 13
        "[[cameras.masks]]\n"  # 14
        "points = 1\n"  # 15
        "[cameras.extra]\n"  # 16
        "k = 1\n"  # 17
    )
    lines = locate_keys(text)
    assert ("fake",) not in lines
    assert lines[("title",)] == 2
    assert lines[("site",)] == 5
    assert lines[("site", "quoted.key")] == 6
    assert lines[("site", "a", "b", "c")] == 7
    assert lines[("site", "a", "b", "c", 1)] == 9
    assert lines[("site", "a", "b", "c", 1, "x")] == 9
    assert lines[("cameras", 0)] == 11
    assert lines[("cameras", 1)] == 12
    assert lines[("cameras", 1, "id")] == 13
    assert lines[("cameras", 1, "masks", 0)] == 14
    assert lines[("cameras", 1, "masks", 0, "points")] == 15
    assert lines[("cameras", 1, "extra", "k")] == 17


def test_locator_never_raises_on_garbage() -> None:
    assert locate_keys('[site\n"unterminated') == {}


def test_format_key_path() -> None:
    assert format_key_path(("cameras", 2, "main_url")) == "cameras[2].main_url"
    assert format_key_path(("site", "a.b")) == 'site."a.b"'


def test_security_defaults_are_the_strict_policy() -> None:
    config = CentraleConfig(site=SiteConfig(comune="Lumezzane"))
    assert config.security.policy() == PasswordPolicy()
    assert config.audit.retention_months == 6
    assert config.access_register.extra_purposes == []
    assert config.ui.idle_lock_minutes == 5


def test_a_stricter_site_policy_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[site]\ncomune = "Lumezzane"\n[security]\nmin_length = 16\nmin_classes = 4\n'
        "history = 10\nmax_age_days = 60\nmax_failures = 3\nlockout_minutes = 30\n"
        "disable_unused_days = 90\n[audit]\nretention_months = 12\n"
        '[register]\nextra_purposes = ["  Tutela   aree verdi "]\n',
        encoding="utf-8",
    )
    config = load_config(path)
    cheap = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
    policy = config.security.policy(cheap)
    assert (policy.min_length, policy.min_classes, policy.history) == (16, 4, 10)
    assert policy.max_age == timedelta(days=60) and policy.idle_limit == timedelta(days=90)
    assert (policy.max_failures, policy.lockout) == (3, timedelta(minutes=30))
    assert policy.hashing == cheap
    assert config.audit.retention_months == 12
    assert config.access_register.extra_purposes == ["Tutela aree verdi"]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("min_length", 8, "at least 12"),
        ("min_classes", 2, "at least 3"),
        ("history", 4, "at least 5"),
        ("max_age_days", 91, "at most 90"),
        ("max_age_days", 0, "at least 1"),
        ("max_failures", 6, "at most 5"),
        ("max_failures", 2, "at least 3"),
        ("lockout_minutes", 5, "at least 15"),
        ("disable_unused_days", 181, "at most 180"),
    ],
)
def test_every_security_bound_says_why(key: str, value: int, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SecurityConfig.model_validate({key: value})
    (error,) = caught.value.errors()
    bound, why = error["msg"].split(": ", 1)
    assert words in bound and len(why) > 20  # the reason follows the bound


def test_the_sample_documents_the_new_sections() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    for section in ("[security]", "[audit]", "[register]"):
        assert section in text
    config = load_config(SAMPLE)
    assert config.security == SecurityConfig()
