"""The preflight reachability check, against real SSH servers on 127.0.0.1.

The servers are paramiko's own server side (ServerInterface + Transport in server mode) running
in threads: a generated host key, one accepted client key, and exec requests answered from a
table the test controls. Nothing here mocks paramiko; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
import pytest

from dlrs_provision import reach
from dlrs_provision.errors import UsageError
from dlrs_provision.reach import (
    ReachResult,
    SshTarget,
    check_hosts,
    render_table,
    targets_from_hostvars,
)

LOOPBACK = "127.0.0.1"
PASSWORD = "pw-Zq81-never-shown"
# Answers that make the server stall: never reply to the exec request (the server's transport
# thread is stuck, so only the client's watchdog can end the wait), or reply and send nothing.
HANG_REQUEST = "hang at the exec request"
HANG_OUTPUT = "hang before any output"


# --------------------------------------------------------------------------------------------
# A small SSH server


def accept_until(listener: socket.socket, stop: threading.Event, handle) -> None:
    """Hand each connection the listener accepts to handle(conn), until stop is set or the
    listener is closed (its 0.1 s timeout lets the loop look at stop)."""
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        handle(conn)


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: FakeSshd, requests: queue.Queue):
        self.server = server
        self.requests = requests

    def get_allowed_auths(self, username):
        return "publickey,password"

    def check_auth_publickey(self, username, key):
        if key.asbytes() == self.server.client_key.asbytes():
            self.server.users.append(username)
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        if self.server.answer(command.decode()) == HANG_REQUEST:
            self.server.stopping.wait(5)
            return False
        self.requests.put((channel, command.decode()))
        return True


@dataclass
class FakeSshd:
    """An SSH server on 127.0.0.1 that answers exec requests from `answers`.

    answers maps a word found in the command ("python3", "sudo") to (exit status, output).
    """

    host_key: paramiko.PKey
    client_key: paramiko.PKey
    answers: dict[str, tuple[int, str] | str] = field(
        default_factory=lambda: {
            "python3": (0, "/usr/bin/python3\nPython 3.11.2\n"),
            "sudo": (0, ""),
        }
    )
    commands: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)

    def start(self) -> FakeSshd:
        self.stopping = threading.Event()
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self._threads[0].start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._listener.close()

    def _accept_loop(self) -> None:
        accept_until(self._listener, self.stopping, self._start_serving)

    def _start_serving(self, conn: socket.socket) -> None:
        thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _serve(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.set_log_channel("tests.fake_sshd")
        transport.add_server_key(self.host_key)
        requests: queue.Queue = queue.Queue()
        try:
            transport.start_server(server=_Interface(self, requests))
            while transport.is_active() and not self.stopping.is_set():
                try:
                    channel, command = requests.get(timeout=0.05)
                except queue.Empty:
                    continue
                # The exec request's "success" reply is sent by the transport thread right after
                # check_channel_exec_request() returns. A global request answered by the client
                # is processed after it, so once it is back the reply is out: only then send the
                # output, as sshd does.
                transport.global_request("sync@dlrs-test", wait=True)
                self.commands.append(command)
                answer = self.answer(command)
                if answer == HANG_OUTPUT:
                    self.stopping.wait(5)
                    continue
                status, output = answer
                channel.sendall(output.encode())
                channel.send_exit_status(status)
                channel.close()
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()

    def answer(self, command: str) -> tuple[int, str] | str:
        for word, answer in self.answers.items():
            if word in command:
                return answer
        return 127, f"sh: 1: {command.split()[0]}: not found\n"


class StalledServer:
    """Accepts TCP connections and never says a word; records when each came and went."""

    def __init__(self, greeting: bytes = b""):
        self.greeting = greeting
        self.visits: list[tuple[float, float]] = []
        self._gone = threading.Condition()
        self._stop = threading.Event()
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        accept_until(self._listener, self._stop, self._start_holding)

    def _start_holding(self, conn: socket.socket) -> None:
        threading.Thread(target=self._hold, args=(conn, time.monotonic()), daemon=True).start()

    def _hold(self, conn: socket.socket, came: float) -> None:
        conn.settimeout(0.1)
        with conn:
            conn.sendall(self.greeting)
            while not self._stop.is_set():
                try:
                    if not conn.recv(4096):  # the client's banner, then nothing until it hangs up
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        with self._gone:
            self.visits.append((came, time.monotonic()))
            self._gone.notify_all()

    def wait_for_visits(self, count: int) -> list[tuple[float, float]]:
        """The visits, once `count` clients have hung up (this thread may see it a bit late)."""
        with self._gone:
            self._gone.wait_for(lambda: len(self.visits) >= count, timeout=5)
            return list(self.visits)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._listener.close()


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def keys() -> dict[str, paramiko.PKey]:
    return {
        "host": paramiko.ECDSAKey.generate(),
        "other_host": paramiko.ECDSAKey.generate(),
        "client": paramiko.ECDSAKey.generate(),
        "stranger": paramiko.ECDSAKey.generate(),
    }


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Path:
    """No real ~/.ssh, no ssh-agent: only what each test writes."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def sshd(keys):
    servers = []

    def make() -> FakeSshd:
        server = FakeSshd(keys["host"], keys["client"]).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def stalled():
    servers = []

    def make(greeting: bytes = b"") -> StalledServer:
        servers.append(StalledServer(greeting))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def client_key_file(tmp_path, keys) -> str:
    path = tmp_path / "id_ecdsa"
    keys["client"].write_private_key_file(str(path))
    return str(path)


def known_hosts_for(path: Path, port: int, key: paramiko.PKey, *, before: str = "") -> str:
    path.write_text(f"{before}[{LOOPBACK}]:{port} {key.get_name()} {key.get_base64()}\n")
    return str(path)


def target_for(port: int, key_file: str | None, known_hosts: str | None, **kw) -> SshTarget:
    kw.setdefault("user", "deploy")
    return SshTarget(
        name=f"node-{port}",
        host=LOOPBACK,
        port=port,
        key_file=key_file,
        known_hosts=known_hosts,
        **kw,
    )


def check_one(target: SshTarget, **kw) -> ReachResult:
    kw.setdefault("timeout", 3.0)
    (result,) = check_hosts([target], **kw)
    return result


def free_port() -> int:
    with socket.create_server((LOOPBACK, 0)) as sock:
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Reaching a host


def test_good_host_is_ok_with_its_python_version(sshd, keys, client_key_file, tmp_path):
    server = sshd()
    known = known_hosts_for(tmp_path / "known_hosts", server.port, keys["host"])

    result = check_one(target_for(server.port, client_key_file, known))

    assert (result.ok, result.kind, result.reason) == (True, "ok", "")
    assert result.python == "Python 3.11.2"
    assert server.users == ["deploy"]
    assert [c for c in server.commands if "python3" in c] and [
        c for c in server.commands if "sudo -n" in c
    ]


def test_closed_port_is_unreachable_and_says_connection_refused(client_key_file):
    port = free_port()

    result = check_one(target_for(port, client_key_file, None), timeout=5.0)

    assert result.kind == "unreachable" and not result.ok
    assert "refused" in result.reason and f"{LOOPBACK}:{port}" in result.reason
    assert result.seconds < 1.0


def test_port_that_never_sends_a_banner_times_out_within_the_timeout(stalled, client_key_file):
    server = stalled()

    result = check_one(target_for(server.port, client_key_file, None), timeout=0.5)

    assert result.kind == "timeout" and not result.ok
    assert "no SSH greeting" in result.reason and f"{LOOPBACK}:{server.port}" in result.reason
    assert result.seconds < 0.5 + 1.0  # the timeout, plus the watchdog's grace at worst


def test_hosts_that_stall_later_time_out_at_each_step(
    sshd, stalled, keys, client_key_file, tmp_path
):
    after_banner = stalled(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    at_exec, at_output = sshd(), sshd()
    at_exec.answers["python3"] = HANG_REQUEST
    at_output.answers["sudo"] = HANG_OUTPUT
    known = tmp_path / "known_hosts"
    known.write_text(
        "".join(
            f"[{LOOPBACK}]:{s.port} {keys['host'].get_name()} {keys['host'].get_base64()}\n"
            for s in (at_exec, at_output)
        )
    )
    targets = [
        target_for(after_banner.port, client_key_file, None),
        target_for(at_exec.port, client_key_file, str(known)),
        target_for(at_output.port, client_key_file, str(known)),
    ]

    results = check_hosts(targets, timeout=1.0)

    assert [r.kind for r in results] == ["timeout", "timeout", "timeout"]
    assert "did not finish within 1s" in results[0].reason
    assert "python3 check" in results[1].reason
    assert "sudo check" in results[2].reason
    assert all(r.seconds < 1.0 + 1.0 for r in results)


def test_wrong_key_is_auth_naming_the_user_and_the_key_file(sshd, keys, tmp_path):
    server = sshd()
    known = known_hosts_for(tmp_path / "known_hosts", server.port, keys["host"])
    wrong = tmp_path / "id_wrong"
    keys["stranger"].write_private_key_file(str(wrong))

    result = check_one(target_for(server.port, str(wrong), known))

    assert result.kind == "auth"
    assert "'deploy'" in result.reason and str(wrong) in result.reason
    assert server.commands == []


def test_no_key_at_all_is_auth_pointing_at_the_key_setting(sshd, keys, tmp_path):
    server = sshd()
    known = known_hosts_for(tmp_path / "known_hosts", server.port, keys["host"])

    result = check_one(target_for(server.port, None, known))  # no agent, empty ~/.ssh

    assert result.kind == "auth"
    assert "ssh-agent" in result.reason and "ansible_ssh_private_key_file" in result.reason


def test_missing_key_file_is_auth_naming_the_file(sshd, keys, tmp_path):
    server = sshd()
    known = known_hosts_for(tmp_path / "known_hosts", server.port, keys["host"])
    missing = str(tmp_path / "no_such_key")

    result = check_one(target_for(server.port, missing, known))

    assert result.kind == "auth" and missing in result.reason and "does not exist" in result.reason


# --------------------------------------------------------------------------------------------
# Host keys


def test_unknown_host_key_without_trust_fails_with_the_fix(sshd, client_key_file, tmp_path):
    server = sshd()
    known = tmp_path / "known_hosts"

    result = check_one(target_for(server.port, client_key_file, str(known)))

    assert result.kind == "hostkey"
    assert reach.TRUST_OPTION in result.reason and "ssh-keyscan" in result.reason
    assert not known.exists()
    assert server.users == []  # never logged in to a host it could not identify


def test_unknown_host_key_with_trust_is_ok_and_recorded(sshd, keys, client_key_file, tmp_path):
    server = sshd()
    known = tmp_path / "known_hosts"
    target = target_for(server.port, client_key_file, str(known))

    result = check_one(target, trust_new_host_keys=True)

    assert result.ok and result.kind == "ok" and str(known) in result.reason
    line = f"[{LOOPBACK}]:{server.port} {keys['host'].get_name()} {keys['host'].get_base64()}"
    assert known.read_text().splitlines() == [line]
    # The recorded key now passes without trust, and is not written twice.
    again = check_one(target)
    assert again.ok and again.reason == ""
    assert known.read_text().splitlines() == [line]


def test_trust_without_a_known_hosts_file_records_in_the_users_file(
    sshd, keys, client_key_file, isolated_home
):
    server = sshd()

    result = check_one(target_for(server.port, client_key_file, None), trust_new_host_keys=True)

    assert result.ok
    user_file = isolated_home / ".ssh" / "known_hosts"
    assert keys["host"].get_base64() in user_file.read_text()
    assert check_one(target_for(server.port, client_key_file, None)).ok


def test_changed_host_key_fails_even_with_trust_and_names_file_and_line(
    sshd, keys, client_key_file, tmp_path
):
    server = sshd()
    comments = "# lab hosts\n# rack 4\n"
    known = known_hosts_for(tmp_path / "kh", server.port, keys["other_host"], before=comments)
    before = Path(known).read_text()

    result = check_one(target_for(server.port, client_key_file, known), trust_new_host_keys=True)

    assert result.kind == "hostkey" and not result.ok
    assert "CHANGED" in result.reason and "man-in-the-middle" in result.reason
    assert f"line 3 of {known}" in result.reason
    assert Path(known).read_text() == before
    assert server.users == []


def test_changed_key_in_the_users_file_is_found_there(sshd, keys, client_key_file, isolated_home):
    server = sshd()
    ssh_dir = isolated_home / ".ssh"
    ssh_dir.mkdir()
    user_file = known_hosts_for(ssh_dir / "known_hosts", server.port, keys["other_host"])

    result = check_one(target_for(server.port, client_key_file, None), trust_new_host_keys=True)

    assert result.kind == "hostkey" and f"line 1 of {user_file}" in result.reason


def test_key_of_another_type_on_record_is_not_replaced_by_trust(
    sshd, keys, client_key_file, tmp_path
):
    server = sshd()
    p384 = paramiko.ECDSAKey.generate(bits=384)
    known = known_hosts_for(tmp_path / "kh", server.port, p384)

    result = check_one(target_for(server.port, client_key_file, known), trust_new_host_keys=True)

    assert result.kind == "hostkey" and "ecdsa-sha2-nistp384" in result.reason
    assert keys["host"].get_base64() not in Path(known).read_text()


def test_hashed_known_hosts_entry_is_recognised(sshd, keys, client_key_file, tmp_path):
    server = sshd()
    hashed = paramiko.HostKeys.hash_host(f"[{LOOPBACK}]:{server.port}")
    known = tmp_path / "kh"
    known.write_text(f"{hashed} {keys['host'].get_name()} {keys['host'].get_base64()}\n")

    assert check_one(target_for(server.port, client_key_file, str(known))).ok


def test_known_hosts_lines_are_read_with_markers_patterns_and_their_line_numbers():
    """paramiko reads the lines; markers, patterns and line numbers are reach's own part."""
    blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    hashed = paramiko.HostKeys.hash_host("[node1]:2222")
    text = "\n".join(
        [
            "# comment",
            f"@cert-authority *.example.com ssh-ed25519 {blob}",
            f"@revoked [node1]:2222 ssh-ed25519 {blob}",
            f"{hashed} ssh-ed25519 {blob}",
            f"*.lab,!bad.lab ssh-ed25519 {blob}",
            "[node1]:2222 ssh-ed25519 not-base64!",
            f"[node1]:2222 sk-ssh-ed25519@openssh.com {blob}",
            f"node1 ssh-ed25519 {blob}",
        ]
    )
    found = reach._parse_known_hosts("kh", text, "[node1]:2222")
    assert [(e.line, e.keytype, e.revoked) for e in found] == [
        (3, "ssh-ed25519", True),
        (4, "ssh-ed25519", False),
        (7, "sk-ssh-ed25519@openssh.com", False),
    ]
    assert found[0].blob == found[1].blob
    assert [e.line for e in reach._parse_known_hosts("kh", text, "a.lab")] == [5]
    assert reach._parse_known_hosts("kh", text, "bad.lab") == []
    assert [e.line for e in reach._parse_known_hosts("kh", text, "NODE1")] == [8]


# --------------------------------------------------------------------------------------------
# python3 and sudo on the host


@pytest.fixture
def known_server(sshd, keys, tmp_path):
    server = sshd()
    known = known_hosts_for(tmp_path / "known_hosts", server.port, keys["host"])
    return server, known


def test_missing_python3_is_no_python_with_install_hint(known_server, client_key_file):
    server, known = known_server
    server.answers["python3"] = (1, "")

    result = check_one(target_for(server.port, client_key_file, known))

    assert result.kind == "no-python" and not result.ok
    assert "python3 not found on 127.0.0.1" in result.reason
    assert "apt-get install python3" in result.reason and "dnf install python3" in result.reason


def test_python_older_than_ansible_supports_is_no_python(known_server, client_key_file):
    server, known = known_server
    server.answers["python3"] = (0, "/usr/bin/python3\nPython 3.6.8\n")

    result = check_one(target_for(server.port, client_key_file, known))

    assert result.kind == "no-python" and "Python 3.6.8" in result.reason


def test_user_outside_sudoers_is_no_sudo(known_server, client_key_file):
    server, known = known_server
    server.answers["sudo"] = (1, "deploy is not in the sudoers file.\n")

    result = check_one(target_for(server.port, client_key_file, known))

    assert result.kind == "no-sudo" and not result.ok
    assert "'deploy' may not use sudo" in result.reason
    assert result.python == ""


def test_sudo_asking_for_a_password_is_no_sudo_without_a_become_password(
    known_server, client_key_file
):
    server, known = known_server
    server.answers["sudo"] = (1, "sudo: a password is required\n")

    result = check_one(target_for(server.port, client_key_file, known))

    assert result.kind == "no-sudo"
    assert "passwordless sudo" in result.reason and "become password" in result.reason


def test_sudo_asking_for_a_password_is_ok_when_a_become_password_is_given(
    known_server, client_key_file
):
    server, known = known_server
    server.answers["sudo"] = (1, "sudo: a password is required\n")

    result = check_one(target_for(server.port, client_key_file, known, has_become_password=True))

    assert result.ok and "become password will be used" in result.reason


def test_root_skips_the_sudo_check(known_server, client_key_file):
    server, known = known_server
    server.answers["sudo"] = (1, "sudo: a password is required\n")

    result = check_one(target_for(server.port, client_key_file, known, user="root"))

    assert result.ok and server.users == ["root"]
    assert not any("sudo" in c for c in server.commands)


def test_become_false_skips_the_sudo_check(known_server, client_key_file):
    server, known = known_server
    server.answers["sudo"] = (1, "deploy is not in the sudoers file.\n")

    assert check_one(target_for(server.port, client_key_file, known, become=False)).ok
    assert not any("sudo" in c for c in server.commands)


# --------------------------------------------------------------------------------------------
# Many hosts


def test_hosts_are_checked_in_parallel_and_stalled_ones_time_out(
    known_server, stalled, client_key_file
):
    server, known = known_server
    stuck = [stalled() for _ in range(3)]
    targets = [target_for(server.port, client_key_file, known)]
    targets += [target_for(s.port, client_key_file, None) for s in stuck]

    results = check_hosts(targets, timeout=2.0)

    assert [r.target for r in results] == targets
    assert [r.kind for r in results] == ["ok", "timeout", "timeout", "timeout"]
    visits = [visit for s in stuck for visit in s.wait_for_visits(1)]
    assert len(visits) == 3
    # Every stalled host was still being waited on when the last one was reached.
    assert max(came for came, _ in visits) < min(went for _, went in visits)


def test_results_keep_the_order_of_the_targets(known_server, client_key_file):
    server, known = known_server
    closed = free_port()
    targets = [
        target_for(closed, client_key_file, None),
        target_for(server.port, client_key_file, known),
        SshTarget(name="controller", host="localhost", connection="local"),
    ]

    results = check_hosts(targets, max_workers=2)

    assert [r.target.name for r in results] == [t.name for t in targets]
    assert [r.kind for r in results] == ["unreachable", "ok", "ok"]


def test_no_targets_gives_no_results():
    assert check_hosts([]) == []


def test_bad_arguments_are_programming_errors():
    with pytest.raises(ValueError):
        check_hosts([], timeout=0)
    with pytest.raises(ValueError):
        check_hosts([], max_workers=0)
    with pytest.raises(ValueError):
        SshTarget(name="n", host="h", port=0)


# --------------------------------------------------------------------------------------------
# Secrets


def test_password_never_appears_in_repr_reasons_or_logs(
    known_server, client_key_file, tmp_path, keys, caplog
):
    server, known = known_server
    wrong = tmp_path / "id_wrong"
    keys["stranger"].write_private_key_file(str(wrong))
    targets = [
        target_for(server.port, str(wrong), known, password=PASSWORD),  # refused: auth
        target_for(server.port, client_key_file, known, password=PASSWORD),  # ok
        target_for(free_port(), client_key_file, None, password=PASSWORD),  # refused
        target_for(server.port, client_key_file, None, password=PASSWORD),  # hostkey
    ]
    caplog.set_level(logging.DEBUG)

    results = check_hosts(targets)

    assert [r.kind for r in results] == ["auth", "ok", "unreachable", "hostkey"]
    assert "the password" in results[0].reason
    for result in results:
        assert PASSWORD not in result.reason
        assert PASSWORD not in repr(result) and PASSWORD not in repr(result.target)
    assert PASSWORD not in render_table(results)
    assert PASSWORD not in caplog.text


# --------------------------------------------------------------------------------------------
# Inventory variables and the table


def test_hostvars_map_to_a_target():
    target = targets_from_hostvars(
        "node1",
        {
            "ansible_host": "10.0.0.5",
            "ansible_port": "2222",
            "ansible_user": "ops",
            "ansible_ssh_private_key_file": "~/keys/lab",
            "ansible_ssh_pass": PASSWORD,
            "ansible_become": "no",
        },
    )

    assert (target.name, target.host, target.port, target.user) == (
        "node1",
        "10.0.0.5",
        2222,
        "ops",
    )
    assert target.key_file is not None and target.key_file.endswith("/keys/lab")
    assert not target.key_file.startswith("~")
    assert target.password == PASSWORD and target.become is False
    assert PASSWORD not in repr(target)


def test_hostvars_defaults_use_the_inventory_name_and_need_sudo():
    target = targets_from_hostvars("node2", {})

    assert (target.host, target.port, target.user, target.key_file) == ("node2", 22, None, None)
    assert target.become is True and target.has_become_password is False


def test_hostvars_later_alias_wins_as_in_ansible():
    target = targets_from_hostvars(
        "n", {"ansible_host": "a", "ansible_ssh_host": "b", "ansible_become_pass": "x"}
    )

    assert target.host == "b" and target.has_become_password


def test_hostvars_bad_values_are_usage_errors():
    with pytest.raises(UsageError, match="ansible_port"):
        targets_from_hostvars("n", {"ansible_port": "ssh"})
    with pytest.raises(UsageError, match="ansible_become"):
        targets_from_hostvars("n", {"ansible_become": "maybe"})


def test_local_connection_is_ok_without_ssh():
    target = targets_from_hostvars("controller", {"ansible_connection": "local"})

    (result,) = check_hosts([target])

    assert (result.ok, result.kind, result.reason) == (True, "ok", "local connection")


def test_table_lists_host_address_result_and_reason(client_key_file):
    port = free_port()
    results = check_hosts(
        [
            target_for(port, client_key_file, None),
            SshTarget(name="controller", host="localhost", connection="local"),
        ]
    )

    lines = render_table(results).splitlines()

    assert lines[0].split() == ["HOST", "ADDRESS", "RESULT", "TIME", "REASON"]
    assert lines[1].split()[:3] == [f"node-{port}", f"{LOOPBACK}:{port}", "unreachable"]
    assert "connection refused" in lines[1]
    assert lines[2].split()[:3] == ["controller", "-", "ok"]
    assert lines[2].endswith("local connection")
