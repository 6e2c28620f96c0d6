"""Tests of the swupd stand-in (tests/standins/swupd-stand-in) and its mirror helper.

The stand-in runs as a subprocess against a temporary root ($SWUPD_STAND_IN_ROOT) and a mirror
served by an HTTP server on 127.0.0.1 that each test starts in a thread. No other traffic.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pytest

STANDINS = Path(__file__).resolve().parents[1] / "standins"
SCRIPT = STANDINS / "swupd-stand-in"
# The stand-in runs on Debian 12 hosts under Python 3.11: use that interpreter when there is one.
PYTHON = next(
    (p for p in ("/usr/bin/python3.11", "/usr/local/bin/python3.11") if os.access(p, os.X_OK)),
    sys.executable,
)

VERSIONS = [26000, 26240, 26260, 26300]
INSTALLED = 26240
LATEST = 26300
BUNDLES = {
    26000: ["os-core", "containers-basic"],
    26240: ["os-core", "containers-basic", "cloud-native-basic"],
    26260: ["os-core", "containers-basic", "cloud-native-basic"],
    26300: ["os-core", "containers-basic", "cloud-native-basic", "python3-basic"],
}
OS_RELEASE = (
    'NAME="Clear Linux OS"\n'
    "VERSION=1\n"
    "ID=clear-linux-os\n"
    "ID_LIKE=clear-linux-os\n"
    "VERSION_ID={version}\n"
    'PRETTY_NAME="Clear Linux OS"\n'
    'HOME_URL="https://clearlinux.org"\n'
)
LOG = "var/log/swupd-stand-in.log"


def _load_mirror_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_swupd_mirror", STANDINS / "make_swupd_mirror.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_swupd_mirror = _load_mirror_module()


# --------------------------------------------------------------------------------------------
# fixtures


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Mirror:
    """One test's mirror tree, served by the module's HTTP server under its own URL path."""

    def __init__(self, serve_dir: Path, base_url: str, name: str) -> None:
        self.tree = serve_dir / name / "clearlinux" / "update"
        self.url = f"{base_url}/{name}/clearlinux/update"

    def write(self) -> None:
        make_swupd_mirror.write_mirror(self.tree, VERSIONS, BUNDLES)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A static HTTP server on 127.0.0.1, in a thread, for the whole module."""
    serve_dir = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(serve_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield serve_dir, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def mirror(http_server: tuple[Path, str]) -> Mirror:
    """Versions 26000, 26240, 26260 and 26300 (latest); 26250 is absent."""
    serve_dir, base_url = http_server
    name = "m" + str(len(list(serve_dir.iterdir())))
    served = Mirror(serve_dir, base_url, name)
    served.write()
    return served


@pytest.fixture
def closed_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on (a stopped mirror)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/clearlinux/update"


@pytest.fixture(scope="module", autouse=True)
def compiled_stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in compiled once by the interpreter that runs it: Python does not cache the
    bytecode of a script, and compiling it on each of the ~90 runs would double their cost.
    test_the_script_runs_through_its_shebang runs the file itself."""
    pyc = tmp_path_factory.mktemp("stand-in") / "swupd-stand-in.pyc"
    compile_it = (
        "import py_compile, sys; py_compile.compile(sys.argv[1], sys.argv[2], doraise=True)"
    )
    subprocess.run([PYTHON, "-c", compile_it, str(SCRIPT), str(pyc)], check=True, timeout=60)
    System.program = [PYTHON, str(pyc)]
    return pyc


class System:
    """A Clear Linux root for the stand-in: os-release, bundle files, swupd settings."""

    program: ClassVar[list[str]] = [PYTHON, str(SCRIPT)]

    def __init__(self, root: Path) -> None:
        self.root = root

    def p(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, text: str) -> None:
        self.p(rel).parent.mkdir(parents=True, exist_ok=True)
        self.p(rel).write_text(text)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **(env or {}), "SWUPD_STAND_IN_ROOT": str(self.root)}
        return subprocess.run(
            [*self.program, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def version(self, rel: str = "usr/lib/os-release") -> str | None:
        for line in self.p(rel).read_text().splitlines():
            if line.startswith("VERSION_ID="):
                return line.split("=", 1)[1]
        return None

    def set_version(self, version: int) -> None:
        for rel in ("usr/lib/os-release", "etc/os-release"):
            self.write(rel, OS_RELEASE.format(version=version))

    def bundles(self) -> list[str]:
        return sorted(p.name for p in self.p("usr/share/clear/bundles").iterdir())

    def add_bundle(self, name: str) -> None:
        self.p(f"usr/share/clear/bundles/{name}").touch()

    def set_mirror_files(self, url: str) -> None:
        self.write("etc/swupd/mirror_contenturl", url)
        self.write("etc/swupd/mirror_versionurl", url)

    def snapshot(self) -> dict[str, str]:
        """Every file and link under the root (with content) except the invocation log."""
        state: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            if path.is_symlink():
                state[rel] = f"-> {os.readlink(path)}"
            elif path.is_file() and rel != LOG:
                state[rel] = path.read_text()
        return state

    def log(self) -> list[dict[str, object]]:
        if not self.p(LOG).exists():
            return []
        return [json.loads(line) for line in self.p(LOG).read_text().splitlines()]


@pytest.fixture
def system(tmp_path: Path, mirror: Mirror) -> System:
    """Clear Linux at 26240 with os-core, its mirror set to the served tree (http allowed)."""
    sysroot = System(tmp_path / "root")
    sysroot.set_version(INSTALLED)
    sysroot.p("usr/share/clear/bundles").mkdir(parents=True)
    sysroot.add_bundle("os-core")
    sysroot.set_mirror_files(mirror.url)
    sysroot.write("etc/swupd/config", "[GLOBAL]\nallow_insecure_http=true\n")
    return sysroot


@pytest.fixture
def offline(system: System, closed_url: str) -> System:
    """The same system whose mirror has stopped answering."""
    system.set_mirror_files(closed_url)
    return system


def info_fields(stdout: str) -> dict[str, str]:
    fields = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


# --------------------------------------------------------------------------------------------
# the mirror helper


def test_write_mirror_layout_and_manifest(tmp_path: Path) -> None:
    root = make_swupd_mirror.write_mirror(
        tmp_path / "m", [26300, 26000], {26000: ["containers-basic"], 26300: ["x", "os-core"]}
    )
    assert (root / "version/formatstaging/latest").read_text() == "26300\n"
    assert (root / "version/latest_version").read_text() == "26300\n"
    mom = json.loads((root / "26000/Manifest.MoM").read_text())
    assert mom["version"] == 26000
    assert mom["bundles"] == ["containers-basic", "os-core"]  # os-core always added
    assert json.loads((root / "26300/Manifest.MoM").read_text())["previous"] == 26000


def test_write_mirror_latest_and_format_and_errors(tmp_path: Path) -> None:
    root = make_swupd_mirror.write_mirror(tmp_path / "m", [10], ["a"], latest=20, fmt="33")
    assert (root / "version/format33/latest").read_text() == "20\n"
    assert not (root / "20").exists()
    with pytest.raises(ValueError, match="no bundle list for version 11"):
        make_swupd_mirror.write_mirror(tmp_path / "n", [10, 11], {10: ["a"]})
    with pytest.raises(ValueError, match="invalid bundle name"):
        make_swupd_mirror.write_mirror(tmp_path / "n", [10], ["../evil"])
    with pytest.raises(ValueError, match="positive integer"):
        make_swupd_mirror.write_mirror(tmp_path / "n", [0], ["a"])


def test_make_mirror_cli(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    rc = make_swupd_mirror.main(
        [
            "--out",
            str(out),
            "--versions",
            "26000,26240",
            "--bundles",
            "os-core,containers-basic,cloud-native-basic",
            "--version-bundles",
            "26000=containers-basic",
        ]
    )
    assert rc == 0
    assert json.loads((out / "26000/Manifest.MoM").read_text())["bundles"] == [
        "containers-basic",
        "os-core",
    ]
    assert "cloud-native-basic" in json.loads((out / "26240/Manifest.MoM").read_text())["bundles"]
    assert make_swupd_mirror.main(["--out", str(out), "--versions", "x"]) == 2


# --------------------------------------------------------------------------------------------
# command line, version, logging


def test_the_script_runs_through_its_shebang(tmp_path: Path) -> None:
    assert SCRIPT.read_text().splitlines()[0] == "#!/usr/bin/env python3"
    assert os.access(SCRIPT, os.X_OK)
    env = {**os.environ, "SWUPD_STAND_IN_ROOT": str(tmp_path)}
    result = subprocess.run(
        [str(SCRIPT), "--version"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "(stand-in for tests)" in result.stdout
    assert json.loads((tmp_path / LOG).read_text())["argv"] == ["swupd", "--version"]


def test_version_says_it_is_a_stand_in(system: System) -> None:
    result = system.run("--version")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("swupd-stand-in ")
    assert lines[0].endswith("(follows swupd 4.x CLI)")
    assert "(stand-in for tests)" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "subcommand is required"),
        (("frobnicate",), "Unrecognized subcommand 'frobnicate'"),
        (("--bogus",), "unrecognized option '--bogus'"),
        (("info", "--bogus"), "unrecognized option '--bogus'"),
        (("update", "-Z"), "invalid option -- 'Z'"),
        (("update", "--versio", "1"), "ambiguous"),  # --version or --versionurl
        (("update", "-V"), "option requires an argument -- 'V'"),
        (("diagnose",), "does not implement"),
        (("check-update", "-P", "http"), "Invalid --port argument: http"),
        (("info", "extra"), "Unexpected arguments"),
    ],
)
def test_invalid_usage_exits_15_with_usage_on_stderr(
    system: System, args: tuple[str, ...], needle: str
) -> None:
    before = system.snapshot()
    result = system.run(*args)
    assert result.returncode == 15
    assert needle in result.stderr
    assert "Usage:" in result.stderr
    assert result.stdout == ""
    assert system.snapshot() == before


def test_json_output_is_not_supported(system: System) -> None:
    result = system.run("info", "--json-output")
    assert result.returncode == 15
    assert "--json-output is not supported" in result.stderr


def test_subcommand_help_goes_to_stdout(system: System) -> None:
    result = system.run("update", "--help")
    assert result.returncode == 0
    assert "swupd update [OPTION...]" in result.stdout
    assert "--version=V" in result.stdout


def test_every_invocation_is_logged_with_its_exit_code(system: System) -> None:
    system.run("info")
    system.run("bundle-add", 'we"ird\\\nname', "é")
    system.run("nope")
    log = system.log()  # one JSON document per line, whatever the arguments
    assert [entry["argv"] for entry in log] == [
        ["swupd", "info"],
        ["swupd", "bundle-add", 'we"ird\\\nname', "é"],
        ["swupd", "nope"],
    ]
    assert [entry["rc"] for entry in log] == [0, 3, 15]
    assert all(str(entry["stand_in"]).startswith("swupd-stand-in ") for entry in log)


# --------------------------------------------------------------------------------------------
# info


def test_info_prints_installed_version_and_urls(system: System, mirror: Mirror) -> None:
    result = system.run("info")
    assert result.returncode == 0
    fields = info_fields(result.stdout)
    assert fields["Installed version"] == str(INSTALLED)
    assert fields["Version URL"] == mirror.url
    assert fields["Content URL"] == mirror.url
    assert fields["Distribution"] == "Clear Linux OS"
    assert "(stand-in for tests)" in result.stdout


def test_info_quiet_prints_only_the_version(system: System) -> None:
    result = system.run("info", "--quiet")
    assert result.returncode == 0
    assert result.stdout == f"{INSTALLED}\n"
    assert "(stand-in for tests)" in result.stderr


def test_info_url_precedence(system: System) -> None:
    for rel in ("etc/swupd/mirror_contenturl", "etc/swupd/mirror_versionurl"):
        system.p(rel).unlink()
    fields = info_fields(system.run("info").stdout)
    assert fields["Version URL"] == "https://cdn.download.clearlinux.org/update"
    system.write("usr/share/defaults/swupd/versionurl", "https://swupd.example.invalid/v/\n")
    system.write("usr/share/defaults/swupd/contenturl", "https://swupd.example.invalid/c\n")
    fields = info_fields(system.run("info").stdout)
    assert fields["Version URL"] == "https://swupd.example.invalid/v"
    assert fields["Content URL"] == "https://swupd.example.invalid/c"
    fields = info_fields(system.run("info", "-c", "https://other.invalid/x").stdout)
    assert fields["Content URL"] == "https://other.invalid/x"
    assert fields["Version URL"] == "https://swupd.example.invalid/v"


def test_info_reads_etc_os_release_when_usr_lib_is_missing(system: System) -> None:
    system.p("usr/lib/os-release").unlink()
    system.write("etc/os-release", OS_RELEASE.format(version=25000))
    result = system.run("info")
    assert info_fields(result.stdout)["Installed version"] == "25000"


def test_info_without_os_release_is_version_unknown(system: System) -> None:
    system.p("usr/lib/os-release").unlink()
    system.p("etc/os-release").unlink()
    result = system.run("info")
    assert result.returncode == 20
    assert info_fields(result.stdout)["Installed version"] == "unknown"


def test_http_urls_need_allow_insecure_http(system: System) -> None:
    system.p("etc/swupd/config").unlink()
    result = system.run("info")
    assert result.returncode == 12
    assert "This is an insecure connection" in result.stderr
    assert system.run("info", "--allow-insecure-http").returncode == 0


def test_config_sections_apply_to_their_command_only(system: System) -> None:
    system.write("etc/swupd/config", "# comment\n[update]\nallow_insecure_http=true\n")
    assert system.run("info").returncode == 12
    assert system.run("update").returncode == 0
    assert system.version() == str(LATEST)


def test_path_option_points_at_another_root(system: System) -> None:
    other = System(system.p("srv/target"))
    other.write("usr/lib/os-release", OS_RELEASE.format(version=31000))
    result = system.run("info", "--path", "/srv/target", "--allow-insecure-http")
    assert info_fields(result.stdout)["Installed version"] == "31000"
    assert system.run("info", "--path=/no/such/dir").returncode == 15


# --------------------------------------------------------------------------------------------
# update


def test_update_goes_to_latest(system: System) -> None:
    result = system.run("update")
    assert result.returncode == 0, result.stderr
    assert (
        f"Update successful - System updated from version {INSTALLED} to version {LATEST}"
        in result.stdout
    )
    assert system.version() == str(LATEST)
    assert system.version("etc/os-release") == str(LATEST)  # a regular copy is kept in step
    text = system.p("usr/lib/os-release").read_text()
    assert text == OS_RELEASE.format(version=LATEST)  # every other line preserved
    # the upstream (retired) server is reported, never contacted
    assert "Upstream server https://cdn.download.clearlinux.org/update not responding" in (
        result.stderr
    )


@pytest.mark.parametrize(
    "args",
    [("-V", "26260"), ("--version", "26260"), ("--version=26260",), ("-V26260",), ("-m", "26260")],
)
def test_update_to_a_given_newer_version(system: System, args: tuple[str, ...]) -> None:
    result = system.run("update", *args)
    assert result.returncode == 0, result.stderr
    assert "System updated from version 26240 to version 26260" in result.stdout
    assert system.version() == "26260"


def test_update_beyond_the_latest_stops_at_the_latest(system: System) -> None:
    assert system.run("update", "-V", "99999").returncode == 0
    assert system.version() == str(LATEST)
    system.set_version(INSTALLED)
    assert system.run("update", "-V", "latest").returncode == 0
    assert system.version() == str(LATEST)


def test_update_to_the_installed_version_changes_nothing(system: System) -> None:
    before = system.snapshot()
    result = system.run("update", "-V", str(INSTALLED))
    assert result.returncode == 0
    assert "Requested version (26240) is not newer than system version (26240)" in result.stdout
    assert system.snapshot() == before


def test_update_when_already_at_latest(system: System) -> None:
    system.set_version(LATEST)
    result = system.run("update")
    assert result.returncode == 0
    assert "Version on server (26300) is not newer than system version (26300)" in result.stdout
    assert "System already up-to-date at version 26300" in result.stdout


def test_update_never_goes_backwards(system: System) -> None:
    before = system.snapshot()
    result = system.run("update", "-V", "26000")
    assert result.returncode == 15
    assert "Requested version for update (26000) must be greater than current version (26240)" in (
        result.stderr
    )
    assert system.snapshot() == before


def test_update_to_a_version_the_mirror_lacks(system: System) -> None:
    before = system.snapshot()
    result = system.run("update", "-V", "26250")
    assert result.returncode == 4
    assert "Failed to retrieve 26250 MoM manifest" in result.stderr
    assert "Update failed" in result.stdout
    assert system.snapshot() == before


def test_update_with_the_mirror_stopped(offline: System, closed_url: str) -> None:
    before = offline.snapshot()
    result = offline.run("update")
    assert result.returncode == 16
    assert f"Failed to connect to update server: {closed_url}/version/formatstaging/latest" in (
        result.stderr
    )
    assert "Unable to determine the server version" in result.stderr
    assert offline.snapshot() == before


def test_update_when_the_version_file_is_missing(system: System, mirror: Mirror) -> None:
    (mirror.tree / "version/formatstaging/latest").unlink()
    result = system.run("update")
    assert result.returncode == 16
    assert "Unable to determine the server version" in result.stderr
    assert system.version() == str(INSTALLED)


def test_update_rejects_a_bad_version_argument(system: System) -> None:
    result = system.run("update", "-V", "new")
    assert result.returncode == 15
    assert "Invalid --version argument: new" in result.stderr


def test_update_status_and_download_change_nothing(system: System) -> None:
    before = system.snapshot()
    status = system.run("update", "--status")
    assert status.returncode == 0
    assert "There is a new OS version available: 26300" in status.stdout
    assert system.run("update", "--download").returncode == 0
    assert system.snapshot() == before


def test_update_keeps_an_etc_os_release_symlink(system: System) -> None:
    system.p("etc/os-release").unlink()
    system.p("etc/os-release").symlink_to("/usr/lib/os-release")  # absolute, as on a real host
    assert info_fields(system.run("info").stdout)["Installed version"] == str(INSTALLED)
    assert system.run("update").returncode == 0
    assert os.readlink(system.p("etc/os-release")) == "/usr/lib/os-release"
    assert system.version() == str(LATEST)


def test_port_and_url_overrides(system: System, mirror: Mirror, closed_url: str) -> None:
    mirror_port = mirror.url.split(":")[2].split("/")[0]
    closed_port = closed_url.split(":")[2].split("/")[0]
    system.set_mirror_files(mirror.url.replace(mirror_port, closed_port))
    assert system.run("check-update").returncode == 16
    assert system.run("check-update", "-P", mirror_port).returncode == 0
    assert system.run("check-update", "-u", mirror.url).returncode == 0


# --------------------------------------------------------------------------------------------
# repair


def test_repair_picky_force_lands_on_an_older_version(system: System) -> None:
    system.add_bundle("cloud-native-basic")  # not in 26000
    result = system.run("repair", "--picky", "-V", "26000", "--force")
    assert result.returncode == 0, result.stderr
    assert "Repair successful" in result.stdout
    assert system.version() == "26000"
    assert system.version("etc/os-release") == "26000"
    assert system.bundles() == ["os-core"]  # --picky removed what 26000 does not have


@pytest.mark.parametrize("version_args", [("-m", "26000"), ("--manifest=26000",), ("-V26000",)])
def test_repair_version_spellings(system: System, version_args: tuple[str, ...]) -> None:
    assert system.run("repair", "--picky", "--force", *version_args).returncode == 0
    assert system.version() == "26000"


def test_repair_lands_on_a_newer_version(system: System) -> None:
    assert system.run("repair", "--picky", "-V", "26300", "--force").returncode == 0
    assert system.version() == "26300"


def test_repair_force_without_picky_keeps_bundles(system: System) -> None:
    system.add_bundle("cloud-native-basic")
    result = system.run("repair", "-V", "26000", "--force")
    assert result.returncode == 0, result.stderr
    assert system.version() == "26000"
    assert system.bundles() == ["cloud-native-basic", "os-core"]


def test_repair_to_another_version_needs_force_or_picky(system: System) -> None:
    before = system.snapshot()
    result = system.run("repair", "-V", "26000")
    assert result.returncode == 15
    assert "Repairing to a different version requires --force or --picky" in result.stderr
    assert system.snapshot() == before


def test_repair_refuses_to_drop_bundles_without_force(system: System) -> None:
    system.add_bundle("cloud-native-basic")
    before = system.snapshot()
    result = system.run("repair", "--picky", "-V", "26000")
    assert result.returncode == 3
    assert "not available at version 26000" in result.stderr
    assert system.snapshot() == before


def test_repair_to_a_version_the_mirror_lacks(system: System) -> None:
    before = system.snapshot()
    result = system.run("repair", "--picky", "-V", "26250", "--force")
    assert result.returncode == 4
    assert "Unable to download/verify 26250 Manifest.MoM" in result.stderr
    assert system.snapshot() == before


def test_repair_quick_only_adds_missing_files(system: System) -> None:
    result = system.run("repair", "-V", "26000", "--force", "--quick")
    assert result.returncode == 0
    assert system.version() == str(INSTALLED)  # os-release exists, so --quick leaves it


def test_repair_quick_and_picky_are_exclusive(system: System) -> None:
    result = system.run("repair", "--quick", "--picky")
    assert result.returncode == 15
    assert "mutually exclusive" in result.stderr


def test_repair_at_the_installed_version(system: System) -> None:
    before = system.snapshot()
    result = system.run("repair")
    assert result.returncode == 0
    assert "Diagnosing version 26240" in result.stdout
    assert system.snapshot() == before


def test_repair_with_the_mirror_stopped(offline: System, closed_url: str) -> None:
    before = offline.snapshot()
    result = offline.run("repair", "--picky", "-V", "26000", "--force")
    assert result.returncode == 4  # swupd: the MoM cannot be loaded
    assert f"Failed to connect to update server: {closed_url}/26000/Manifest.MoM" in result.stderr
    assert offline.snapshot() == before


# --------------------------------------------------------------------------------------------
# check-update


def test_check_update_reports_a_newer_version(system: System) -> None:
    before = system.snapshot()
    result = system.run("check-update")
    assert result.returncode == 0
    assert "Current OS version: 26240" in result.stdout
    assert "There is a new OS version available: 26300" in result.stdout
    assert system.run("check-update", "--quiet").stdout == "26300\n"
    assert system.snapshot() == before


def test_check_update_without_updates_exits_1(system: System) -> None:
    system.set_version(LATEST)
    result = system.run("check-update")
    assert result.returncode == 1
    assert "There are no updates available" in result.stdout


def test_check_update_with_the_mirror_stopped(offline: System) -> None:
    result = offline.run("check-update")
    assert result.returncode == 16
    assert "Failed to connect to update server" in result.stderr


def test_check_update_reads_latest_version_not_the_format_s_latest(
    system: System, mirror: Mirror
) -> None:
    """check_update.c asks version_get_absolute_latest: <versionurl>/version/latest_version;
    update asks get_latest_version: version/format<F>/latest. Each reads only its own file."""
    (mirror.tree / "version/latest_version").write_text("26260\n")
    result = system.run("check-update")
    assert result.returncode == 0, result.stderr
    assert "Latest server version: 26260" in result.stdout
    assert "There is a new OS version available: 26260" in result.stdout
    assert system.run("update").returncode == 0
    assert system.version() == str(LATEST)  # formatstaging/latest says 26300


def test_check_update_fails_without_latest_version(system: System, mirror: Mirror) -> None:
    """A mirror with only version/format<F>/latest: check-update fails as on a real node
    (a 404 is not reported by swupd's curl layer, only the missing server version), and
    update, which reads the format's file, still works."""
    (mirror.tree / "version/latest_version").unlink()
    before = system.snapshot()
    result = system.run("check-update")
    assert result.returncode == 16
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: Unable to determine the server version"]
    assert "Current OS version: 26240" in result.stdout
    assert "Latest server version" not in result.stdout
    assert system.snapshot() == before
    assert system.run("update", "--status").returncode == 16  # update -s is check-update
    assert system.run("update").returncode == 0


@pytest.mark.parametrize(
    "content",
    ["new\n", "26300x\n", "123456789012\n", "-5\n", "99999999999"],
)
def test_check_update_refuses_a_latest_version_that_is_not_a_version(
    system: System, mirror: Mirror, content: str
) -> None:
    """str_to_int of the whole content (strings.c); more than 11 bytes fails the download;
    a negative number is an error too (check_update.c: server_version < 0)."""
    (mirror.tree / "version/latest_version").write_text(content)
    result = system.run("check-update")
    assert result.returncode == 16
    assert "Error: Unable to determine the server version" in result.stderr


def test_check_update_with_an_empty_latest_version_says_no_updates(
    system: System, mirror: Mirror
) -> None:
    """strtol of "" is 0 without an error: real swupd prints no server version and, as the
    installed version is not below 0, says there are no updates (exit 1)."""
    (mirror.tree / "version/latest_version").write_text("")
    result = system.run("check-update")
    assert result.returncode == 1
    assert "Latest server version" not in result.stdout
    assert "There are no updates available" in result.stdout


def test_check_update_takes_white_space_around_the_version(system: System, mirror: Mirror) -> None:
    (mirror.tree / "version/latest_version").write_text(" 26300 \n")
    result = system.run("check-update")
    assert result.returncode == 0, result.stderr
    assert "Latest server version: 26300" in result.stdout


# --------------------------------------------------------------------------------------------
# bundle-add, bundle-remove, bundle-list


def test_bundle_add_creates_bundle_files(system: System) -> None:
    result = system.run("bundle-add", "containers-basic", "cloud-native-basic")
    assert result.returncode == 0, result.stderr
    assert "Successfully installed 2 bundles" in result.stdout
    assert system.bundles() == ["cloud-native-basic", "containers-basic", "os-core"]


def test_bundle_add_of_an_installed_bundle_changes_nothing(system: System) -> None:
    system.add_bundle("containers-basic")
    mtime = system.p("usr/share/clear/bundles/containers-basic").stat().st_mtime_ns
    result = system.run("bundle-add", "containers-basic")
    assert result.returncode == 0
    assert 'Bundle "containers-basic" is already installed, skipping it...' in result.stderr
    assert "1 bundle was already installed" in result.stdout
    assert system.p("usr/share/clear/bundles/containers-basic").stat().st_mtime_ns == mtime


def test_bundle_add_of_an_invalid_bundle(system: System) -> None:
    before = system.snapshot()
    result = system.run("bundle-add", "no-such-bundle")
    assert result.returncode == 3
    assert 'Warning: Bundle "no-such-bundle" is invalid, skipping it...' in result.stderr
    assert system.snapshot() == before


def test_bundle_add_checks_the_manifest_of_the_installed_version(system: System) -> None:
    system.set_version(26000)  # cloud-native-basic only appears in 26240
    assert system.run("bundle-add", "cloud-native-basic").returncode == 3
    assert system.bundles() == ["os-core"]


def test_bundle_add_installs_the_valid_ones_and_still_fails(system: System) -> None:
    result = system.run("bundle-add", "containers-basic", "no-such-bundle")
    assert result.returncode == 3
    assert "Failed to install 1 of 2 bundles" in result.stdout
    assert system.bundles() == ["containers-basic", "os-core"]


def test_bundle_add_never_writes_outside_the_bundles_dir(system: System) -> None:
    before = system.snapshot()
    assert system.run("bundle-add", "../../../etc/evil").returncode == 3
    assert system.snapshot() == before


def test_bundle_add_needs_bundles(system: System) -> None:
    result = system.run("bundle-add")
    assert result.returncode == 15
    assert "missing bundle(s) to be installed" in result.stderr


def test_bundle_add_with_the_mirror_stopped(offline: System) -> None:
    result = offline.run("bundle-add", "containers-basic")
    assert result.returncode == 4  # swupd: the MoM cannot be loaded
    assert "Failed to connect to update server" in result.stderr
    assert offline.bundles() == ["os-core"]


def test_bundle_remove(system: System) -> None:
    system.add_bundle("containers-basic")
    result = system.run("bundle-remove", "containers-basic")
    assert result.returncode == 0
    assert "Successfully removed 1 bundle" in result.stdout
    assert system.bundles() == ["os-core"]


@pytest.mark.parametrize(
    ("bundle", "rc", "message"),
    [
        ("cloud-native-basic", 13, 'Bundle "cloud-native-basic" is not installed'),
        ("os-core", 2, 'Bundle "os-core" not allowed to be removed'),
        ("no-such-bundle", 3, 'Bundle "no-such-bundle" is invalid'),
    ],
)
def test_bundle_remove_failures(system: System, bundle: str, rc: int, message: str) -> None:
    before = system.snapshot()
    result = system.run("bundle-remove", bundle)
    assert result.returncode == rc
    assert message in result.stderr
    assert "Failed to remove 1 of 1 bundles" in result.stdout
    assert system.snapshot() == before


def test_bundle_remove_usage_and_offline(offline: System) -> None:
    assert offline.run("bundle-remove").returncode == 15
    offline.add_bundle("containers-basic")
    assert offline.run("bundle-remove", "containers-basic").returncode == 4
    assert offline.bundles() == ["containers-basic", "os-core"]


def test_bundle_list_installed(system: System) -> None:
    system.add_bundle("containers-basic")
    result = system.run("bundle-list")
    assert result.returncode == 0
    assert " - containers-basic\n - os-core\n" in result.stdout
    assert "Total: 2" in result.stdout
    assert system.run("bundle-list", "--quiet").stdout == "containers-basic\nos-core\n"


def test_bundle_list_all_shows_the_mirror_bundles(system: System) -> None:
    result = system.run("bundle-list", "--all", "--status")
    assert result.returncode == 0
    assert " - cloud-native-basic\n - containers-basic\n - os-core (installed)\n" in result.stdout
    assert "Total: 3" in result.stdout
    assert "python3-basic" not in result.stdout  # only in 26300


def test_bundle_list_offline(offline: System) -> None:
    local = offline.run("bundle-list")
    assert local.returncode == 0  # the local list needs no server
    assert " - os-core\n" in local.stdout
    # list_local_bundles: without the MoM it cannot mark experimental bundles, and says so
    assert "Warning: Could not determine which installed bundles are experimental" in (local.stderr)
    assert offline.run("bundle-list", "-a").returncode == 4
    assert offline.run("bundle-list", "--deps", "os-core").returncode == 15


def test_bundle_list_marks_experimental_bundles(system: System, mirror: Mirror) -> None:
    """get_printable_bundle_name (helpers.c): "name: experimental" under --quiet, "name
    (experimental)" otherwise, "name (installed, experimental)" with --status."""
    make_swupd_mirror.write_mirror(
        mirror.tree, VERSIONS, BUNDLES, experimental=["cloud-native-basic", "containers-basic"]
    )
    mom = json.loads((mirror.tree / f"{INSTALLED}/Manifest.MoM").read_text())
    assert mom["flags"] == {"cloud-native-basic": "Me..", "containers-basic": "Me.."}
    system.add_bundle("containers-basic")
    quiet = system.run("bundle-list", "--all", "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == (
        "cloud-native-basic: experimental\ncontainers-basic: experimental\nos-core\n"
    )
    shown = system.run("bundle-list", "--all", "--status")
    assert " - containers-basic (installed, experimental)\n - os-core (installed)\n" in (
        shown.stdout
    )
    assert " - cloud-native-basic (experimental)\n" in shown.stdout
    local = system.run("bundle-list", "--quiet")
    assert local.stdout == "containers-basic: experimental\nos-core\n"


@pytest.mark.parametrize("flags", [{"os-core": "Md.."}, {"nope": "Me.."}, {"os-core": "e"}, []])
def test_bundle_list_refuses_a_mom_with_bad_flags(
    system: System, mirror: Mirror, flags: object
) -> None:
    path = mirror.tree / f"{INSTALLED}/Manifest.MoM"
    mom = json.loads(path.read_text())
    mom["flags"] = flags
    path.write_text(json.dumps(mom))
    result = system.run("bundle-list", "--all")
    assert result.returncode == 4
    assert f"Failed to retrieve {INSTALLED} MoM manifest" in result.stderr


def test_write_mirror_refuses_an_unknown_experimental_bundle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope is marked experimental"):
        make_swupd_mirror.write_mirror(tmp_path / "m", [10], ["a"], experimental=["nope"])
    with pytest.raises(TypeError, match="not a string"):
        make_swupd_mirror.write_mirror(tmp_path / "m", [10], ["a"], experimental="a")


# --------------------------------------------------------------------------------------------
# mirror


def test_mirror_set_http_is_refused_without_allow_insecure_http(system: System) -> None:
    system.p("etc/swupd/config").unlink()
    for rel in ("etc/swupd/mirror_contenturl", "etc/swupd/mirror_versionurl"):
        system.p(rel).unlink()
    result = system.run("mirror", "-s", "http://mirror.invalid/update")
    assert result.returncode == 15
    assert "Unable to set mirror url" in result.stderr
    assert not system.p("etc/swupd/mirror_contenturl").exists()


def test_mirror_set_then_update_through_it(tmp_path: Path, mirror: Mirror) -> None:
    node = System(tmp_path / "node")
    node.set_version(INSTALLED)
    node.p("usr/share/clear/bundles").mkdir(parents=True)
    result = node.run("mirror", "-s", mirror.url, "--allow-insecure-http")
    assert result.returncode == 0, result.stderr
    assert "Mirror url set" in result.stdout
    assert "allow_insecure_http=true" in result.stderr  # swupd's warning about autoupdate
    assert node.p("etc/swupd/mirror_contenturl").read_text() == mirror.url
    assert node.p("etc/swupd/mirror_versionurl").read_text() == mirror.url
    assert info_fields(result.stdout)["Version URL"] == mirror.url
    assert node.run("update").returncode == 12  # http mirror, no --allow-insecure-http
    assert node.run("update", "--allow-insecure-http").returncode == 0
    assert node.version() == str(LATEST)


@pytest.mark.parametrize(
    "args",
    [
        ("-s", "https://m.invalid/u"),
        ("--set", "https://m.invalid/u"),
        ("https://m.invalid/u", "--se"),  # getopt_long: permuted, a unique prefix
    ],
)
def test_mirror_set_spellings(system: System, args: tuple[str, ...]) -> None:
    result = system.run("mirror", *args)
    assert result.returncode == 0, result.stderr
    assert system.p("etc/swupd/mirror_versionurl").read_text() == "https://m.invalid/u"
    assert info_fields(result.stdout)["Content URL"] == "https://m.invalid/u"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # mirror.c declares { "set", no_argument, 0, 's' }: getopt_long refuses --set=URL
        (("--set=https://m.invalid/u",), "option '--set' doesn't allow an argument"),
        (("--unset=yes",), "option '--unset' doesn't allow an argument"),
        (("-s", "https://m.invalid/u", "https://n.invalid/u"), "Unexpected arguments"),
        (("https://m.invalid/u",), "Unexpected arguments"),
    ],
)
def test_mirror_set_takes_the_url_as_an_argument_only(
    system: System, args: tuple[str, ...], message: str
) -> None:
    before = system.snapshot()
    result = system.run("mirror", *args)
    assert result.returncode == 15
    assert f"Error: {message}" in result.stderr
    assert "-s, --set [URL]" in result.stderr  # the command's help follows
    assert system.snapshot() == before


def test_mirror_unset_and_show(system: System, mirror: Mirror) -> None:
    before = system.snapshot()
    shown = system.run("mirror")
    assert shown.returncode == 0
    assert info_fields(shown.stdout)["Version URL"] == mirror.url
    assert system.snapshot() == before
    result = system.run("mirror", "-U")
    assert result.returncode == 0
    assert "Mirror url configuration removed" in result.stdout
    assert not system.p("etc/swupd/mirror_contenturl").exists()
    assert not system.p("etc/swupd/mirror_versionurl").exists()
    again = system.run("mirror", "--unset")
    assert again.returncode == 0
    assert "No mirror url configuration to remove" in again.stdout


@pytest.mark.parametrize(
    "args",
    [("-s", "-U"), ("-s",), ("-U", "https://x.invalid"), ("-u", "https://x.invalid")],
)
def test_mirror_usage_errors(system: System, args: tuple[str, ...]) -> None:
    before = system.snapshot()
    assert system.run("mirror", *args).returncode == 15
    assert system.snapshot() == before


def test_mirror_set_when_etc_swupd_is_a_file(tmp_path: Path) -> None:
    node = System(tmp_path / "node")
    node.set_version(INSTALLED)
    node.write("etc/swupd", "not a directory")
    result = node.run("mirror", "-s", "https://m.invalid/u")
    assert result.returncode == 19
    assert "/etc/swupd: not a directory" in result.stderr


# --------------------------------------------------------------------------------------------
# autoupdate


def test_autoupdate_status_disable_enable(system: System) -> None:
    status = system.run("autoupdate")
    assert (status.returncode, status.stdout) == (0, "Enabled\n")
    disable = system.run("autoupdate", "--disable")
    assert disable.returncode == 0
    assert "out of compliance with your IT policy" in disable.stderr
    assert system.p("var/lib/swupd-stand-in/autoupdate").read_text() == "disabled\n"
    status = system.run("autoupdate")
    assert (status.returncode, status.stdout) == (1, "Disabled\n")  # SWUPD_NO
    assert system.run("autoupdate", "--enable").returncode == 0
    assert system.p("var/lib/swupd-stand-in/autoupdate").read_text() == "enabled\n"
    assert system.run("autoupdate").returncode == 0


def test_autoupdate_enable_and_disable_together(system: System) -> None:
    result = system.run("autoupdate", "--enable", "--disable")
    assert result.returncode == 15
    assert not system.p("var/lib/swupd-stand-in/autoupdate").exists()


# --------------------------------------------------------------------------------------------
# bundle payloads: Debian packages that stand in for a bundle's content, installed with apt-get
# (here a recording fake of apt-get on PATH: these tests never install anything)

APT_PROXY = "http://apt-proxy.invalid:3142"
ARMORED_KEY = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQGNBGZ0ZXN0a2V5\n=abcd\n"
    "-----END PGP PUBLIC KEY BLOCK-----\n"
)
RECORDING_FAKE_APT_GET = """\
#!/bin/sh
# recording fake of apt-get (unit test): one JSON line per call, with argv and the environment
# that matters; exits 100 (as apt-get does on errors) for the subcommand in $FAKE_APT_GET_FAIL.
"$FAKE_APT_GET_PYTHON" - "$@" <<'PY'
import json, os, sys
with open(os.environ["FAKE_APT_GET_RECORD"], "a") as out:
    out.write(json.dumps({"argv": sys.argv[1:],
                          "frontend": os.environ.get("DEBIAN_FRONTEND")}) + "\\n")
PY
case " $* " in *" ${FAKE_APT_GET_FAIL:-none} "*)
  echo "E: Unable to locate package (recording fake)" >&2; exit 100;; esac
exit 0
"""


class PayloadSystem(System):
    """A System whose mirror gives containers-basic and cloud-native-basic Debian payloads,
    with a recording fake of apt-get first on PATH."""

    def __init__(self, root: Path, bin_dir: Path, record: Path) -> None:
        super().__init__(root)
        self.env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_APT_GET_RECORD": str(record),
            "FAKE_APT_GET_PYTHON": PYTHON,
        }
        self.record = record

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return super().run(*args, env={**self.env, **(env or {})})

    def apt_calls(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]


def _options(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-o"]


@pytest.fixture
def payload_mirror(http_server: tuple[Path, str]) -> Mirror:
    serve_dir, base_url = http_server
    name = "p" + str(len(list(serve_dir.iterdir())))
    served = Mirror(serve_dir, base_url, name)
    repo = f"{base_url}/{name}/k8s/core:/stable:/v1.32/deb/"
    payloads = make_swupd_mirror.debian_payloads(APT_PROXY, repo)
    make_swupd_mirror.write_mirror(served.tree, VERSIONS, BUNDLES, payloads=payloads)
    key = serve_dir / name / "k8s" / "core:" / "stable:" / "v1.32" / "deb" / "Release.key"
    key.parent.mkdir(parents=True)
    key.write_text(ARMORED_KEY)
    return served


@pytest.fixture
def payload_system(tmp_path: Path, payload_mirror: Mirror) -> PayloadSystem:
    bin_dir = tmp_path / "recording-fake-apt-get-bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(RECORDING_FAKE_APT_GET)
    (bin_dir / "apt-get").chmod(0o755)
    node = PayloadSystem(tmp_path / "root", bin_dir, tmp_path / "apt-get-calls.jsonl")
    node.set_version(INSTALLED)
    node.p("usr/share/clear/bundles").mkdir(parents=True)
    node.add_bundle("os-core")
    node.set_mirror_files(payload_mirror.url)
    node.write("etc/swupd/config", "[GLOBAL]\nallow_insecure_http=true\n")
    return node


def test_write_mirror_writes_a_manifest_per_bundle_with_its_payload(tmp_path: Path) -> None:
    payloads = make_swupd_mirror.debian_payloads(APT_PROXY, "http://mirror:8080/k8s/deb")
    del payloads["cloud-native-basic"]  # no version offers it here
    make_swupd_mirror.write_mirror(tmp_path, [10, 20], {10: [], 20: ["containers-basic"]},
                                   payloads=payloads)  # fmt: skip
    core = json.loads((tmp_path / "10/Manifest.os-core").read_text())
    assert (core["format"], core["bundle"], core["apt"]) == (
        "swupd-stand-in-bundle/1",
        "os-core",
        None,
    )
    assert not (tmp_path / "10/Manifest.containers-basic").exists()
    docker = json.loads((tmp_path / "20/Manifest.containers-basic").read_text())
    assert docker["apt"] == {"packages": ["docker.io"], "proxy": APT_PROXY}
    assert "stand in" in docker["stand_in"]


def test_debian_payloads_pin_the_kubernetes_stand_ins_and_add_their_repository() -> None:
    payloads = make_swupd_mirror.debian_payloads(APT_PROXY, "http://mirror:8080/k8s/v/deb")
    assert set(payloads) == {"containers-basic", "cloud-native-basic"}
    native = payloads["cloud-native-basic"]
    version = make_swupd_mirror.KUBERNETES_PACKAGE_VERSION
    assert native["packages"] == [f"kubeadm={version}", f"kubelet={version}",
                                  f"kubectl={version}", "containerd"]  # fmt: skip
    assert native["sources"] == [
        {
            "name": "kubernetes-v1.32",
            "uri": "http://mirror:8080/k8s/v/deb/",
            "suite": "/",
            "key": "http://mirror:8080/k8s/v/deb/Release.key",
        }
    ]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"packages": ["-oAPT::Get::AllowUnauthenticated=1"]}, "apt names"),
        ({"packages": []}, "apt names"),
        ({"packages": ["docker.io"], "scripts": ["rm -rf /"]}, "unknown keys"),
        ({"packages": ["docker.io"], "proxy": "mirror:3142"}, "http:// URL"),
        ({"packages": ["x"], "sources": [{"name": "../evil", "uri": "u", "key": "k"}]}, "name"),
        ({"packages": ["x"], "sources": [{"name": "k", "uri": "u"}]}, "needs key"),
        (
            {"packages": ["x"], "sources": [{"name": "k", "uri": "u", "key": "k", "suite": "a"}]},
            "flat repository",
        ),
    ],
)
def test_write_mirror_refuses_bad_payloads(tmp_path: Path, payload: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        make_swupd_mirror.write_mirror(tmp_path, [10], ["b"], payloads={"b": payload})
    with pytest.raises(ValueError, match="which no version offers"):
        make_swupd_mirror.write_mirror(tmp_path, [10], ["b"], payloads={"c": {"packages": ["x"]}})


def test_make_mirror_cli_reads_payloads(tmp_path: Path) -> None:
    payloads = tmp_path / "payloads.json"
    payloads.write_text(json.dumps({"containers-basic": {"packages": ["docker.io"]}}))
    args = ["--out", str(tmp_path / "m"), "--versions", "10", "--bundles", "containers-basic"]
    assert make_swupd_mirror.main([*args, "--payloads", str(payloads)]) == 0
    manifest = json.loads((tmp_path / "m/10/Manifest.containers-basic").read_text())
    assert manifest["apt"] == {"packages": ["docker.io"]}
    payloads.write_text('["not", "a", "mapping"]')
    assert make_swupd_mirror.main([*args, "--payloads", str(payloads)]) == 2


def test_bundle_add_installs_the_payload_with_apt_get_through_the_proxy(
    payload_system: PayloadSystem,
) -> None:
    result = payload_system.run("bundle-add", "containers-basic")
    assert result.returncode == 0, result.stderr
    assert "Successfully installed 1 bundle" in result.stdout
    assert payload_system.bundles() == ["containers-basic", "os-core"]
    calls = payload_system.apt_calls()
    assert [c["argv"][-1] for c in calls] == ["update", "docker.io"]
    update, install = (c["argv"] for c in calls)
    assert install[-3:] == ["install", "--no-install-recommends", "docker.io"]
    assert update[-2:] == ["--error-on=any", "update"]  # a source that fails fails the bundle
    assert "-y" in install and "-q" in install
    assert f"Acquire::http::Proxy={APT_PROXY}" in _options(update)
    assert _options(update) == _options(install)
    assert all(c["frontend"] == "noninteractive" for c in calls)
    # no apt source of the stand-in's own yet: nothing goes around the proxy
    assert not [o for o in _options(install) if o.endswith("=DIRECT")]


def test_bundle_add_writes_the_apt_source_and_key_that_the_payload_names(
    payload_system: PayloadSystem, payload_mirror: Mirror
) -> None:
    result = payload_system.run("bundle-add", "cloud-native-basic")
    assert result.returncode == 0, result.stderr
    name = "swupd-stand-in-kubernetes-v1.32"
    key = payload_system.p(f"etc/apt/keyrings/{name}.asc")
    assert key.read_text() == ARMORED_KEY
    base = payload_mirror.url.rsplit("/clearlinux/update", 1)[0]
    sources = payload_system.p(f"etc/apt/sources.list.d/{name}.sources").read_text()
    assert f"URIs: {base}/k8s/core:/stable:/v1.32/deb/\n" in sources
    assert "Suites: /\n" in sources and "Components" not in sources
    assert f"Signed-By: /etc/apt/keyrings/{name}.asc\n" in sources
    assert "swupd stand-in" in sources
    install = payload_system.apt_calls()[-1]["argv"]
    version = make_swupd_mirror.KUBERNETES_PACKAGE_VERSION
    assert install[-4:] == [f"kubeadm={version}", f"kubelet={version}", f"kubectl={version}",
                            "containerd"]  # fmt: skip
    # the mirror's own repository is reached directly, Debian's archive through the proxy
    assert "Acquire::http::Proxy::127.0.0.1=DIRECT" in _options(install)
    assert f"Acquire::http::Proxy={APT_PROXY}" in _options(install)


def test_an_installed_bundle_is_not_installed_again(payload_system: PayloadSystem) -> None:
    assert payload_system.run("bundle-add", "cloud-native-basic").returncode == 0
    calls = len(payload_system.apt_calls())
    sources = payload_system.p("etc/apt/sources.list.d/swupd-stand-in-kubernetes-v1.32.sources")
    mtime = sources.stat().st_mtime_ns
    again = payload_system.run("bundle-add", "cloud-native-basic")
    assert again.returncode == 0
    assert "1 bundle was already installed" in again.stdout
    assert len(payload_system.apt_calls()) == calls
    assert sources.stat().st_mtime_ns == mtime


def test_two_bundles_share_one_apt_get_update(payload_system: PayloadSystem) -> None:
    result = payload_system.run("bundle-add", "containers-basic", "cloud-native-basic")
    assert result.returncode == 0, result.stderr
    verbs = [c["argv"][-1] for c in payload_system.apt_calls()]
    assert verbs == ["update", "containerd", "docker.io"]  # cloud-native-basic sorts first
    assert payload_system.bundles() == ["cloud-native-basic", "containers-basic", "os-core"]


@pytest.mark.parametrize("failing", ["install", "update"])
def test_a_failed_apt_get_exits_28_and_leaves_no_marker(
    payload_system: PayloadSystem, failing: str
) -> None:
    result = payload_system.run("bundle-add", "containers-basic",
                                env={"FAKE_APT_GET_FAIL": failing})  # fmt: skip
    assert result.returncode == 28  # SWUPD_SUBPROCESS_ERROR
    assert "E: Unable to locate package (recording fake)" in result.stderr
    assert "bundle containers-basic not installed" in result.stderr
    assert "Failed to install 1 of 1 bundles" in result.stdout
    assert payload_system.bundles() == ["os-core"]
    # the next try runs apt-get again (nothing was recorded as installed)
    assert payload_system.run("bundle-add", "containers-basic").returncode == 0
    assert payload_system.bundles() == ["containers-basic", "os-core"]


def test_a_bundle_without_payload_installs_only_its_marker(system: System, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    bin_dir = tmp_path / "recording-fake-apt-get-bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(RECORDING_FAKE_APT_GET)
    (bin_dir / "apt-get").chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "FAKE_APT_GET_RECORD": str(record), "FAKE_APT_GET_PYTHON": PYTHON}  # fmt: skip
    assert system.run("bundle-add", "containers-basic", env=env).returncode == 0
    assert system.bundles() == ["containers-basic", "os-core"]
    assert not record.exists()


def test_a_missing_bundle_manifest_exits_14(
    payload_system: PayloadSystem, payload_mirror: Mirror
) -> None:
    (payload_mirror.tree / str(INSTALLED) / "Manifest.containers-basic").unlink()
    result = payload_system.run("bundle-add", "containers-basic")
    assert result.returncode == 14  # SWUPD_COULDNT_LOAD_MANIFEST
    assert f"Failed to retrieve {INSTALLED} containers-basic manifest" in result.stderr
    assert payload_system.bundles() == ["os-core"]
    assert payload_system.apt_calls() == []


def test_the_stand_in_refuses_a_payload_that_could_pass_options_to_apt_get(
    payload_system: PayloadSystem, payload_mirror: Mirror
) -> None:
    path = payload_mirror.tree / str(INSTALLED) / "Manifest.containers-basic"
    manifest = json.loads(path.read_text())
    manifest["apt"]["packages"] = ["docker.io", "--allow-unauthenticated"]
    path.write_text(json.dumps(manifest))
    result = payload_system.run("bundle-add", "containers-basic")
    assert result.returncode == 14
    assert "Invalid manifest" in result.stderr
    assert payload_system.apt_calls() == []


def test_an_unreadable_source_key_exits_17(
    payload_system: PayloadSystem, payload_mirror: Mirror
) -> None:
    served = payload_mirror.tree.parents[1]
    (served / "k8s/core:/stable:/v1.32/deb/Release.key").unlink()
    result = payload_system.run("bundle-add", "cloud-native-basic")
    assert result.returncode == 17  # SWUPD_COULDNT_DOWNLOAD_FILE
    assert "Failed to download the key of apt source kubernetes-v1.32" in result.stderr
    assert payload_system.bundles() == ["os-core"]
    assert payload_system.apt_calls() == []


def test_bundle_remove_drops_the_marker_and_leaves_the_packages(
    payload_system: PayloadSystem,
) -> None:
    assert payload_system.run("bundle-add", "containers-basic").returncode == 0
    calls = len(payload_system.apt_calls())
    result = payload_system.run("bundle-remove", "containers-basic")
    assert result.returncode == 0
    assert "Debian packages that a bundle's payload installed stay" in result.stdout
    assert payload_system.bundles() == ["os-core"]
    assert len(payload_system.apt_calls()) == calls  # no apt-get remove
