"""The runner against real ansible-runner runs on this machine (connection local, or SSH to a
closed 127.0.0.1 port for the unreachable case)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dlrs_provision import paths, plan, runner
from dlrs_provision.facts import cached_facts_file
from dlrs_provision.inventory import load

LOCAL = """\
all:
  children:
    masters:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.STATE_ENV, str(tmp_path / "state"))
    return tmp_path / "state"


def run(tmp_path: Path, playbook: Path, inventory_text: str = LOCAL, **kw):
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory_text)
    events: list[runner.Progress] = []
    result = runner.run_playbook(
        runner.RunOptions(inventory=inv, playbook=playbook, **kw), events.append
    )
    return result, events


def book(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "book.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_preflight_on_localhost_caches_facts_and_tuning(tmp_path, state):
    result, events = run(tmp_path, paths.playbook("preflight.yml"))
    assert result.ok, runner.render_summary(result, "resume")
    assert result.hosts["localhost"].state == "ok"
    assert result.hosts["localhost"].changed == 0  # preflight changes nothing
    assert [e.phase for e in events if e.kind == "phase"] == ["Preflight", "Preflight verdict"]
    tasks = {e.task for e in events if e.kind == "result" and e.host == "localhost"}
    assert "Compute the TensorFlow tuning of this host" in tasks
    # artifacts of the run are kept, under the inventory's state folder
    assert result.artifact_dir.parent == state / "runs"
    assert list((result.artifact_dir / "job_events").glob("*.json"))
    # facts persist per inventory, not per run, and plan reads the tuning from them
    assert cached_facts_file(state / "facts", "localhost") is not None
    hp = plan.build(load(tmp_path / "hosts.yml")).hosts[0]
    assert hp.tuning is not None and hp.tuning["num_inter_threads"] >= 1


def test_failure_is_reported_with_task_message_and_resume(tmp_path, state):
    playbook = book(
        tmp_path,
        """\
        - name: Phase demo
          hosts: all
          gather_facts: false
          tasks:
            - name: Fine step
              ansible.builtin.command: "true"
              changed_when: true
            - name: Broken step
              ansible.builtin.fail:
                msg: the disk is full
        """,
    )
    result, _events = run(tmp_path, playbook)
    assert not result.ok
    summary = result.hosts["localhost"]
    assert (summary.state, summary.failed, summary.changed) == ("failed", 1, 1)
    assert summary.failure.task == "Broken step" and summary.failure.phase == "Phase demo"
    text = runner.render_summary(result, "dlrs-provision cluster hosts.yml")
    assert "the disk is full" in text
    assert "to resume after fixing the cause, run: dlrs-provision cluster hosts.yml" in text


def test_summary_names_the_rescue_s_own_message_not_the_rescued_command(tmp_path, state):
    playbook = book(
        tmp_path,
        """\
        - name: Phase demo
          hosts: all
          gather_facts: false
          tasks:
            - name: Join
              block:
                - name: Run the join command
                  ansible.builtin.command: "false"
                  changed_when: false
              rescue:
                - name: Explain the failed join
                  ansible.builtin.fail:
                    msg: the join was refused; run kubeadm reset -f, then resume
        """,
    )
    result, _events = run(tmp_path, playbook)
    assert not result.ok
    failure = result.hosts["localhost"].failure
    assert failure.task == "Explain the failed join"
    assert "kubeadm reset -f" in runner.render_summary(result, "resume")


def test_unreachable_host_is_reported(tmp_path, state):
    with socket.socket() as s:  # a port on this machine that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inv = f"""\
all:
  children:
    masters:
      hosts:
        gone: {{ansible_host: 127.0.0.1, ansible_port: {port}, ansible_user: nobody}}
"""
    playbook = book(
        tmp_path,
        """\
        - name: Ping
          hosts: all
          gather_facts: false
          tasks:
            - name: Ping
              ansible.builtin.ping:
        """,
    )
    result, events = run(tmp_path, playbook, inv)
    assert result.hosts["gone"].state == "unreachable"
    assert any(e.status == "unreachable" and "refused" in e.message.lower() for e in events)


def test_unreachable_delegate_of_a_no_log_task_is_named_with_ansible_s_reason(tmp_path, state):
    """A no_log task delegated to a host that is gone (the master lost while a worker asks it
    for a join token): the result is censored, yet the summary names the connection error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inv = f"""\
all:
  children:
    masters:
      hosts:
        gone: {{ansible_host: 127.0.0.1, ansible_port: {port}, ansible_user: nobody}}
    workers:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
"""
    playbook = book(
        tmp_path,
        """\
        - name: Join
          hosts: workers
          gather_facts: false
          tasks:
            - name: Make a token on the master
              ansible.builtin.command: echo secret-token
              delegate_to: gone
              no_log: true
              changed_when: false
        """,
    )
    result, events = run(tmp_path, playbook, inv)
    failure = result.hosts["localhost"].failure
    assert failure is not None and failure.status == "unreachable", events
    assert failure.message.startswith("gone (delegated to) could not be reached: "), failure
    assert "ssh" in failure.message.lower(), failure
    assert "secret-token" not in failure.message


def test_failed_no_log_task_says_its_output_is_hidden(tmp_path, state):
    playbook = book(
        tmp_path,
        """\
        - name: Secret
          hosts: all
          gather_facts: false
          tasks:
            - name: Fail with a secret
              ansible.builtin.command: sh -c 'echo secret-token >&2; exit 3'
              no_log: true
              changed_when: false
        """,
    )
    result, _ = run(tmp_path, playbook)
    failure = result.hosts["localhost"].failure
    assert failure is not None and failure.status == "failed"
    assert "hidden" in failure.message and "secret-token" not in failure.message


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_toolkit_stops_ansible_too(tmp_path, state, signum):
    """`kill` or Ctrl-C stops the whole run: no ansible-playbook (nor its task) goes on
    changing hosts after the toolkit ended and released its lock."""
    marker = f"dlrs-stop-test-{os.getpid()}-{signum}"
    playbook = book(
        tmp_path,
        f"""\
        - name: Long
          hosts: all
          gather_facts: false
          tasks:
            - name: Sleep long
              ansible.builtin.command: sh -c "sleep 600; true" {marker}
              changed_when: false
        """,
    )
    inv = tmp_path / "hosts.yml"
    inv.write_text(LOCAL)
    script = textwrap.dedent(
        f"""\
        import sys
        from pathlib import Path
        from dlrs_provision import runner
        def emit(item):
            print(item.to_json(), flush=True)
        result = runner.run_playbook(
            runner.RunOptions(inventory=Path({str(inv)!r}), playbook=Path({str(playbook)!r})),
            emit,
        )
        print(runner.render_summary(result, "resume-command"), flush=True)
        sys.exit(0 if result.ok else 1)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(state)},
    )
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if '"task": "Sleep long"' in line:
                break
        # the task's own process is running before the signal comes
        for _ in range(600):
            if _processes(marker):
                break
            time.sleep(0.1)
        assert _processes(marker), "".join(seen)
        proc.send_signal(signum)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        # the task's own process is the host's (on a remote host it runs on there, as with
        # Ctrl-C in ansible-playbook): it ends by itself; here the test ends it
        subprocess.run(["pkill", "-f", marker], check=False)
    output = "".join(seen) + rest
    assert proc.returncode == 1, output
    assert f"stopped by {signal.Signals(signum).name}" in output, output
    assert "resume-command" in output
    # Ansible on the controller is gone: no ansible-playbook of this run, no fork of it
    left = _processes(f"ansible-playbook.*{playbook}")
    ps = subprocess.run(
        ["ps", "-ww", "-o", "pid,ppid,pgid,stat,args", "-p", ",".join(left) or "1"],
        capture_output=True,
        text=True,
    ).stdout
    assert left == [], output + ps


def _processes(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [p for p in found.stdout.split() if int(p) != os.getpid()]


def test_host_key_checking_is_on_and_trust_is_explicit(tmp_path, state):
    env = runner.ansible_env(tmp_path / "hosts.yml")
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "accept-new" not in env["ANSIBLE_SSH_ARGS"]
    trusting = runner.ansible_env(tmp_path / "hosts.yml", trust_new_host_keys=True)
    assert "StrictHostKeyChecking=accept-new" in trusting["ANSIBLE_SSH_ARGS"]
    assert env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] == str(state / "facts")


def test_ansible_runner_keeps_our_settings(tmp_path, state):
    """What the playbook itself sees: host key checking on, our fact cache, not runner's."""
    playbook = book(
        tmp_path,
        """\
        - name: Settings
          hosts: all
          gather_facts: false
          tasks:
            - name: Report settings
              ansible.builtin.debug:
                msg: "{{ lookup('ansible.builtin.config', 'HOST_KEY_CHECKING') }}
                  {{ lookup('ansible.builtin.env', 'ANSIBLE_CACHE_PLUGIN_CONNECTION') }}"
        """,
    )
    result, _ = run(tmp_path, playbook)
    assert result.ok
    events = [json.loads(p.read_text()) for p in (result.artifact_dir / "job_events").glob("*")]
    msgs = [
        e["event_data"]["res"]["msg"]
        for e in events
        if e.get("event") == "runner_on_ok" and "msg" in e["event_data"].get("res", {})
    ]
    assert msgs and msgs[0].split() == ["True", str(state / "facts")]


def test_no_log_secrets_stay_out_of_progress_and_artifacts(tmp_path, state, monkeypatch):
    """A secret reaching Ansible at run time (read from a file, as a join token would be) and
    used in no_log tasks appears nowhere: not in the progress, the summary or any artifact file.
    The controller's environment holds a secret too: it must not be copied into the artifacts
    (ansible-runner writes the environment it passes to Ansible into `command`)."""
    secret = "s3cr3t-join-token-7f2a"
    (tmp_path / "token").write_text(secret)
    monkeypatch.setenv("REGISTRY_PASSWORD", secret)
    monkeypatch.setenv("ANSIBLE_NET_PASSWORD", secret)
    playbook = book(
        tmp_path,
        f"""\
        - name: Secrets
          hosts: all
          gather_facts: false
          vars:
            token: "{{{{ lookup('ansible.builtin.file', '{tmp_path / "token"}') }}}}"
          tasks:
            - name: Use a token
              ansible.builtin.command: "echo {{{{ token }}}}"
              changed_when: false
              no_log: true
            - name: Join with a token that the other side refuses
              ansible.builtin.shell: "echo 'token {{{{ token }}}} refused' >&2; exit 1"
              changed_when: false
              no_log: true
        """,
    )
    result, events = run(tmp_path, playbook)
    assert not result.ok
    failure = result.hosts["localhost"].failure
    assert failure.task == "Join with a token that the other side refuses"
    assert all(secret not in e.to_json() for e in events)
    for path in result.artifact_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    assert secret not in runner.render_summary(result, "resume")


def test_environment_filter_keeps_what_ansible_needs():
    env = runner.filter_env(
        {
            "PATH": "/bin",
            "SSH_AUTH_SOCK": "/tmp/agent",
            "LC_ALL": "C.UTF-8",
            "ANSIBLE_CONFIG": "/x/ansible.cfg",
            "ANSIBLE_VAULT_PASSWORD_FILE": "/x/vault-pass",
            "ANSIBLE_NET_PASSWORD": "p",
            "ANSIBLE_BECOME_PASS": "p",
            "ANSIBLE_SOMETHING_NEW": "x",
            "AWS_SECRET_ACCESS_KEY": "k",
            "DLRS_REGISTRY_PASSWORD": "p",
            "MY_API_KEY": "k",
            "http_proxy": "http://proxy:3128",
            "https_proxy": "http://user:pw@proxy:3128",
            "GITHUB_TOKEN": "t",
            "RUNNER_OMIT_EVENTS": "False",
        },
        {"ANSIBLE_CONFIG", "RUNNER_OMIT_EVENTS"},
    )
    assert env == {
        "PATH": "/bin",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "LC_ALL": "C.UTF-8",
        "ANSIBLE_CONFIG": "/x/ansible.cfg",
        "ANSIBLE_VAULT_PASSWORD_FILE": "/x/vault-pass",
        "http_proxy": "http://proxy:3128",
        "RUNNER_OMIT_EVENTS": "False",
    }


def test_ansible_sees_only_allowed_variables(tmp_path, state, monkeypatch):
    """An allow-list, not a deny-list: a variable whose name says nothing secret (MY_API_KEY),
    or an ANSIBLE_* setting of the operator's shell that the toolkit does not set, does not reach
    the play; the toolkit's own settings and the locale do."""
    monkeypatch.setenv("MY_API_KEY", "k-7f2a")
    monkeypatch.setenv("ANSIBLE_SOMETHING_NEW", "x-7f2a")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    playbook = book(
        tmp_path,
        """\
        - name: Environment
          hosts: all
          gather_facts: false
          tasks:
            - name: Report the environment
              ansible.builtin.debug:
                msg: "{{ lookup('ansible.builtin.env', 'MY_API_KEY', default='-') }}
                  {{ lookup('ansible.builtin.env', 'ANSIBLE_SOMETHING_NEW', default='-') }}
                  {{ lookup('ansible.builtin.env', 'LC_ALL', default='-') }}
                  {{ lookup('ansible.builtin.env', 'ANSIBLE_CACHE_PLUGIN', default='-') }}"
        """,
    )
    result, events = run(tmp_path, playbook)
    assert result.ok
    notes = [e.message for e in events if e.kind == "result" and e.message]
    assert notes and notes[0].split() == ["-", "-", "C.UTF-8", "dlrs_facts"]
    command = json.loads((result.artifact_dir / "command").read_text())
    assert "k-7f2a" not in json.dumps(command)


def test_command_line_values_reach_the_play_as_text_not_templates(tmp_path, state):
    """A real ansible-playbook run: a value with a Jinja lookup reaches the play literally and
    runs nothing on the controller (today's -e would template it)."""
    marker = tmp_path / "pwned"
    value = "{{ lookup('pipe', 'touch " + str(marker) + "') }}"
    playbook = book(
        tmp_path,
        """\
        - name: Values
          hosts: all
          gather_facts: false
          tasks:
            - name: Use the value as a module argument and in a template
              ansible.builtin.debug:
                msg: "[{{ given }}] [{{ nested.items_[0] }}] [{{ count + 1 }}]"
        """,
    )
    result, events = run(
        tmp_path,
        playbook,
        extravars={"given": value, "nested": {"items_": [value]}, "count": 41},
    )
    assert result.ok, result.output_tail()
    notes = [e.message for e in events if e.kind == "result" and e.message]
    assert notes == [f"[{value}] [{value}] [42]"]
    assert not marker.exists()
    extravars = result.artifact_dir / "env" / "extravars"
    assert "!unsafe" in extravars.read_text()
    assert extravars.stat().st_mode & 0o777 == 0o600


def test_unsafe_vars_refuse_names_that_are_no_identifiers():
    with pytest.raises(ValueError):
        runner.unsafe_vars_text({"a b": 1})


def test_state_folders_are_private_and_facts_files_0600(tmp_path, state):
    playbook = book(
        tmp_path,
        """\
        - name: Facts
          hosts: all
          gather_facts: true
          gather_subset: [min]
          tasks: []
        """,
    )
    result, _ = run(tmp_path, playbook)
    assert result.ok, result.output_tail()
    for folder in (state, state / "facts", state / "runs", result.artifact_dir):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    cached = list((state / "facts").iterdir())
    assert cached and all(p.stat().st_mode & 0o777 == 0o600 for p in cached)


def test_state_folder_that_is_a_file_is_exit_3_naming_it(tmp_path, monkeypatch):
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    monkeypatch.setenv(paths.STATE_ENV, str(blocker / "inner"))
    with pytest.raises(paths.EnvironmentProblem) as caught:
        paths.ensure_state(tmp_path / "hosts.yml")
    assert caught.value.exit_code == 3
    assert str(blocker) in caught.value.message and "is a file" in caught.value.message


def test_json_progress_lines(tmp_path, state):
    lines: list[str] = []
    inv = tmp_path / "hosts.yml"
    inv.write_text(LOCAL)
    result = runner.run_playbook(
        runner.RunOptions(inventory=inv, playbook=paths.playbook("preflight.yml")),
        runner.JsonProgress(lines.append),
    )
    assert result.ok
    parsed = [json.loads(line) for line in lines]
    assert parsed[0] == {"kind": "phase", "phase": "Preflight"}
    assert any(
        p["kind"] == "result" and p["host"] == "localhost" and p["status"] == "ok" for p in parsed
    )


def test_syntax_error_before_any_host_shows_ansible_output(tmp_path, state):
    playbook = book(
        tmp_path,
        """\
        - name: Broken
          hosts: all
          tasks:
            - name: No module
              no.such.module: {}
        """,
    )
    result, _ = run(tmp_path, playbook)
    assert not result.ok and not result.hosts
    text = runner.render_summary(result, "resume")
    assert "before any host ran a task" in text and "no.such.module" in text
