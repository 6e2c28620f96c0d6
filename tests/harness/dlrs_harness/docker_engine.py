"""Make sure a Docker Engine answers on this machine, and run the docker CLI against it.

Machines of this project's kind have no systemd as PID 1 and no daemon running at start, and a
daemon killed between sessions leaves /var/run/docker.pid behind ("pid file found"). So
`ensure_docker()` installs Debian's docker.io when dockerd is missing, clears a stale pid file,
starts dockerd detached with its output in a log file, and waits (bounded) until it answers.

The docker CLI may be newer than the daemon (here: CLI 28.x in /usr/local/bin, Debian's daemon
20.10 with API 1.41). The CLI negotiates the API version by itself; should a daemon refuse the
client's version outright, DOCKER_API_VERSION is set to the version the daemon names.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dlrs_provision.errors import EnvironmentProblem

log = logging.getLogger(__name__)

Echo = Callable[[str], None]

DOCKERD_LOG = Path("/var/log/dlrs-dockerd.log")
DOCKER_PIDFILE = Path("/var/run/docker.pid")
DOCKER_ROOT = Path("/var/lib/docker")
DAEMON_JSON = Path("/etc/docker/daemon.json")
START_TIMEOUT_S = 90.0
STORAGE_DRIVER_ENV = "DLRS_DOCKER_STORAGE_DRIVER"

_TOO_NEW = re.compile(r"Maximum supported API version is ([0-9.]+)")


@dataclass(frozen=True)
class DockerInfo:
    server_version: str
    api_version: str
    storage_driver: str
    started: bool = False  # True when ensure_docker() started the daemon


class DockerCommandError(EnvironmentProblem):
    """A docker command failed; carries its output for the message."""

    def __init__(self, args: Sequence[str], returncode: int, output: str, hint: str | None = None):
        tail = _tail(output, 15)
        shown = " ".join(args[:6]) + (" ..." if len(args) > 6 else "")
        super().__init__(
            f"`{shown}` failed with exit code {returncode}" + (f":\n{tail}" if tail else ""),
            hint,
        )
        self.returncode = returncode
        self.output = output


def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        raise EnvironmentProblem(
            "the docker command is not installed",
            "as root: apt-get install -y docker.io (dlrs-provision sandbox up does it for you)",
        )
    return path


def run_docker(
    args: Sequence[str],
    *,
    input: str | bytes | None = None,
    check: bool = True,
    timeout: float | None = 120.0,
    hint: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS...` and return the finished process (text mode unless input is bytes).

    With check=True a non-zero exit raises DockerCommandError (an EnvironmentProblem)."""
    cmd = [docker_cli(), *args]
    text = not isinstance(input, bytes)
    try:
        proc = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=text,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentProblem(
            f"`docker {' '.join(args[:4])}` did not finish within {timeout:.0f} s",
            hint or f"look at the daemon's log: {DOCKERD_LOG}",
        ) from exc
    if not text:  # decode for the caller's convenience
        proc = subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
    if check and proc.returncode != 0:
        raise DockerCommandError(
            ["docker", *args], proc.returncode, proc.stderr + proc.stdout, hint
        )
    return proc


def probe() -> DockerInfo | None:
    """The daemon's version and storage driver, or None when no daemon answers."""
    if shutil.which("docker") is None:
        return None
    for _ in range(2):
        proc = run_docker(["version", "--format", "{{json .Server}}"], check=False, timeout=20)
        match = _TOO_NEW.search(proc.stderr)
        if proc.returncode != 0 and match and "DOCKER_API_VERSION" not in os.environ:
            # An old daemon that refuses to negotiate: pin the client to what it supports.
            log.info("pinning DOCKER_API_VERSION=%s for an older daemon", match.group(1))
            os.environ["DOCKER_API_VERSION"] = match.group(1)
            continue
        break
    if proc.returncode != 0 or not proc.stdout.strip() or proc.stdout.strip() == "null":
        if "permission denied" in proc.stderr.lower():
            raise EnvironmentProblem(
                "the Docker daemon runs but this user may not use it: " + proc.stderr.strip(),
                "run as root, or add this user to the docker group and log in again",
            )
        return None
    server = json.loads(proc.stdout)
    driver = run_docker(["info", "--format", "{{.Driver}}"], check=False, timeout=20)
    return DockerInfo(
        server_version=str(server.get("Version", "?")),
        api_version=str(server.get("ApiVersion", "?")),
        storage_driver=driver.stdout.strip() or "?",
    )


def ensure_docker(echo: Echo | None = None, timeout: float = START_TIMEOUT_S) -> DockerInfo:
    """Return the answering daemon's info; install and start one first when none answers."""
    say = echo or log.info
    info = probe()
    if info is not None:
        return info
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "no Docker daemon answers and only root can install or start one",
            "as root run: apt-get install -y docker.io && "
            f"(setsid dockerd >{DOCKERD_LOG} 2>&1 &), or run `sudo dlrs-provision sandbox up`",
        )
    if shutil.which("dockerd") is None:
        _install_docker_io(say)
    running = _dockerd_pids()
    if running:
        # A daemon that is still starting (or hung): wait for it instead of starting a second.
        say(f"dockerd is running (pid {running[0]}) but does not answer yet; waiting")
        return _wait_for_daemon(None, timeout, started=False)
    _remove_stale_pidfile(say)
    driver = choose_storage_driver()
    cmd = [shutil.which("dockerd") or "dockerd"]
    if driver:
        cmd += ["--storage-driver", driver]
    say(f"starting dockerd ({' '.join(cmd[1:]) or 'defaults'}); log: {DOCKERD_LOG}")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(DOCKERD_LOG, "ab") as logfile:
        # A session of its own (setsid): the daemon outlives this command and its terminal.
        daemon = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    info = _wait_for_daemon(daemon, timeout, started=True)
    say(
        f"Docker Engine {info.server_version} (API {info.api_version}) answers, "
        f"storage driver {info.storage_driver}"
    )
    return info


def choose_storage_driver() -> str | None:
    """The storage driver to start dockerd with, or None to leave it to daemon.json.

    overlay2 when the kernel can mount overlayfs on the file system that holds /var/lib/docker
    (checked with a real test mount, as dockerd itself would): it shares image layers between
    containers, so a sandbox of four hosts costs about one image on disk, and containers start in
    well under a second. On this kind of machine / is ext4 and overlayfs works, so overlay2 is
    what runs. vfs, the fallback, copies every layer in full for every container (a 160 MB base
    becomes 160 MB per layer per container) and is slow to build on, so it is used only where
    overlay cannot work: /var/lib/docker itself on overlayfs (Docker inside a container) or no
    overlay support in the kernel. Where /var/lib/docker already holds images of only one of the
    two drivers, that one is kept so that the images stay visible. DLRS_DOCKER_STORAGE_DRIVER
    overrides the choice.
    """
    forced = os.environ.get(STORAGE_DRIVER_ENV)
    if forced:
        return forced
    if DAEMON_JSON.is_file():
        try:
            if "storage-driver" in json.loads(DAEMON_JSON.read_text()):
                return None  # the site chose; passing the flag too would stop dockerd
        except (OSError, ValueError):
            pass
    used = [d for d in ("overlay2", "vfs") if _has_content(DOCKER_ROOT / d)]
    if len(used) == 1 and (used[0] == "vfs" or overlay_works()):
        return used[0]
    return "overlay2" if overlay_works() else "vfs"


def overlay_works(under: Path = DOCKER_ROOT) -> bool:
    """Can an overlayfs be mounted on the file system that holds `under`? (needs root)"""
    if _fs_type(under) == "overlay":
        return False  # overlay on overlay is refused by the kernel
    base = under if under.exists() else _existing_parent(under)
    try:
        work = Path(tempfile.mkdtemp(prefix=".dlrs-overlay-probe-", dir=base))
    except OSError:
        return False
    try:
        for name in ("lower", "upper", "work", "merged"):
            (work / name).mkdir()
        opts = f"lowerdir={work}/lower,upperdir={work}/upper,workdir={work}/work"
        mount = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", opts, str(work / "merged")],
            capture_output=True,
            timeout=20,
            check=False,
        )
        if mount.returncode != 0:
            return False
        subprocess.run(["umount", str(work / "merged")], capture_output=True, check=False)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _install_docker_io(say: Echo) -> None:
    if shutil.which("apt-get") is None:
        raise EnvironmentProblem(
            "dockerd is not installed and there is no apt-get to install it",
            "install Docker Engine with the system's package manager and start it",
        )
    say("dockerd is missing: installing Debian's docker.io (apt-get update, apt-get install)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "docker.io"],
    ):
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=900, check=False
        )
        if proc.returncode != 0:
            raise EnvironmentProblem(
                f"`{' '.join(cmd)}` failed:\n{_tail(proc.stdout + proc.stderr, 15)}",
                "check that Debian's archive is reachable, then run: apt-get install -y docker.io",
            )


def _dockerd_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "dockerd":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return sorted(pids)


def _remove_stale_pidfile(say: Echo) -> None:
    """dockerd refuses to start while its pid file names a live process ("pid file found")."""
    if not DOCKER_PIDFILE.exists():
        return
    try:
        pid = int(DOCKER_PIDFILE.read_text().strip() or "0")
    except (OSError, ValueError):
        pid = 0
    if pid and pid in _dockerd_pids():
        return
    say(f"removing stale {DOCKER_PIDFILE} (pid {pid or '?'} is no dockerd)")
    DOCKER_PIDFILE.unlink(missing_ok=True)


def _wait_for_daemon(
    daemon: subprocess.Popen[bytes] | None, timeout: float, started: bool
) -> DockerInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = probe()
        if info is not None:
            return DockerInfo(info.server_version, info.api_version, info.storage_driver, started)
        if daemon is not None and daemon.poll() is not None:
            raise EnvironmentProblem(
                f"dockerd exited with code {daemon.returncode} while starting:\n"
                + _tail(_read_log(), 12),
                f"see {DOCKERD_LOG}; after fixing the cause, run the command again",
            )
        time.sleep(0.5)
    raise EnvironmentProblem(
        f"the Docker daemon did not answer within {timeout:.0f} s:\n" + _tail(_read_log(), 12),
        f"see {DOCKERD_LOG}",
    )


def _read_log() -> str:
    try:
        return DOCKERD_LOG.read_text(errors="replace")
    except OSError:
        return ""


def _tail(text: str, lines: int) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def _has_content(path: Path) -> bool:
    try:
        return path.is_dir() and any(path.iterdir())
    except OSError:
        return False


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def _fs_type(path: Path) -> str:
    """The type of the mount that holds `path` (longest matching mount point)."""
    target = str((path if path.exists() else _existing_parent(path)).resolve())
    best, best_type = "", ""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        mount_point = fields[4].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, right.split()[0]
    return best_type
