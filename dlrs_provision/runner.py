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

import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
    stopped_by: str = ""  # SIGINT or SIGTERM when the run was stopped by a signal

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


def _message(res: dict[str, Any], status: str = "", stdout: str = "") -> str:
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if not msg and res.get("censored"):
        msg = _censored_message(status, stdout)
    if isinstance(msg, list):
        msg = "; ".join(str(m) for m in msg)
    return " ".join(str(msg).split())[:400]


def _censored_message(status: str, stdout: str) -> str:
    """What a `no_log: true` result may still say. Its `res` holds nothing but the notice; for a
    host that could not be reached, Ansible prints the connection error itself (an `[ERROR]:`
    line of the event's output, about SSH, never the task's data): that is the reason. A failed
    task's output stays hidden: it may hold the secret no_log protects."""
    if status == "unreachable":
        # `fatal: [node3 -> node1]: UNREACHABLE!`: the task ran on another host (delegate_to)
        delegate = re.search(r"^fatal: \[[^\]]*? -> ([^\]]+)\]: UNREACHABLE", stdout, re.M)
        who = f"{delegate.group(1)} (delegated to)" if delegate else "the host"
        for line in stdout.splitlines():
            text = line.strip()
            if text.startswith("[ERROR]:"):
                return f"{who} could not be reached: {text.removeprefix('[ERROR]:').strip()}"
        return f"{who} could not be reached (the task's output is hidden: no_log)"
    return "the task failed; its output is hidden (no_log: it may hold a secret)"


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
                self._result(kind, data, str(event.get("stdout", "")))
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

    def _result(self, kind: str, data: dict[str, Any], stdout: str = "") -> None:
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
            message=_message(res, status, stdout)
            if status in ("failed", "unreachable") or is_note
            else "",
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


# The environment Ansible runs with is chosen by an allow-list: these names from the
# controller's environment, the LC_* locale, proxies without credentials, and the ANSIBLE_*
# settings the toolkit or ansible-runner set for the run. Anything else (cloud keys, tokens,
# passwords under any name) stays out of Ansible and out of the run's artifacts.
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
    # which CA bundle and Docker daemon a task on the controller (connection local) uses
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "DOCKER_HOST",
    "DOCKER_API_VERSION",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    paths.STATE_ENV,
}
_KEEP_PREFIXES = ("LC_",)
_PROXIES = {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
# ANSIBLE_* settings an operator may give from outside: where files are (the vault password
# file, the SSH key), who to connect as. Never a password or token itself.
_USER_ANSIBLE = {
    "ANSIBLE_VAULT_PASSWORD_FILE",
    "ANSIBLE_VAULT_IDENTITY_LIST",
    "ANSIBLE_PRIVATE_KEY_FILE",
    "ANSIBLE_REMOTE_USER",
    "ANSIBLE_BECOME_PASSWORD_FILE",
    "ANSIBLE_CONNECTION_PASSWORD_FILE",
    "ANSIBLE_SSH_CONTROL_PATH_DIR",
    "ANSIBLE_LOCAL_TEMP",
    "ANSIBLE_REMOTE_TEMP",
    "ANSIBLE_HOME",
    "ANSIBLE_FORKS",
    "ANSIBLE_TIMEOUT",
}


def _proxy_has_credentials(value: str) -> bool:
    return "@" in value


def filter_env(
    env: dict[str, str], set_for_run: frozenset[str] | set[str] = frozenset()
) -> dict[str, str]:
    """The environment Ansible runs with, by allow-list (see _KEEP): what it needs, nothing else.

    `set_for_run` names the variables the toolkit (ansible_env) and ansible-runner set for this
    run (ANSIBLE_*, RUNNER_*, AWX_*): those are kept whatever their name.
    """
    out = {}
    for key, value in env.items():
        if key in set_for_run:
            out[key] = value
        elif key in _PROXIES:
            if not _proxy_has_credentials(value):
                out[key] = value
        elif key in _KEEP or key in _USER_ANSIBLE or key.startswith(_KEEP_PREFIXES):
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
        # jsonfile, writing each host's facts 0600 (ansible_plugins/cache/dlrs_facts.py)
        "ANSIBLE_CACHE_PLUGIN": "dlrs_facts",
        "ANSIBLE_CACHE_PLUGINS": str(paths.CACHE_PLUGINS),
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(paths.facts_dir(inventory)),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "86400",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        # an inventory without workers is a single-node cluster, not a mistake
        "ANSIBLE_HOST_PATTERN_MISMATCH": "ignore",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }


class _UnsafeDumper(yaml.SafeDumper):
    """Every string as `!unsafe '...'`: Ansible keeps it as text and never templates it."""


def _unsafe_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", value, style="'")


_UnsafeDumper.add_representer(str, _unsafe_str)


def unsafe_vars_text(values: dict[str, Any]) -> str:
    """Variables as YAML for `-e @file`, each string (at any depth) tagged !unsafe.

    Values from the command line (a benchmark option, a git ref) reach the play as the literal
    text: `{{ lookup('pipe', ...) }}` in one is a string, not a template run on the controller.
    """
    for key in values:
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"extra variable name {key!r} is not an identifier")
    return yaml.dump(values, Dumper=_UnsafeDumper, default_flow_style=False, allow_unicode=True)


def write_unsafe_vars(path: Path, values: dict[str, Any]) -> Path:
    """Write unsafe_vars_text(values) to `path`, readable by this user only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(unsafe_vars_text(values))
    return path


class _StopOnSignal:
    """While a playbook runs, SIGINT (Ctrl-C) and SIGTERM stop it whole: ansible-runner's cancel
    callback answers True, and it kills ansible-playbook's process group (the forks and their
    SSH connections with it). Without this, the signal ends this process only and Ansible goes
    on changing hosts with nobody watching, after the run lock was released. Handlers are only
    installed in the main thread (signal's rule); elsewhere the callback never fires."""

    def __init__(self) -> None:
        self.signal_name = ""
        self._killed = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._stop)
        return self

    def _stop(self, signum: int, _frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name

    def requested(self) -> bool:
        if self.signal_name and not self._killed:
            # ansible-runner kills ansible-playbook's process group; its workers each run in a
            # session of their own (ansible-core's WorkerProcess calls setsid), and would wait
            # out their task: they go first, while ansible-playbook still holds them as children
            self._killed = True
            _kill_descendant_groups()
        return bool(self.signal_name)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def _kill_descendant_groups() -> None:
    """SIGKILL the process group of every descendant of this process that leads one of its own
    (read from /proc: Linux, the controller's OS; elsewhere nothing is done)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            # the fields after the command name, which is in parentheses and may hold spaces
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    mine, found = os.getpgid(0), {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    for pid in found - {os.getpid()}:
        with contextlib.suppress(OSError):
            group = os.getpgid(pid)
            if group == pid and group != mine:
                os.killpg(group, signal.SIGKILL)


def run_playbook(opts: RunOptions, emit: Callable[[Progress], None]) -> RunResult:
    """Run one playbook; emit progress as it goes; return the per-host outcome."""
    try:
        import ansible_runner.interface
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise EnvironmentProblem(
            f"ansible-runner is not importable: {exc}", "reinstall with `make venv`"
        ) from None
    inventory = opts.inventory.resolve()
    paths.ensure_state(inventory)
    runs = paths.runs_dir(inventory)
    ident = time.strftime("%Y%m%d-%H%M%S") + f"-{opts.playbook.stem}"
    n = 1
    while (runs / ident).exists():
        n += 1
        ident = ident.split("+")[0] + f"+{n}"
    paths.private_dir(runs / ident / "env")
    if opts.extravars:
        # ansible-runner gives env/extravars to ansible-playbook as `-e @file`; written here,
        # every string in it is tagged !unsafe so that no value becomes a template
        write_unsafe_vars(runs / ident / "env" / "extravars", opts.extravars)
    translator = _EventTranslator(emit)
    cmdline = []
    if opts.check:
        cmdline.append("--check")
    stop = _StopOnSignal()
    runner = ansible_runner.interface.init_runner(
        private_data_dir=str(runs / ident),
        artifact_dir=str(runs),
        ident=ident,
        playbook=str(opts.playbook.resolve()),
        inventory=str(inventory),
        envvars=ansible_env(inventory, opts.trust_new_host_keys),
        limit=opts.limit,
        cmdline=" ".join(cmdline) or None,
        verbosity=opts.verbosity or None,
        timeout=opts.timeout,
        fact_cache_type="per-inventory",  # not "jsonfile": we set the cache's location ourselves
        event_handler=translator,
        cancel_callback=stop.requested,
        quiet=True,
        rotate_artifacts=0,
    )
    # ansible-runner hands Ansible a copy of our whole environment and writes it to the
    # artifacts (the `command` file). Keep only what Ansible needs, before anything is written.
    ours = ansible_env(inventory, opts.trust_new_host_keys)
    set_for_run = {k for k, v in runner.config.env.items() if k in ours or os.environ.get(k) != v}
    runner.config.env = filter_env(runner.config.env, set_for_run)
    with stop:
        runner.run()
    return RunResult(
        status=runner.status,
        rc=runner.rc if runner.rc is not None else 1,
        artifact_dir=Path(runner.config.artifact_dir),
        hosts=translator.hosts,
        stopped_by=stop.signal_name,
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
    if result.stopped_by:
        lines.append(
            f"the run was stopped by {result.stopped_by}: Ansible was stopped with it, and a "
            "host may be half way through a task of the phase it was in"
        )
    if not result.ok:
        if not result.hosts and not result.stopped_by:
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
