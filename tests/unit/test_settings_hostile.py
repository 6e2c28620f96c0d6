"""Hostile values in the settings: refused by validation, and harmless in the roles' files.

Every string a setting holds ends up in a file on the nodes (a systemd drop-in, an apt or dnf
source, containerd's TOML, docker's JSON, apt.conf). Three layers, each tested here:

1. validation (settings.py, validate.py) refuses a control character in every string-valued
   setting, list item and mapping key, and quotes, backslashes and white space where the kind is
   a name, URL, path or network: every setting of the registry, each character injected;
2. the roles assert, before writing anything, that no value holds a control character (run here
   with ansible-playbook against localhost, connection local, facts given: nothing is changed);
3. the templates write every value through a quoting filter: rendered with hostile values that
   skipped both checks, a value stays on its one line (or the render fails), never two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import inventory_problems
from conftest import settings_inventory as write

from dlrs_provision import inventory
from dlrs_provision.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
CLI = Path(sys.executable).parent / "dlrs-provision"

# --- 1. every setting of the registry --------------------------------------------------------

# A valid value of each kind, for settings whose default and sample are no such value.
EXAMPLES = {
    "str": "dlrs",
    "url": "http://proxy.example.com:3128",
    "fileurl": "https://mirror.example.com/k8s",
    "image": "registry.example.com:5000/org/name:tag",
    "imagerepo": "registry.example.com:5443/k8s",
    "path": "/var/lib/dlrs",
    "host": "registry.example.com",
    "hostport": "registry.example.com:5000",
    "version": "1.32",
    "cidr": "10.200.0.0/16",
    "sha256": "sha256:" + "a" * 64,
    "release": "v1.9.0",
    "bundle": "cloud-native-basic",
    "noproxy": ".example.com",
    "fingerprints": ["9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88"],
    "k8s_checksums": {
        "1.32.99": {n: "sha256:" + "b" * 64 for n in ("kubeadm", "kubelet", "kubectl")}
    },
}
CONTROL = {
    "\n": "newline",
    "\r": "carriage return",
    "\x00": "NUL",
    "\t": "tab",
    "\x1b": "control character",
    "\x7f": "control character",
}
QUOTES = {
    '"': "double quote",
    "'": "single quote",
    "`": "backquote",
    " ": "space",
    "\\": "backslash",
}
STRING_SETTINGS = [s for s in SETTINGS.values() if s.kind not in ("int", "bool")]


def _valid(setting) -> object:
    """A value of this setting that its own check accepts."""
    candidates = [setting.default]
    if setting.sample is not None:
        candidates.append(yaml.safe_load(setting.sample))
    if setting.choices:
        candidates.append(setting.choices[0])
    if setting.kind == "list":
        candidates.append([EXAMPLES[setting.item_kind or "str"]])
    else:
        candidates.append(EXAMPLES[setting.kind])
    for value in candidates:
        if value not in (None, [], {}, "") and setting.check(value) is None:
            return value
    raise AssertionError(f"{setting.name}: no valid value among {candidates!r}")


def _hostile(value: object, char: str) -> list[object]:
    """The valid value with char inside, at its end (where a regex's $ lets a newline pass) and
    at its start; for a list in one item; for a mapping in a key and in a value."""
    if isinstance(value, str):
        return [value[:1] + char + value[1:], value + char, char + value]
    if isinstance(value, list):
        return [[*value, value[0] + char], [value[0][:1] + char + value[0][1:]]]
    assert isinstance(value, dict)
    key, inner = next(iter(value.items()))
    first = next(iter(inner))
    return [
        {key + char: inner},
        {key: {**inner, first: inner[first] + char}},
    ]


def test_the_registry_has_string_settings_of_every_kind():
    kinds = {s.kind for s in STRING_SETTINGS} | {s.item_kind for s in STRING_SETTINGS}
    assert {"url", "fileurl", "image", "path", "host", "hostport", "version", "str"} <= kinds
    assert len(STRING_SETTINGS) >= 40  # the iteration below cannot pass by covering nothing


@pytest.mark.parametrize("name", [s.name for s in STRING_SETTINGS])
def test_every_string_setting_refuses_every_control_character(name):
    setting = SETTINGS[name]
    good = _valid(setting)
    for char, word in CONTROL.items():
        for bad in _hostile(good, char):
            wrong = setting.check(bad)
            assert wrong is not None, f"{name} accepted {bad!r}"
            assert word in wrong, wrong
            fix = setting.fix(bad)
            assert fix.startswith("remove ") and word in fix, fix
            if setting.secret:
                assert good not in wrong and good not in fix  # never shown


@pytest.mark.parametrize("name", [s.name for s in STRING_SETTINGS if s._strict()])
def test_names_urls_paths_and_networks_refuse_quotes_and_white_space(name):
    setting = SETTINGS[name]
    good = _valid(setting)
    for char, word in QUOTES.items():
        for bad in _hostile(good, char):
            wrong = setting.check(bad)
            assert wrong is not None, f"{name} accepted {bad!r}"
            assert word in wrong, wrong


def test_the_strict_kinds_are_the_ones_written_unquoted():
    strict = {s.name for s in STRING_SETTINGS if s._strict()}
    for name in (
        "dlrs_http_proxy",
        "dlrs_https_proxy",
        "dlrs_apt_proxy",
        "dlrs_no_proxy",
        "dlrs_registry_mirrors",
        "dlrs_insecure_registries",
        "dlrs_docker_repo_url",
        "dlrs_kubernetes_repo_url",
        "dlrs_image",
        "dlrs_docker_data_root",
        "dlrs_registry_cache_host",
        "dlrs_upstream_registry",
        "dlrs_pod_network_cidr",
    ):
        assert name in strict, name
    # a user name may hold a quote (it is written as a JSON/YAML string), never a newline
    assert SETTINGS["dlrs_upstream_registry_username"].check('o"brien') is None


@pytest.mark.parametrize(
    ("name", "value", "wrong", "fix"),
    [
        ("dlrs_registry_mirrors", ["registry-cache.example.com"], "not an http(s) URL", "URL"),
        ("dlrs_registry_mirrors", ["ftp://cache.example.com"], "not an http(s) URL", "URL"),
        ("dlrs_registry_mirrors", ["https://cache:99999"], "not a TCP port", "URL"),
        ("dlrs_insecure_registries", ["http://mirror:5000"], "a URL", "drop the scheme"),
        ("dlrs_insecure_registries", ["mirror:70000"], "not a TCP port", "host"),
        ("dlrs_upstream_registry", "https://registry.example.com", "a URL", "drop the scheme"),
        ("dlrs_http_proxy", "http://:3128", "names no host", "URL"),
        ("dlrs_http_proxy", "http://[proxy:3128", "not a URL", "URL"),
        ("dlrs_kubernetes_repo_url", "https://[mirror/k8s", "not a URL", "URL"),
        ("dlrs_pod_network_cidr", "10.244.0.0", "without a prefix length", "10.244.0.0/16"),
        ("dlrs_service_cidr", "10.96.0.0", "without a prefix length", "10.96.0.0/16"),
        ("dlrs_no_proxy", ["a,b"], "not a host", "host"),
        ("dlrs_clearlinux_bundles", ["../etc"], "not a swupd bundle name", "bundle"),
    ],
)
def test_wrong_values_of_a_kind_are_refused_with_the_fix(name, value, wrong, fix):
    setting = SETTINGS[name]
    assert wrong in (setting.check(value) or ""), setting.check(value)
    assert fix in setting.fix(value)


JUNK = [
    "http://[",
    "https://h:0",
    "https://h:x",
    "h:-1",
    "[::1",
    "\udcff",
    "x" * 5000,
    1.5,
    -1,
    {"a": [1, {"b": None}]},
    [1, None],
    [[], {}],
    ["\x00"],
    {1: "x"},
]


@pytest.mark.parametrize("name", list(SETTINGS))
def test_no_value_makes_a_check_raise(name):
    setting = SETTINGS[name]
    for junk in JUNK:
        wrong = setting.check(junk)  # must not raise: a traceback is no message
        assert wrong is None or isinstance(wrong, str)
        if wrong:
            assert isinstance(setting.fix(junk), str)


# --- through the inventory: file, line, field, fix; exit 2 -----------------------------------

INJECTED_PROXY = "http://proxy.example.com:3128\nExecStartPre=/bin/touch /tmp/pwned"


def test_a_newline_in_a_proxy_is_refused_with_file_line_and_fix(tmp_path):
    path = write(tmp_path, "dlrs_variant: mkl\ndlrs_http_proxy: " + json.dumps(INJECTED_PROXY))
    found = inventory_problems(path)
    assert [p.field for p in found] == ["dlrs_http_proxy"], [p.render() for p in found]
    line = path.read_text().splitlines().index("    dlrs_http_proxy: " + json.dumps(INJECTED_PROXY))
    assert found[0].file == str(path) and found[0].line == line + 1
    assert "newline" in found[0].message and "remove a newline" in found[0].fix


def test_validate_exits_2_naming_each_hostile_setting_without_a_traceback(tmp_path):
    path = write(
        tmp_path,
        "\n".join(
            [
                "dlrs_http_proxy: " + json.dumps(INJECTED_PROXY),
                'dlrs_docker_repo_url: "https://mirror.example.com/docker\\nTrusted: yes"',
                'dlrs_registry_mirrors: ["https://cache.example.com", "https://a b"]',
                'dlrs_insecure_registries: ["http://mirror:5000"]',
                'dlrs_upstream_registry_password: "s3cret\\nX"',
            ]
        ),
    )
    proc = subprocess.run(
        [str(CLI), "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    for name in (
        "dlrs_http_proxy",
        "dlrs_docker_repo_url",
        "dlrs_registry_mirrors",
        "dlrs_insecure_registries",
        "dlrs_upstream_registry_password",
    ):
        assert f"{name}:" in out, out
    assert "drop the scheme" in out and "s3cret" not in out


def _problems(tmp_path, settings: str, **hosts) -> list:
    path = write(tmp_path, settings)
    if hosts:
        text = path.read_text()
        for name, addr in hosts.items():
            old = {"m1": "10.0.0.1", "w1": "10.0.0.2"}[name]
            text = text.replace(
                f"{name}: {{ansible_host: {old}}}", f"{name}: {{ansible_host: {addr}}}"
            )
        path.write_text(text)
    return inventory_problems(path)


def test_a_pod_network_overlapping_the_service_network_names_both(tmp_path):
    found = _problems(tmp_path, "dlrs_pod_network_cidr: 10.96.0.0/16")
    assert [p.field for p in found] == ["dlrs_pod_network_cidr"], [p.render() for p in found]
    assert "10.96.0.0/16" in found[0].message and "10.96.0.0/12" in found[0].message
    assert "dlrs_service_cidr" in found[0].message


def test_a_service_network_set_alone_overlapping_the_default_pod_network(tmp_path):
    found = _problems(tmp_path, "dlrs_service_cidr: 10.0.0.0/8")
    assert "overlaps" in " ".join(p.message for p in found)
    assert {p.field for p in found} == {"dlrs_service_cidr"}  # (and it holds the nodes' addresses)
    assert any("10.0.0.1" in p.message for p in found)


def test_a_pod_network_holding_a_node_address_is_refused(tmp_path):
    found = _problems(tmp_path, "dlrs_pod_network_cidr: 192.168.0.0/16", w1="192.168.3.4")
    assert [p.field for p in found] == ["dlrs_pod_network_cidr"], [p.render() for p in found]
    assert "192.168.3.4" in found[0].message and "w1" in found[0].message


def test_a_node_inside_the_default_service_network_is_refused_at_its_address(tmp_path):
    found = _problems(tmp_path, "dlrs_variant: mkl", w1="10.96.0.5")
    assert [p.field for p in found] == ["dlrs_service_cidr"], [p.render() for p in found]
    assert found[0].where == "host w1" and "10.96.0.5" in found[0].message
    assert "set dlrs_service_cidr" in found[0].fix
    line = next(i for i, t in enumerate(Path(found[0].file).read_text().splitlines()) if "w1:" in t)
    assert found[0].line == line + 1


def test_networks_apart_load(tmp_path):
    inv = inventory.load(
        write(tmp_path, "dlrs_pod_network_cidr: 10.200.0.0/16\ndlrs_service_cidr: 10.96.0.0/12")
    )
    assert inv.setting("m1", "dlrs_pod_network_cidr") == "10.200.0.0/16"


def test_a_cidr_without_prefix_length_says_add_one(tmp_path):
    found = _problems(tmp_path, "dlrs_pod_network_cidr: 10.244.0.0")
    assert [p.field for p in found] == ["dlrs_pod_network_cidr"]
    assert "add the prefix length" in found[0].fix


def test_local_registry_mode_with_the_cache_off_is_refused_naming_both(tmp_path):
    found = _problems(tmp_path, "dlrs_registry_mode: local\ndlrs_registry_cache: false")
    assert [p.field for p in found] == ["dlrs_registry_cache"], [p.render() for p in found]
    assert "dlrs_registry_mode" in found[0].message
    assert "dlrs_registry_cache: true" in found[0].fix


# --- 2. and 3. the roles ---------------------------------------------------------------------

FAKE_FACTS_ACTION = """\
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(changed=False, ansible_facts=dict(self._task.args["facts"]))
        return result
"""
DEBIAN12 = {
    "distribution": "Debian",
    "os_family": "Debian",
    "distribution_version": "12.15",
    "distribution_major_version": "12",
    "distribution_release": "bookworm",
    "architecture": "x86_64",
    "system": "Linux",
    "service_mgr": "systemd",
}
# Hostile values as they would arrive past validation (or set as the roles' own variables).
ODD_PROXY = 'http://user:p"a\\ss%41@proxy.example.com:3128'
NEWLINE = {
    "proxy": INJECTED_PROXY,
    "no_proxy": [".example.com", "x\nExecStartPre=/bin/true"],
    "repo": "https://mirror.example.com/docker\nTrusted: yes",
    "mirror": ["https://cache.example.com\n[host.evil]"],
    "k8s_repo": "https://pkgs.example.com\nTrusted: yes",
}
# name -> (role, its tasks file with the checks, {dlrs_ setting: value}, the variable named)
ASSERT_CASES = {
    "containerd_proxy": (
        "containerd",
        "vars.yml",
        {"dlrs_http_proxy": NEWLINE["proxy"]},
        "containerd_http_proxy",
    ),
    "containerd_no_proxy": (
        "containerd",
        "vars.yml",
        {"dlrs_no_proxy": NEWLINE["no_proxy"]},
        "containerd_no_proxy",
    ),
    "containerd_mirror": (
        "containerd",
        "vars.yml",
        {"dlrs_registry_mirrors": NEWLINE["mirror"]},
        "containerd_registry_mirrors",
    ),
    "containerd_pause": (
        "containerd",
        "vars.yml",
        {"dlrs_pause_image": "r/pause:3.10\n[x]"},
        "containerd_pause_image",
    ),
    "docker_proxy": (
        "docker",
        "vars.yml",
        {"dlrs_https_proxy": NEWLINE["proxy"]},
        "docker_https_proxy",
    ),
    "docker_repo": (
        "docker",
        "vars.yml",
        {"dlrs_docker_repo_url": NEWLINE["repo"]},
        "docker_repo_url",
    ),
    "docker_data_root": (
        "docker",
        "vars.yml",
        {"dlrs_docker_data_root": "/srv/d\r"},
        "docker_data_root",
    ),
    "k8s_repo": (
        "kubernetes_packages",
        "checks.yml",
        {"dlrs_kubernetes_repo_url": NEWLINE["k8s_repo"]},
        "kubernetes_packages_repo_base_url",
    ),
    "k8s_key": (
        "kubernetes_packages",
        "checks.yml",
        {"dlrs_kubernetes_repo_key_url": "https://k.example.com/key\n"},
        "kubernetes_packages_repo_key_url",
    ),
    "node_prep_proxy": (
        "node_prep",
        "vars.yml",
        {"dlrs_http_proxy": NEWLINE["proxy"]},
        "node_prep_http_proxy",
    ),
    "node_prep_apt": (
        "node_prep",
        "vars.yml",
        {"dlrs_apt_proxy": "http://apt:3142\n"},
        "node_prep_apt_proxy",
    ),
    "node_prep_no_proxy": (
        "node_prep",
        "vars.yml",
        {"dlrs_no_proxy": NEWLINE["no_proxy"]},
        "node_prep_no_proxy",
    ),
}
# the same roles with an odd but one-line proxy pass their checks
PASS_CASES = {
    "containerd_ok": ("containerd", "vars.yml", {"dlrs_http_proxy": ODD_PROXY}),
    "docker_ok": ("docker", "vars.yml", {"dlrs_http_proxy": ODD_PROXY}),
    "k8s_ok": ("kubernetes_packages", "checks.yml", {}),
    "node_prep_ok": ("node_prep", "vars.yml", {"dlrs_http_proxy": ODD_PROXY}),
}
_C, _D, _N, _K = (
    f"{ROLES}/{r}/templates/" for r in ("containerd", "docker", "node_prep", "kubernetes_packages")
)
# name -> (template, its variables): rendered directly, past the roles' checks
RENDER_CASES = {
    "dropin_containerd_odd": (
        _C + "http-proxy.conf.j2",
        {
            "containerd_http_proxy": ODD_PROXY,
            "containerd_https_proxy": "",
            "_containerd_no_proxy": ["localhost", "a%b"],
        },
    ),
    "dropin_docker_odd": (
        _D + "http-proxy.conf.j2",
        {
            "docker_http_proxy": ODD_PROXY,
            "docker_https_proxy": "",
            "_docker_no_proxy": ["localhost"],
        },
    ),
    "dropin_node_prep_odd": (
        _N + "http-proxy.conf.j2",
        {
            "item": "containerd",
            "node_prep_http_proxy": ODD_PROXY,
            "node_prep_https_proxy": "",
            "_node_prep_no_proxy": "localhost,10.0.0.1",
        },
    ),
    "dropin_containerd_newline": (
        _C + "http-proxy.conf.j2",
        {
            "containerd_http_proxy": INJECTED_PROXY,
            "containerd_https_proxy": "",
            "_containerd_no_proxy": ["localhost"],
        },
    ),
    "dropin_docker_newline": (
        _D + "http-proxy.conf.j2",
        {"docker_http_proxy": "", "docker_https_proxy": INJECTED_PROXY, "_docker_no_proxy": []},
    ),
    "dropin_node_prep_newline": (
        _N + "http-proxy.conf.j2",
        {
            "item": "kubelet",
            "node_prep_http_proxy": "http://p:1",
            "node_prep_https_proxy": "",
            "_node_prep_no_proxy": "localhost,x\nExecStartPre=/bin/true",
        },
    ),
    "sources_docker_newline": (
        _D + "docker.sources.j2",
        {
            "_docker_repo_url": NEWLINE["repo"],
            "_docker_apt_arch": "amd64",
            "ansible_facts": DEBIAN12,
        },
    ),
    "sources_docker_space": (
        _D + "docker.sources.j2",
        {
            "_docker_repo_url": "https://a.example.com https://b.example.com",
            "_docker_apt_arch": "amd64",
            "ansible_facts": DEBIAN12,
        },
    ),
    "sources_k8s_newline": (
        _K + "kubernetes.sources.j2",
        {
            "_kubernetes_packages_minor": "1.32",
            "_kubernetes_packages_repo_url": NEWLINE["k8s_repo"],
            "_kubernetes_packages_keyring": "/etc/apt/keyrings/kubernetes.gpg",
        },
    ),
    "apt_proxy_quote": (
        _N + "apt-proxy.conf.j2",
        {
            "node_prep_apt_proxy": 'http://apt:3142";Acquire::http::Proxy::x "DIRECT',
            "node_prep_apt_proxy_direct": [],
        },
    ),
    "apt_proxy_newline": (
        _N + "apt-proxy.conf.j2",
        {"node_prep_apt_proxy": "http://apt:3142", "node_prep_apt_proxy_direct": ["a\nb"]},
    ),
}

PLAYBOOK = """
- name: Run the roles' checks with hostile settings
  hosts: checks
  gather_facts: false
  tasks:
    - name: Stand in Debian 12's facts
      fake_facts:
        facts: "{{ facts }}"
    - name: Run the role's checks
      block:
        - name: Include the checks of the role
          ansible.builtin.include_role:
            name: "{{ role }}"
            tasks_from: "{{ tasks }}"
        - name: Record that the checks passed
          ansible.builtin.set_fact:
            outcome: {failed: false}
      rescue:
        - name: Record the check that refused the host
          ansible.builtin.set_fact:
            outcome:
              failed: true
              task: "{{ ansible_failed_task.name }}"
              msg: "{{ ansible_failed_result.msg }}"

- name: Render the templates with hostile values
  hosts: render
  gather_facts: false
  tasks:
    - name: Render the template
      block:
        - name: Render it through the template lookup
          ansible.builtin.set_fact:
            outcome:
              failed: false
              text: "{{ lookup('ansible.builtin.template', template) }}"
      rescue:
        - name: Record why it was not rendered
          ansible.builtin.set_fact:
            outcome: {failed: true, msg: "{{ ansible_failed_result.msg }}"}

- name: Write the outcomes
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the outcome of every host
      ansible.builtin.copy:
        content: >-
          {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all
                  | map('extract', hostvars, 'outcome'))) | to_nice_json }}
        dest: "{{ out_dir }}/outcome.json"
        mode: "0644"
      delegate_to: localhost
      run_once: true
"""


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("settings-hostile")
    (work / "action_plugins").mkdir()
    (work / "action_plugins" / "fake_facts.py").write_text(FAKE_FACTS_ACTION)
    out = work / "out"
    out.mkdir()
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    checks = {
        name: {
            **local,
            "facts": DEBIAN12,
            "role": role,
            "tasks": tasks,
            "node_prep_nodes": [name],
            "node_prep_address": "10.0.0.5",
            **settings,
        }
        for name, (role, tasks, settings, *_) in {**ASSERT_CASES, **PASS_CASES}.items()
    }
    render = {
        name: {**local, "template": template, "tv": variables}
        for name, (template, variables) in RENDER_CASES.items()
    }
    # the template's variables as the host's own (a JSON round trip keeps them plain data)
    for host in render.values():
        host.update(json.loads(json.dumps(host.pop("tv"))))
    inv = {
        "all": {
            "vars": {"out_dir": str(out)},
            "children": {"checks": {"hosts": checks}, "render": {"hosts": render}},
        }
    }
    (work / "hosts.yml").write_text(yaml.safe_dump(inv))
    (work / "playbook.yml").write_text(PLAYBOOK)
    (work / "ansible.cfg").write_text(
        textwrap.dedent(
            f"""\
            [defaults]
            roles_path = {ROLES}
            action_plugins = {work / "action_plugins"}
            filter_plugins = {ROOT / "dlrs_provision" / "ansible_plugins" / "filter"}
            gathering = explicit
            fact_caching = memory
            forks = 8
            retry_files_enabled = False
            local_tmp = {work / "tmp"}
            """
        )
    )
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    }
    run = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(work / "hosts.yml"), str(work / "playbook.yml")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return json.loads((out / "outcome.json").read_text())


@pytest.mark.parametrize("host", list(ASSERT_CASES))
def test_each_role_refuses_a_control_character_before_writing_anything(outcome, host):
    variable = ASSERT_CASES[host][3]
    result = outcome[host]
    assert result["failed"], result
    assert result["task"].startswith("Check that no value written into"), result
    assert "control character" in result["msg"], result
    # it names the role's variable behind the setting, never the value
    named = result["msg"].split(" (the dlrs_ setting behind it)")[0].split(", ")
    assert variable in named, result
    for value in ASSERT_CASES[host][2].values():
        for item in value if isinstance(value, list) else [value]:
            assert item.strip() not in result["msg"], result


@pytest.mark.parametrize("host", list(PASS_CASES))
def test_a_one_line_value_passes_the_roles_checks(outcome, host):
    assert outcome[host] == {"failed": False}


def _systemd_unquote(word: str) -> str:
    """The value systemd reads from one double-quoted Environment= word (the inverse of
    dlrs_systemd_env: \\\\ and \\" inside the quotes, %% for %)."""
    assert word.startswith('"') and word.endswith('"'), word
    out, i, body = [], 0, word[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            out.append(body[i + 1])
            i += 2
            continue
        assert ch != '"', f"an unescaped quote ends the word early: {word}"
        if ch == "%":
            assert body[i + 1] == "%", f"a lone % is a systemd specifier: {word}"
            i += 1
        out.append(ch)
        i += 1
    return "".join(out)


@pytest.mark.parametrize(
    "host", ["dropin_containerd_odd", "dropin_docker_odd", "dropin_node_prep_odd"]
)
def test_a_drop_in_keeps_quotes_backslashes_and_percent_signs_inside_one_assignment(outcome, host):
    result = outcome[host]
    assert not result["failed"], result
    lines = [ln for ln in result["text"].splitlines() if not ln.startswith("#")]
    env = [ln for ln in lines if ln.startswith("Environment=")]
    assert lines == ["[Service]", *env] and len(env) == 2, lines
    values = dict(_systemd_unquote(ln.removeprefix("Environment=")).split("=", 1) for ln in env)
    assert values["HTTP_PROXY"] == ODD_PROXY
    if host == "dropin_containerd_odd":
        assert values["NO_PROXY"] == "localhost,a%b"


@pytest.mark.parametrize(
    "host",
    [
        "dropin_containerd_newline",
        "dropin_docker_newline",
        "dropin_node_prep_newline",
        "sources_docker_newline",
        "sources_docker_space",
        "sources_k8s_newline",
        "apt_proxy_quote",
        "apt_proxy_newline",
    ],
)
def test_a_value_that_would_split_its_line_is_never_written(outcome, host):
    result = outcome[host]
    assert result["failed"], result  # the render fails: no file with a line of the attacker's
    assert "dlrs_systemd_env" in result["msg"] or "dlrs_config_word" in result["msg"], result
