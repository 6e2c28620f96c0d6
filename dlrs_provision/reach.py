"""Reach every inventory host over SSH before Ansible runs, and say which ones cannot be used.

The preflight phase calls check_hosts() before any playbook: each host is reached in parallel with
paramiko, its host key is checked against known_hosts, the login is tried, and two read-only
commands run on it (python3 present? passwordless sudo?). Every problem comes back as a
ReachResult with a short reason for the operator; nothing on the host is changed.

Time: `timeout` bounds the whole check of one host (TCP connect, SSH handshake, login and both
commands share one deadline). paramiko's own timeouts are set from that deadline and a watchdog
shuts the socket down shortly after it, so a host that stalls at any step cannot hang the run.
Name resolution (getaddrinfo) is the one step that has no timeout of its own; it is the
resolver's, not the host's.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hmac
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

from dlrs_provision.errors import UsageError
from dlrs_provision.report import table

log = logging.getLogger(__name__)

# paramiko's transport logs every failed handshake at ERROR, with a traceback. For this check a
# failed handshake is an expected result, reported in the table, so its log goes to a child of
# this module's logger, which drops it unless the application configured logging.
PARAMIKO_LOG = f"{__name__}.paramiko"
logging.getLogger(PARAMIKO_LOG).addHandler(logging.NullHandler())

KINDS = ("ok", "unreachable", "timeout", "auth", "hostkey", "no-python", "no-sudo", "error")

# ansible-core 2.21 refuses managed nodes older than this (ansible/module_utils/basic.py, _PY_MIN).
MIN_TARGET_PYTHON = (3, 9)

# What the operator passes to accept unknown host keys; named in the "hostkey" reasons.
TRUST_OPTION = "--trust-new-host-keys"

PYTHON_PROBE = "command -v python3 && python3 --version"
SUDO_PROBE = "LC_ALL=C sudo -n true"

SSH_CONNECTIONS = frozenset(
    {
        "ssh",
        "smart",
        "paramiko",
        "paramiko_ssh",
        "ansible.builtin.ssh",
        "ansible.legacy.ssh",
        "ansible.builtin.paramiko_ssh",
        "ansible.legacy.paramiko_ssh",
    }
)
LOCAL_CONNECTIONS = frozenset({"local", "ansible.builtin.local", "ansible.legacy.local"})

_WATCHDOG_GRACE = 0.5  # seconds after the deadline before the socket is shut down under paramiko
_MAX_OUTPUT = 64 * 1024  # bytes kept of a probe command's output
_known_hosts_lock = threading.Lock()  # appends to known_hosts files from the worker threads


@dataclass(frozen=True)
class SshTarget:
    """How to reach one inventory host. The password never shows in repr()."""

    name: str  # inventory hostname
    host: str  # ansible_host or name
    port: int = 22
    user: str | None = None  # ansible_user; None -> the current user (getpass.getuser())
    key_file: str | None = None  # ansible_ssh_private_key_file
    password: str | None = field(default=None, repr=False)  # ansible_password
    become: bool = True  # sudo will be needed (the sudo check is skipped for root)
    known_hosts: str | None = None  # a known_hosts file to check host keys against
    connection: str = "ssh"  # ansible_connection; local -> no SSH check
    has_become_password: bool = False  # a become password is supplied (its value is not kept)

    def __post_init__(self) -> None:
        if not self.name or not self.host:
            raise ValueError("SshTarget needs a name and a host")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise TypeError(f"SshTarget.port must be an int, got {type(self.port).__name__}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"SshTarget.port out of range: {self.port}")

    @property
    def address(self) -> str:
        """host:port as an operator writes it ([v6]:port for IPv6 literals)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class ReachResult:
    target: SshTarget
    ok: bool
    reason: str  # "" when ok, or a note (local connection, new host key); else what to fix
    kind: str  # one of KINDS
    seconds: float
    python: str = ""  # e.g. "Python 3.11.2" when found


class _HostKeyRejected(paramiko.SSHException):
    """Raised by the host key policy inside SSHClient.connect(); carries the operator's reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Failed(Exception):
    """One host's check stops here with this kind and reason (internal control flow)."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Public entry points


def check_hosts(
    targets: Sequence[SshTarget],
    *,
    timeout: float = 5.0,
    trust_new_host_keys: bool = False,
    max_workers: int = 32,
) -> list[ReachResult]:
    """Check every target in parallel; return one result per target, in the order given.

    A host problem is a result, never an exception. Raises only on bad arguments.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    for target in targets:
        if not isinstance(target, SshTarget):
            raise TypeError(f"expected SshTarget, got {type(target).__name__}")
    if not targets:
        return []
    workers = min(max_workers, len(targets))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dlrs-reach") as pool:
        futures = [pool.submit(_check_one, t, timeout, trust_new_host_keys) for t in targets]
        return [f.result() for f in futures]


def render_table(results: Iterable[ReachResult]) -> str:
    """A plain-text table (host, address, result, reason, time) for the command line."""
    header = ("HOST", "ADDRESS", "RESULT", "TIME", "REASON")
    rows = [
        (
            r.target.name,
            r.target.address if r.target.connection not in LOCAL_CONNECTIONS else "-",
            r.kind,
            f"{r.seconds:.1f}s",
            _one_line(r.reason) or "-",
        )
        for r in results
    ]
    return table(rows, header, rule=False)


def targets_from_hostvars(name: str, hostvars: Mapping[str, Any]) -> SshTarget:
    """Map one host's Ansible connection variables to an SshTarget.

    Where Ansible accepts several names for one setting, the later name in its list wins, as in
    ansible-core's ssh connection plugin (ansible_ssh_host over ansible_host, and so on). Raises
    UsageError for a value Ansible itself would refuse (a port that is not a number, a boolean
    that is neither true nor false).
    """
    connection = str(hostvars.get("ansible_connection") or "ssh")
    host = _last_set(hostvars, "ansible_host", "ansible_ssh_host") or name
    port_value = _last_set(hostvars, "ansible_port", "ansible_ssh_port")
    user = _last_set(hostvars, "ansible_user", "ansible_ssh_user")
    key_file = _last_set(hostvars, "ansible_private_key_file", "ansible_ssh_private_key_file")
    password = _last_set(hostvars, "ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
    become_password = _last_set(
        hostvars, "ansible_become_password", "ansible_become_pass", "ansible_sudo_pass"
    )
    become = _as_bool(name, "ansible_become", hostvars.get("ansible_become", True))
    method = str(hostvars.get("ansible_become_method") or "sudo")
    if method not in ("sudo", "ansible.builtin.sudo"):
        # Only sudo can be checked without a password prompt; other methods are left to Ansible.
        become = False
    return SshTarget(
        name=name,
        host=str(host),
        port=_as_port(name, port_value) if port_value is not None else 22,
        user=str(user) if user is not None else None,
        key_file=os.path.expanduser(str(key_file)) if key_file else None,
        password=str(password) if password is not None else None,
        become=become,
        connection=connection,
        has_become_password=become_password not in (None, ""),
    )


# --------------------------------------------------------------------------------------------
# One host


def _check_one(target: SshTarget, timeout: float, trust: bool) -> ReachResult:
    start = time.monotonic()
    python = ""
    if target.connection in LOCAL_CONNECTIONS:
        kind, reason = "ok", "local connection"
    elif target.connection not in SSH_CONNECTIONS:
        kind, reason = "ok", f"connection {target.connection!r}: not checked over SSH"
    else:
        try:
            python, reason = _probe(target, timeout, trust)
            kind = "ok"
        except _Failed as failed:
            kind, reason = failed.kind, failed.reason
    seconds = time.monotonic() - start
    reason = _scrub(reason, target)
    log.debug("reach %s (%s): %s in %.2fs %s", target.name, target.address, kind, seconds, reason)
    return ReachResult(target, kind == "ok", reason, kind, seconds, python)


def _probe(target: SshTarget, timeout: float, trust: bool) -> tuple[str, str]:
    """Returns (python version, note) when the host is usable; raises _Failed otherwise."""
    deadline = _Deadline(timeout)
    name = _host_key_name(target.host, target.port)
    files = _known_hosts_files(target)
    known = _load_known_keys(files, name)
    user = target.user or _local_user()
    pkey = _load_key(target.key_file, user) if target.key_file else None
    sock = _tcp_connect(target, deadline, timeout)
    watchdog = _Watchdog(sock, deadline.left() + _WATCHDOG_GRACE)
    client = paramiko.SSHClient()
    client.set_log_channel(PARAMIKO_LOG)
    policy = _KnownHostsPolicy(target, name, known, files, trust)
    client.set_missing_host_key_policy(policy)
    stage = "handshake"
    try:
        try:
            client.connect(
                target.host,
                port=target.port,
                username=user,
                password=target.password,
                pkey=pkey,
                sock=sock,
                timeout=deadline.left(),
                banner_timeout=deadline.left(),
                auth_timeout=deadline.left(),
                channel_timeout=deadline.left(),
                allow_agent=pkey is None,
                look_for_keys=pkey is None,
                transport_factory=lambda s, **kw: _transport(s, known, **kw),
            )
        except _HostKeyRejected as rejected:
            raise _Failed("hostkey", rejected.reason) from None
        except paramiko.AuthenticationException as exc:
            if watchdog.fired or deadline.expired():  # "Authentication timeout."
                raise
            raise _Failed("auth", _auth_reason(target, user, exc)) from None
        except paramiko.SSHException as exc:
            if str(exc) == "No authentication methods available":
                raise _Failed("auth", _auth_reason(target, user, exc)) from None
            raise
        stage = "python3 check"
        transport = client.get_transport()
        code, out = _run(transport, PYTHON_PROBE, deadline)
        python = _python_version(out) if code == 0 else None
        if python is None:
            raise _Failed(
                "no-python",
                f"python3 not found on {target.host}: install it "
                "(apt-get install python3 / dnf install python3 / swupd bundle-add python3-basic)",
            )
        found = tuple(int(n) for n in python.split()[1].split(".")[:2])
        if found < MIN_TARGET_PYTHON:
            need = ".".join(map(str, MIN_TARGET_PYTHON))
            raise _Failed(
                "no-python",
                f"{target.host} has {python}; Ansible needs Python {need} or newer on managed "
                "hosts: install a newer python3",
            )
        notes = [policy.note]
        if target.become and user != "root":
            stage = "sudo check"
            code, out = _run(transport, SUDO_PROBE, deadline)
            if code != 0:
                notes.append(_sudo_verdict(target, user, code, out))
        return python, "; ".join(n for n in notes if n)
    except _Failed:
        raise
    except Exception as exc:  # a host's failure must become its result, never end the run
        if watchdog.fired or deadline.expired() or isinstance(exc, TimeoutError):
            raise _Failed("timeout", _timeout_reason(target, stage, client, timeout)) from None
        log.debug("reach %s: %s failed", target.name, stage, exc_info=True)
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise _Failed("error", f"{stage} with {target.address} failed: {detail}") from None
    finally:
        watchdog.cancel()
        client.close()
        sock.close()


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (some containers)
        raise _Failed(
            "error", "cannot tell the local user name: set ansible_user for this host"
        ) from None


def _tcp_connect(target: SshTarget, deadline: _Deadline, timeout: float) -> socket.socket:
    addr = target.address
    try:
        return socket.create_connection((target.host, target.port), timeout=deadline.left())
    except ConnectionRefusedError:
        raise _Failed(
            "unreachable",
            f"connection refused by {addr}: is sshd running and listening on port {target.port}?",
        ) from None
    except TimeoutError:
        raise _Failed(
            "timeout",
            f"no answer from {addr} within {timeout:g}s: "
            "the host is down, or a firewall drops the traffic",
        ) from None
    except socket.gaierror as exc:
        raise _Failed(
            "unreachable", f"cannot resolve host name {target.host!r}: {exc.strerror}"
        ) from None
    except UnicodeError:
        raise _Failed("unreachable", f"{target.host!r} is not a valid host name") from None
    except OSError as exc:
        raise _Failed("unreachable", f"cannot connect to {addr}: {exc.strerror or exc}") from None


def _transport(sock: Any, known: list[_KnownKey], **kwargs: Any) -> paramiko.Transport:
    """A client Transport that asks first for the host key types known_hosts holds, as ssh does."""
    transport = paramiko.Transport(sock, **kwargs)
    opts = transport.get_security_options()
    wanted: list[str] = []
    for entry in known:
        if entry.revoked:
            continue
        types = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if entry.keytype == "ssh-rsa" else []
        wanted += types or [entry.keytype]
    first = [t for t in dict.fromkeys(wanted) if t in opts.key_types]
    if first:
        opts.key_types = first + [t for t in opts.key_types if t not in first]
    return transport


def _load_key(path: str, user: str) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise _Failed(
            "auth", f"SSH key file {path} (for user {user!r}) does not exist on this machine"
        ) from None
    except (TypeError, paramiko.PasswordRequiredException):
        # cryptography raises TypeError for an encrypted key loaded without a passphrase
        raise _Failed(
            "auth",
            f"SSH key file {path} (for user {user!r}) is protected by a passphrase: load it into "
            "ssh-agent and leave ansible_ssh_private_key_file unset, or use a key without one",
        ) from None
    except PermissionError:
        raise _Failed("auth", f"cannot read SSH key file {path}: permission denied") from None
    except (ValueError, OSError, paramiko.SSHException, paramiko.pkey.UnknownKeyType) as exc:
        detail = type(exc).__name__ if isinstance(exc, paramiko.pkey.UnknownKeyType) else exc
        raise _Failed("auth", f"cannot use SSH key file {path}: {detail}") from None


def _auth_reason(target: SshTarget, user: str, exc: Exception) -> str:
    tried = (
        f"the SSH key {target.key_file}" if target.key_file else "ssh-agent and ~/.ssh/id_* keys"
    )
    if target.password is not None:
        tried += " and the password"
    reason = f"{target.address} refused login as {user!r} with {tried}"
    if isinstance(exc, paramiko.BadAuthenticationType) and exc.allowed_types:
        reason += f" (it allows: {', '.join(exc.allowed_types)})"
    if target.key_file:
        return reason + (
            f": add {target.key_file}.pub to ~{user}/.ssh/authorized_keys on the host, "
            "or fix ansible_user / ansible_ssh_private_key_file"
        )
    return reason + ": set ansible_ssh_private_key_file or ansible_user for this host"


def _sudo_verdict(target: SshTarget, user: str, code: int, output: str) -> str:
    """Judges a failed `sudo -n true`: returns a note when the host is still usable, else raises."""
    text = output.lower()
    host = target.host
    asks_password = any(
        s in text for s in ("password is required", "terminal is required", "no tty present")
    )
    if asks_password:
        if target.has_become_password:
            return "sudo asks for a password; the become password will be used (not checked here)"
        raise _Failed(
            "no-sudo",
            f"sudo on {host} asks {user!r} for a password: allow passwordless sudo for {user} "
            "(NOPASSWD in /etc/sudoers.d/) or supply a become password "
            "(ansible_become_password, or --ask-become-pass)",
        )
    if code == 127 or "not found" in text:
        raise _Failed("no-sudo", f"sudo is not installed on {host}: install it, or log in as root")
    if any(s in text for s in ("not in the sudoers", "not allowed", "may not run sudo")):
        raise _Failed(
            "no-sudo",
            f"{user!r} may not use sudo on {host}: add {user} to the sudoers "
            "(the sudo or wheel group, or a file in /etc/sudoers.d/)",
        )
    first = _one_line(output)[:160] or "no output"
    raise _Failed("no-sudo", f"`sudo -n true` failed on {host} (exit {code}): {first}")


def _timeout_reason(target: SshTarget, stage: str, client: paramiko.SSHClient, t: float) -> str:
    addr = target.address
    if stage == "handshake":
        transport = client.get_transport()
        if transport is None or not transport.remote_version:
            return (
                f"{addr} accepted the connection but sent no SSH greeting within {t:g}s: "
                "is sshd stalled, or is another service listening on that port?"
            )
        return f"SSH handshake or login with {addr} did not finish within {t:g}s"
    return f"the {stage} on {addr} did not finish within {t:g}s"


def _run(transport: paramiko.Transport, command: str, deadline: _Deadline) -> tuple[int, str]:
    """Runs one command; returns (exit status, stdout and stderr together). -1: no status."""
    chan = transport.open_session(timeout=deadline.left())
    try:
        chan.set_combine_stderr(True)
        chan.settimeout(deadline.left())
        chan.exec_command(command)
        data = bytearray()
        while True:
            chan.settimeout(deadline.left())
            chunk = chan.recv(4096)
            if not chunk:
                break
            if len(data) < _MAX_OUTPUT:
                data += chunk
        if not chan.status_event.wait(deadline.left()):
            raise TimeoutError(command)
        return chan.exit_status, data.decode("utf-8", "replace")
    finally:
        chan.close()


_PYTHON_VERSION = re.compile(r"^Python (3\.\d+(?:\.\d+)?\S*)\s*$", re.MULTILINE)


def _python_version(output: str) -> str | None:
    match = _PYTHON_VERSION.search(output)
    return f"Python {match.group(1)}" if match else None


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(self.end - time.monotonic(), 0.001)

    def expired(self) -> bool:
        return time.monotonic() >= self.end


class _Watchdog:
    """Shuts the socket down at a deadline, which wakes every paramiko wait that has none."""

    def __init__(self, sock: socket.socket, delay: float):
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(delay, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):  # already closed: nothing left to wake
            self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


# --------------------------------------------------------------------------------------------
# known_hosts


@dataclass(frozen=True)
class _KnownKey:
    path: str
    line: int
    keytype: str
    blob: bytes
    revoked: bool = False


def _host_key_name(host: str, port: int) -> str:
    """The name ssh looks up in known_hosts: host, or [host]:port off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def _user_known_hosts() -> str:
    return os.path.expanduser("~/.ssh/known_hosts")


def _known_hosts_files(target: SshTarget) -> list[str]:
    """The target's own file first (it receives new keys), then ~/.ssh/known_hosts if it exists."""
    files = []
    if target.known_hosts:
        files.append(os.path.expanduser(target.known_hosts))
    user_file = _user_known_hosts()
    if os.path.isfile(user_file) and all(
        os.path.realpath(f) != os.path.realpath(user_file) for f in files
    ):
        files.append(user_file)
    return files


def _load_known_keys(files: list[str], name: str) -> list[_KnownKey]:
    found: list[_KnownKey] = []
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue  # the target's own file may not exist yet: it is created on first trust
        except OSError as exc:
            raise _Failed("error", f"cannot read known_hosts file {path}: {exc.strerror}") from None
        found += _parse_known_hosts(path, text, name)
    return found


def _parse_known_hosts(path: str, text: str, name: str) -> list[_KnownKey]:
    """The entries of one known_hosts file that apply to `name`, with their line numbers.

    paramiko reads each line (HostKeyEntry: names, key type, key) and matches hashed names
    (HostKeys.hash_host). Added here is only what paramiko's HostKeys does not know: OpenSSH's
    markers (@revoked, @cert-authority) and its * ? ! patterns, the line of each entry (the
    message says which line to remove), and keys of a type paramiko cannot load (they still
    mean the host has a key on record, so trust must not add another).
    """
    entries = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        marker = ""
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
        fields = line.split()
        if len(fields) < 3 or marker == "@cert-authority" or not _hosts_match(fields[0], name):
            continue
        try:
            entry = HostKeyEntry.from_line(" ".join(fields[:3]), lineno)
        except InvalidHostKey:
            log.debug("%s line %d: key is not base64, ignored", path, lineno)
            continue
        if entry is not None:
            keytype, blob = entry.key.get_name(), entry.key.asbytes()
        else:  # a key type paramiko cannot load
            keytype, blob = fields[1], base64.b64decode(fields[2])
        entries.append(_KnownKey(path, lineno, keytype, blob, marker == "@revoked"))
    return entries


def _hosts_match(patterns: str, name: str) -> bool:
    """OpenSSH's rules: a hashed name, or comma-separated patterns with * ? and ! negation."""
    name = name.lower()
    if patterns.startswith("|1|"):
        try:
            mine = paramiko.HostKeys.hash_host(name, patterns)
        except (AssertionError, ValueError, IndexError):  # a salt that is not 20 bytes of base64
            return False
        return hmac.compare_digest(mine.encode(), patterns.encode())
    matched = False
    for pattern in patterns.lower().split(","):
        negated = pattern.startswith("!")
        if _glob(pattern.lstrip("!"), name):
            if negated:
                return False
            matched = True
    return matched


def _glob(pattern: str, name: str) -> bool:
    # Only * and ? are special: [ ] are literal ([host]:port), unlike fnmatch.
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, name) is not None


class _KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Checks the server's key against the known_hosts entries found before connecting.

    SSHClient is given no host keys of its own, so it hands every key to this policy, which
    knows the file and line of each entry and can therefore say which line to remove.
    """

    def __init__(
        self, target: SshTarget, name: str, known: list[_KnownKey], files: list[str], trust: bool
    ):
        self.target = target
        self.name = name
        self.known = known
        self.files = files
        self.trust = trust
        self.note = ""

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        keytype, blob = key.get_name(), key.asbytes()
        shown = f"{keytype} {key.fingerprint}"
        name = self.name
        for entry in self.known:
            if entry.revoked and entry.blob == blob:
                raise _HostKeyRejected(
                    f"the host key of {name} ({shown}) is marked @revoked in {entry.path} "
                    f"line {entry.line}: do not connect until the host has a new key"
                )
        usable = [e for e in self.known if not e.revoked]
        if any(e.keytype == keytype and e.blob == blob for e in usable):
            return
        same_type = [e for e in usable if e.keytype == keytype]
        if same_type:
            entry = same_type[0]
            raise _HostKeyRejected(
                f"the host key of {name} has CHANGED: possible man-in-the-middle attack, or the "
                f"host was reinstalled. It now presents {shown}; {entry.path} line {entry.line} "
                f"holds another key. If the change is expected, remove line {entry.line} of "
                f"{entry.path} (ssh-keygen -f {entry.path} -R '{name}') and re-run"
            )
        if usable:
            entry = usable[0]
            raise _HostKeyRejected(
                f"{name} presented a {shown} host key but {entry.path} line {entry.line} "
                f"records a {entry.keytype} key for it, which the host no longer offers: "
                f"possible man-in-the-middle attack. If the host was reinstalled, remove line "
                f"{entry.line} of {entry.path} (ssh-keygen -f {entry.path} -R '{name}') and re-run"
            )
        target_file = self.files[0] if self.target.known_hosts else _user_known_hosts()
        if not self.trust:
            searched = ", ".join(self.files) or _user_known_hosts()
            raise _HostKeyRejected(
                f"the host key of {name} ({shown}) is unknown (not in {searched}): re-run with "
                f"{TRUST_OPTION} to accept and record it, or record it yourself after checking "
                f"the fingerprint: ssh-keyscan -p {self.target.port} {self.target.host} "
                f">> {target_file}"
            )
        _append_known_host(target_file, name, key)
        self.note = f"new host key {shown} recorded in {target_file}"
        log.info("recorded the host key of %s (%s) in %s", name, shown, target_file)


def _append_known_host(path: str, name: str, key: paramiko.PKey) -> None:
    line = HostKeyEntry([name], key).to_line()
    with _known_hosts_lock:
        try:
            file = Path(path)
            file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            existing = file.read_bytes() if file.exists() else b""
            entries = _parse_known_hosts(path, existing.decode("utf-8", "replace"), name)
            if any(e.keytype == key.get_name() and e.blob == key.asbytes() for e in entries):
                return  # another worker recorded the same host a moment ago
            if any(e.keytype == key.get_name() for e in entries):
                raise _HostKeyRejected(
                    f"the host key of {name} changed while it was being recorded in {path}: "
                    "check the host, then re-run"
                )
            prefix = "\n" if existing and not existing.endswith(b"\n") else ""
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(prefix + line)
        except OSError as exc:
            raise _HostKeyRejected(
                f"cannot record the host key of {name} in {path}: {exc.strerror or exc}"
            ) from None


# --------------------------------------------------------------------------------------------
# Small helpers


def _scrub(text: str, target: SshTarget) -> str:
    if target.password and target.password in text:
        text = text.replace(target.password, "********")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _last_set(hostvars: Mapping[str, Any], *names: str) -> Any:
    value = None
    for key in names:
        if hostvars.get(key) is not None:
            value = hostvars[key]
    return value


_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}


def _as_bool(host: str, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"host {host}: {key} is {value!r}", hint=f"set {key} to true or false")


def _as_port(host: str, value: Any) -> int:
    try:
        port = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise UsageError(
            f"host {host}: ansible_port is {value!r}", hint="use a port number from 1 to 65535"
        )
    return port
