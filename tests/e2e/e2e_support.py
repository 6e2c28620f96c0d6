"""What the end-to-end tests share: commands inside the sandbox's containers, the upstream
registry's own log, and `dlrs-provision cluster` runs read from their --json progress."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dlrs_provision import paths

CLI = str(Path(sys.executable).parent / "dlrs-provision")
NODES = ("node1", "node2", "node3", "node4")
MIRROR = "dlrs-sandbox-mirror"


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def on(node: str, script: str, check: bool = True, stdin: str | None = None) -> str:
    """Run a shell script inside a sandbox container (checks the effect, not the role)."""
    container = node if node.startswith("dlrs-sandbox-") else f"dlrs-sandbox-{node}"
    proc = subprocess.run(
        ["docker", "exec", "-i", container, "sh", "-c", script],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{node}: {script!r} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


# --------------------------------------------------------------------------- upstream registry


@dataclass
class Request:
    method: str
    client: str  # the client's address
    uri: str
    status: int
    written: int


_FIELD = re.compile(r'(http\.[\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')


def upstream_cursor() -> str:
    """A position in the mirror registry's journal: requests after it are read later."""
    out = docker(
        "exec", MIRROR, "journalctl", "-u", "docker-registry", "-n", "0", "--show-cursor", "-o",
        "cat",
    ).stdout  # fmt: skip
    return out.strip().rsplit("-- cursor: ", 1)[-1].strip()


def upstream_requests(cursor: str) -> list[Request]:
    """Requests the upstream registry answered after the cursor (from its own log)."""
    previous: list[Request] | None = None
    for _ in range(10):  # the journal lags a little behind the last response: wait till stable
        out = docker(
            "exec", MIRROR, "journalctl", "-u", "docker-registry", "-o", "cat",
            f"--after-cursor={cursor}",
        ).stdout  # fmt: skip
        requests = []
        for line in out.splitlines():
            if 'msg="response completed"' not in line:
                continue
            fields = {k: v.strip('"') for k, v in _FIELD.findall(line)}
            requests.append(
                Request(
                    method=fields.get("http.request.method", ""),
                    client=fields.get("http.request.remoteaddr", "").rsplit(":", 1)[0],
                    uri=fields.get("http.request.uri", ""),
                    status=int(fields.get("http.response.status", "0")),
                    written=int(fields.get("http.response.written", "0")),
                )
            )
        if previous is not None and len(previous) == len(requests):
            return requests
        previous = requests
        time.sleep(1.0)
    return previous or []


# --------------------------------------------------------------------------- cluster runs


@dataclass
class ClusterRun:
    """One `dlrs-provision cluster INVENTORY --json` run: exit code and progress lines."""

    rc: int
    lines: list[dict]
    stderr: str

    @property
    def summary(self) -> dict:
        return self.lines[-1] if self.lines else {}

    @property
    def phases(self) -> list[str]:
        return [x["phase"] for x in self.lines if x["kind"] == "phase"]

    def changed(self) -> dict[str, int]:
        return {h: s["changed"] for h, s in self.summary.get("hosts", {}).items()}

    def results(self, task: str, host: str | None = None) -> list[dict]:
        """The results of every task whose name is `task` (optionally of one host)."""
        return [
            x
            for x in self.lines
            if x["kind"] == "result" and x.get("task") == task and host in (None, x.get("host"))
        ]

    def explain(self) -> str:
        """What to show when an assertion about the run fails."""
        bad = [x for x in self.lines if x.get("status") in ("failed", "unreachable", "changed")]
        return json.dumps(self.summary, indent=1) + "\n" + "\n".join(map(str, bad[-40:]))


def run_cluster(
    inventory: str,
    state: Path,
    *args: str,
    timeout: float = 2400,
    cli: str = CLI,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ClusterRun:
    proc = subprocess.run(
        [cli, "cluster", inventory, "--json", *args],
        capture_output=True,
        text=True,
        env=(os.environ if env is None else env) | {paths.STATE_ENV: str(state)},
        timeout=timeout,
        cwd=cwd,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["kind"] == "summary", proc.stdout[-3000:] + proc.stderr[-3000:]
    return ClusterRun(proc.returncode, lines, proc.stderr)


@dataclass
class Cluster:
    """The sandbox built once by `dlrs-provision cluster`, then run again (shared by modules)."""

    state: Path  # the runs' state folder (facts, the registry CA, admin.conf)
    cursor: str  # the upstream registry's journal before the first run
    cursor_between: str  # ... and between the two runs
    first: ClusterRun
    second: ClusterRun
    ca_sha256: tuple[str, str] = field(default=("", ""))  # cluster CA after each run
    # A third run, by the wheel installed outside the checkout (test_installed_wheel.py), and
    # where that Python found dlrs_provision
    from_wheel: ClusterRun | None = None
    wheel_package: str = ""
    wheel_error: str = ""  # what stopped that run before its summary


def run_cluster_from_wheel(inventory: str, state: Path, root: Path) -> tuple[ClusterRun, str]:
    """`dlrs-provision cluster` of a wheel built from this checkout and installed under root,
    run from a folder there (tests/package/package_install.py); and the package's location.

    root must be short: the run's HOME is under it, and ssh's ControlPath socket
    (~/.ansible/cp/...) must fit a Unix socket's 108 bytes, as it does for a real user."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "package"))
    from package_install import build_wheel, install

    installed = install(build_wheel(root / "build"), root / "install")
    located = subprocess.run(
        [str(installed.python), "-c", "import dlrs_provision; print(dlrs_provision.__file__)"],
        capture_output=True,
        text=True,
        cwd=installed.work,
        env=installed.env,
        check=True,
    ).stdout.strip()
    run = run_cluster(
        str(Path(inventory).resolve()),
        state,
        cli=str(installed.venv / "bin" / "dlrs-provision"),
        env=installed.env,
        cwd=installed.work,
    )
    return run, located
