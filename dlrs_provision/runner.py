"""Drive Ansible through ansible-runner's Python API and turn its events into progress.

ansible-runner decides several things on its own unless told otherwise; here each is set on
purpose:

- host key checking stays ON (runner turns it off); `trust_new_host_keys` accepts the key of a
  host seen for the first time (ssh's accept-new), a changed key still fails;
- the fact cache is one per inventory (runner keeps one per run), so `plan` and later runs
  see what preflight found;
- the stdout display is ours: runner's own output is suppressed, its event stream is turned into
  per-host, per-phase lines (or JSON lines), and every run's artifacts stay in the state folder.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrs_provision import paths
from dlrs_provision.errors import EnvironmentProblem

SSH_ARGS = "-C -o ControlMaster=auto -o ControlPersist=60s"

STATUS_OF_EVENT = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
    "runner_item_on_failed": None,  # the task's own event reports the result
    "runner_on_async_failed": "failed",
}


@dataclass(frozen=True)
class Progress:
    """One step of a run, as shown to the operator."""

    kind: str  # "phase" | "task" | "result" | "warning"
    phase: str = ""
    task: str = ""
    host: str = ""
    status: str = ""  # ok | changed | failed | unreachable | skipped (for "result")
    message: str = ""

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in self.__dict__.items() if v != ""}, sort_keys=True)


@dataclass
class HostSummary:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    # The failure that stopped the host, for the summary: the last one seen, so that a block whose
    # rescue ends in the role's own message shows that message, not the rescued command's error.
    failure: Progress | None = None

    @property
    def state(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"


@dataclass
class RunResult:
    status: str  # successful | failed | timeout | canceled
    rc: int
    artifact_dir: Path
    hosts: dict[str, HostSummary] = field(default_factory=dict)

    def output_tail(self, n: int = 12) -> list[str]:
        """The last lines Ansible printed (for failures before any task ran)."""
        try:
            text = (self.artifact_dir / "stdout").read_text(errors="replace")
        except OSError:
            return []
        return [ln for ln in text.splitlines() if ln.strip()][-n:]

    @property
    def ok(self) -> bool:
        return self.rc == 0 and all(h.state in ("ok", "changed") for h in self.hosts.values())


@dataclass
class RunOptions:
    inventory: Path
    playbook: Path
    trust_new_host_keys: bool = False
    limit: str | None = None
    check: bool = False
    extravars: dict[str, Any] = field(default_factory=dict)
    verbosity: int = 0
    timeout: int | None = None


def _message(res: dict[str, Any]) -> str:
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if isinstance(msg, list):
        msg = "; ".join(str(m) for m in msg)
    return " ".join(str(msg).split())[:400]


class _EventTranslator:
    """Turns ansible-runner events into Progress items and per-host counts."""

    def __init__(self, emit: Callable[[Progress], None]):
        self.emit = emit
        self.phase = ""
        self.hosts: dict[str, HostSummary] = {}
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {}) or {}
        with self.lock:
            if kind == "playbook_on_play_start":
                self.phase = data.get("play", "") or data.get("name", "")
                self.emit(Progress("phase", phase=self.phase))
            elif kind == "playbook_on_task_start":
                self.emit(Progress("task", phase=self.phase, task=data.get("task", "")))
            elif STATUS_OF_EVENT.get(kind):
                self._result(kind, data)
            elif kind == "warning":
                self.emit(
                    Progress(
                        "warning",
                        phase=self.phase,
                        message=" ".join(str(event.get("stdout", "")).split()),
                    )
                )
            elif kind == "playbook_on_stats":
                self._stats(data)
        return True  # keep the event in the artifacts

    def _result(self, kind: str, data: dict[str, Any]) -> None:
        host = data.get("host", "")
        res = data.get("res", {}) or {}
        status = STATUS_OF_EVENT[kind]
        if status == "ok" and res.get("changed"):
            status = "changed"
        if status == "failed" and data.get("ignore_errors"):
            status = "ok"
        # a debug task's message is meant for the operator (no_log results carry none)
        is_note = data.get("resolved_action") == "ansible.builtin.debug" and status == "ok"
        item = Progress(
            "result",
            phase=self.phase,
            task=data.get("task", ""),
            host=host,
            status=status,
            message=_message(res) if status in ("failed", "unreachable") or is_note else "",
        )
        summary = self.hosts.setdefault(host, HostSummary())
        if status in ("failed", "unreachable"):
            summary.failure = item
        self.emit(item)

    def _stats(self, data: dict[str, Any]) -> None:
        for key, attr in (
            ("ok", "ok"),
            ("changed", "changed"),
            ("failures", "failed"),
            ("dark", "unreachable"),
            ("skipped", "skipped"),
        ):
            for host, count in (data.get(key) or {}).items():
                setattr(self.hosts.setdefault(host, HostSummary()), attr, int(count))


_KEEP = {
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TMPDIR",
    "TZ",
    "SHELL",
    "SSH_AUTH_SOCK",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "ORIGINAL_STDOUT_CALLBACK",
    "AD_HOC_COMMAND_ID",
    paths.STATE_ENV,
}
_KEEP_PREFIXES = ("ANSIBLE_", "AWX_", "RUNNER_", "LC_")
_PROXIES = {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
_SECRET_WORDS = ("PASS", "TOKEN", "SECRET", "CREDENTIAL")


def filter_env(env: dict[str, str]) -> dict[str, str]:
    """The environment Ansible runs with: what it needs, and nothing that may hold a secret.

    Kept: locale, paths, the SSH agent socket, ANSIBLE_* settings (except any whose name says
    password, token or secret and is not a *_FILE path), and proxies without credentials.
    """
    out = {}
    for key, value in env.items():
        if key in _PROXIES:
            if "@" not in value:
                out[key] = value
            continue
        if key.startswith(_KEEP_PREFIXES):
            if any(w in key.upper() for w in _SECRET_WORDS) and not key.endswith("_FILE"):
                continue
            out[key] = value
        elif key in _KEEP:
            out[key] = value
    return out


def ansible_env(inventory: Path, trust_new_host_keys: bool = False) -> dict[str, str]:
    """The environment every Ansible run of this toolkit gets (runner or ansible-playbook)."""
    root = paths.repo_root()
    ssh_args = SSH_ARGS + (" -o StrictHostKeyChecking=accept-new" if trust_new_host_keys else "")
    # ansible-playbook from the same environment as this package, whatever PATH says
    bindir = str(Path(sys.executable).parent)
    return {
        "PATH": os.pathsep.join([bindir, os.environ.get("PATH", os.defpath)]),
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(paths.roles_dir()),
        "ANSIBLE_FILTER_PLUGINS": str(paths.FILTER_PLUGINS),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": ssh_args,
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(paths.facts_dir(inventory)),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "86400",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        # an inventory without workers is a single-node cluster, not a mistake
        "ANSIBLE_HOST_PATTERN_MISMATCH": "ignore",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }


def run_playbook(opts: RunOptions, emit: Callable[[Progress], None]) -> RunResult:
    """Run one playbook; emit progress as it goes; return the per-host outcome."""
    try:
        import ansible_runner.interface
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise EnvironmentProblem(
            f"ansible-runner is not importable: {exc}", "reinstall with `make venv`"
        ) from None
    inventory = opts.inventory.resolve()
    runs = paths.runs_dir(inventory)
    runs.mkdir(parents=True, exist_ok=True)
    paths.facts_dir(inventory).mkdir(parents=True, exist_ok=True)
    ident = time.strftime("%Y%m%d-%H%M%S") + f"-{opts.playbook.stem}"
    n = 1
    while (runs / ident).exists():
        n += 1
        ident = ident.split("+")[0] + f"+{n}"
    (runs / ident).mkdir()
    translator = _EventTranslator(emit)
    cmdline = []
    if opts.check:
        cmdline.append("--check")
    runner = ansible_runner.interface.init_runner(
        private_data_dir=str(runs / ident),
        artifact_dir=str(runs),
        ident=ident,
        playbook=str(opts.playbook.resolve()),
        inventory=str(inventory),
        envvars=ansible_env(inventory, opts.trust_new_host_keys),
        extravars=opts.extravars or None,
        limit=opts.limit,
        cmdline=" ".join(cmdline) or None,
        verbosity=opts.verbosity or None,
        timeout=opts.timeout,
        fact_cache_type="per-inventory",  # not "jsonfile": we set the cache's location ourselves
        event_handler=translator,
        quiet=True,
        rotate_artifacts=0,
    )
    # ansible-runner hands Ansible a copy of our whole environment and writes it to the
    # artifacts (the `command` file). Keep only what Ansible needs, before anything is written.
    runner.config.env = filter_env(runner.config.env)
    runner.run()
    return RunResult(
        status=runner.status,
        rc=runner.rc if runner.rc is not None else 1,
        artifact_dir=Path(runner.config.artifact_dir),
        hosts=translator.hosts,
    )


# --------------------------------------------------------------------------- display


class TerminalProgress:
    """Prints progress for a person: one line per phase, per failed or changed result."""

    def __init__(self, write: Callable[[str], None], verbose: bool = False):
        self.write = write
        self.verbose = verbose

    def __call__(self, item: Progress) -> None:
        if item.kind == "phase":
            self.write(f"== {item.phase}")
        elif item.kind == "task" and self.verbose:
            self.write(f"   - {item.task}")
        elif item.kind == "result":
            if item.status in ("ok", "skipped") and not self.verbose and not item.message:
                return
            line = f"   {item.status:<11} {item.host:<16} {item.task}"
            if item.message:
                line += f"\n               {item.message}"
            self.write(line)
        elif item.kind == "warning":
            self.write(f"   warning: {item.message}")


class JsonProgress:
    def __init__(self, write: Callable[[str], None]):
        self.write = write

    def __call__(self, item: Progress) -> None:
        self.write(item.to_json())


def render_summary(result: RunResult, resume: str) -> str:
    from dlrs_provision.report import table

    rows = [
        [host, h.state, h.ok, h.changed, h.failed, h.unreachable, h.skipped]
        for host, h in sorted(result.hosts.items())
    ]
    header = ["host", "state", "ok", "changed", "failed", "unreachable", "skipped"]
    lines = [table(rows, header, right={2, 3, 4, 5, 6}, rule=False)]
    failed = {n: h for n, h in result.hosts.items() if h.state in ("failed", "unreachable")}
    for host, h in sorted(failed.items()):
        if h.failure:
            lines.append(
                f"{host}: {h.failure.status} in phase '{h.failure.phase}', task "
                f"'{h.failure.task}': {h.failure.message or 'no message'}"
            )
    if not result.ok:
        if not result.hosts:
            lines.append(
                f"the run ended with status {result.status} (rc {result.rc}) before "
                "any host ran a task; Ansible said:"
            )
            lines += ["  " + ln for ln in result.output_tail()]
        lines.append(f"artifacts: {result.artifact_dir}")
        lines.append(f"to resume after fixing the cause, run: {resume}")
        lines.append("  (every phase is idempotent: what already finished is not done again)")
    else:
        lines.append(f"artifacts: {result.artifact_dir}")
    return "\n".join(lines)
