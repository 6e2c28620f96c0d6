"""The OS branches of the docker and containerd roles, facts-driven.

Only Debian 12 can run as a test host here, so the other branches (Ubuntu 22.04/24.04, Rocky and
RHEL 9, Clear Linux with containerd or CRI-O, containerd 2.x) are checked this way: one real
ansible-playbook run against localhost (connection local) where each inventory host stands for
one OS. A tiny action plugin sets that host's facts (as the setup module would), then the
roles' vars part runs (tasks/vars.yml: the OS variables file and the checks of the settings;
nothing there changes a host) and the templates are rendered with the resolved variables. The
run writes one JSON file into pytest's temporary folder; this machine is not changed.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def _facts(distribution, family, version, release, arch="x86_64"):
    return {
        "distribution": distribution,
        "os_family": family,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
        "distribution_release": release,
        "architecture": arch,
        "system": "Linux",
        "service_mgr": "systemd",
    }


DEBIAN12 = _facts("Debian", "Debian", "12.15", "bookworm")
UBUNTU2204 = _facts("Ubuntu", "Debian", "22.04", "jammy")
UBUNTU2404 = _facts("Ubuntu", "Debian", "24.04", "noble", arch="aarch64")
ROCKY9 = _facts("Rocky", "RedHat", "9.5", "Blue Onyx")
RHEL9 = _facts("RedHat", "RedHat", "9.4", "Plow")
CLEAR = _facts("Clear Linux OS", "ClearLinux", "26240", "clear-linux-os")
ARCH = _facts("Archlinux", "Archlinux", "rolling", "n/a")

MIRROR = "http://apt-mirror.example.com/docker-ce/linux/ubuntu"
REGISTRY_SETTINGS = {
    "dlrs_registry_mirrors": ["https://registry-cache.example.com", "http://mirror:5000"],
    "dlrs_insecure_registries": ["mirror:5000"],
    "dlrs_upstream_registry": "registry.example.com:5000",
    "dlrs_pause_image": "mirror:5000/pause:3.10",
}
# `containerd --version` as each packaging prints it; the configure step registers this.
V16_DEBIAN = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
V17_UBUNTU = "containerd github.com/containerd/containerd 1.7.28 "
V2_DOCKER = "containerd containerd.io v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376"
V17_CLEAR = "containerd github.com/containerd/containerd v1.7.27 05044ec0a9a7"

SECRET_PROXY = "http://user:pa%40ss@proxy.example.com:3128"
# The cluster registry's password as the controller keeps it (a quote and a backslash: the
# templates must write it as a TOML/JSON string, not raw).
REGISTRY_PASSWORD = 'Zq9"x\\y0123456789abcdefghijklmn'
CLUSTER_REGISTRY = {"dlrs_registry_cache_host": "registry.site.example"}

HOSTS = {
    "debian12": {"facts": DEBIAN12, "version": V16_DEBIAN},
    "debian12_upstream": {
        "facts": DEBIAN12,
        "version": V2_DOCKER,
        "vars": {"dlrs_docker_source": "upstream", **REGISTRY_SETTINGS},
    },
    "ubuntu2204": {"facts": UBUNTU2204, "version": V17_UBUNTU},
    "ubuntu2404_mirror": {
        "facts": UBUNTU2404,
        "version": V17_UBUNTU,
        "vars": {
            "dlrs_docker_source": "upstream",
            "dlrs_docker_repo_url": MIRROR + "/",
            "dlrs_docker_repo_key_url": "http://apt-mirror.example.com/keys/docker.asc",
        },
    },
    "ubuntu2404_crio": {"facts": UBUNTU2404, "vars": {"dlrs_container_runtime": "crio"}},
    "rocky9": {"facts": ROCKY9, "version": V2_DOCKER, "vars": REGISTRY_SETTINGS},
    "rhel9": {"facts": RHEL9, "version": V2_DOCKER},
    "clear_containerd": {"facts": CLEAR, "version": V17_CLEAR},
    "clear_crio": {"facts": CLEAR, "vars": {"dlrs_container_runtime": "crio", **REGISTRY_SETTINGS}},
    "debian12_plain_mirror": {
        "facts": DEBIAN12,
        "vars": {"dlrs_registry_mirrors": ["http://cache.example.com:5000"]},
    },
    "archlinux": {"facts": ARCH},
    # air-gapped: the cluster's registry is a local one; kubeadm's pause of 1.30 comes from it
    "debian12_airgap": {
        "facts": DEBIAN12,
        "vars": {
            "dlrs_registry_mode": "local",
            "dlrs_registry_cache_host": "registry.site.example",
            "dlrs_kubernetes_version": "1.30.14",
        },
    },
    "debian12_site_k8s_repo": {
        "facts": DEBIAN12,
        "vars": {"dlrs_kubernetes_image_repository": "harbor.example.com:8443/k8s"},
    },
    # the cluster registry on, its password on the controller: CRI logs in to it
    "debian12_registry_auth": {
        "facts": DEBIAN12,
        "version": V16_DEBIAN,
        "password": REGISTRY_PASSWORD,
        "vars": CLUSTER_REGISTRY,
    },
    "rocky9_registry_auth": {
        "facts": ROCKY9,
        "version": V2_DOCKER,
        "password": REGISTRY_PASSWORD,
        "vars": {**REGISTRY_SETTINGS, **CLUSTER_REGISTRY, "dlrs_registry_cache_port": 5000},
    },
    "clear_crio_registry_auth": {
        "facts": CLEAR,
        "password": REGISTRY_PASSWORD,
        "vars": {"dlrs_container_runtime": "crio", **CLUSTER_REGISTRY},
    },
    # the password is there, but the registry is off (or CRI's login is switched off)
    "debian12_registry_off": {
        "facts": DEBIAN12,
        "password": REGISTRY_PASSWORD,
        "vars": {**CLUSTER_REGISTRY, "dlrs_registry_cache": False},
    },
    "debian12_registry_auth_off": {
        "facts": DEBIAN12,
        "password": REGISTRY_PASSWORD,
        "vars": {**CLUSTER_REGISTRY, "containerd_cluster_registry_auth": False},
    },
    "debian12_secret_proxy": {
        "facts": DEBIAN12,
        "vars": {"dlrs_http_proxy": SECRET_PROXY, "dlrs_no_proxy": [".example.com"]},
    },
}

# An action plugin runs on the controller: no module process per host, and its ansible_facts
# become the host's facts exactly as the setup module's do.
FAKE_FACTS_ACTION = """\
\"\"\"Test only: report the given facts, as the setup module reports a host's.\"\"\"
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(changed=False, ansible_facts=dict(self._task.args["facts"]))
        return result
"""

# The containerd and docker vars parts run in one block; a failed check (an unsupported OS or
# runtime) is recorded with its task and message. Templates are rendered through the template
# lookup with the roles' resolved variables (public: true keeps them after include_role).
PLAYBOOK = r"""
- name: Resolve the runtime roles' OS logic for stand-in facts
  hosts: all
  gather_facts: false
  vars:
    _d: "{{ roles_dir }}/docker/templates/"
    _c: "{{ roles_dir }}/containerd/templates/"
  tasks:
    - name: Stand in the facts of the OS under test
      fake_facts:
        facts: "{{ test_facts }}"

    - name: Resolve
      block:
        - name: Resolve the docker role's OS variables
          ansible.builtin.include_role:
            name: docker
            tasks_from: vars.yml
            public: true

        - name: Resolve the containerd role's OS variables
          ansible.builtin.include_role:
            name: containerd
            tasks_from: vars.yml
            public: true

        - name: Render hosts.toml per registry, as the role's loop does
          ansible.builtin.set_fact:
            hosts_rendered: >-
              {{ hosts_rendered | default({})
                 | combine({item.name: lookup('ansible.builtin.template', _c ~ 'hosts.toml.j2')}) }}
          loop: "{{ _containerd_registries }}"

        - name: Record what the roles would do
          ansible.builtin.set_fact:
            outcome:
              failed: false
              docker:
                vars_file: "{{ _docker_vars_loaded.ansible_included_var_files | map('basename') }}"
                setup: "{{ _docker_setup_tasks }}"
                source: "{{ _docker_source }}"
                packages: "{{ _docker_packages }}"
                conflicting: "{{ _docker_conflicting_packages }}"
                repository_tasks: "{{ _docker_repository_tasks }}"
                repo_url: "{{ _docker_repo_url }}"
                repo_key_url: "{{ _docker_repo_key_url }}"
                daemon: "{{ _docker_daemon_config }}"
                proxy_secret: "{{ _docker_proxy_is_secret | bool }}"
                proxy_dropin: "{{ lookup('ansible.builtin.template', _d ~ 'http-proxy.conf.j2') }}"
                sources: >-
                  {{ lookup('ansible.builtin.template', _d ~ 'docker.sources.j2')
                     if _docker_setup_tasks == 'setup-Debian.yml' else '' }}
              containerd:
                vars_file: >-
                  {{ _containerd_vars_loaded.ansible_included_var_files | map('basename') }}
                setup: "{{ _containerd_setup_tasks }}"
                packages: "{{ _containerd_packages }}"
                docker_repository: "{{ _containerd_uses_docker_repository | bool }}"
                service: "{{ _containerd_service }}"
                configure: "{{ _containerd_configure_tasks }}"
                version: "{{ _containerd_version }}"
                config_version: "{{ _containerd_config_version | int }}"
                registries: "{{ _containerd_registries }}"
                proxy_secret: "{{ _containerd_proxy_is_secret | bool }}"
                proxy_dropin: "{{ lookup('ansible.builtin.template', _c ~ 'http-proxy.conf.j2') }}"
                config: >-
                  {{ lookup('ansible.builtin.template',
                            _c ~ 'config-v' ~ _containerd_config_version ~ '.toml.j2') }}
                hosts: "{{ hosts_rendered | default({}) }}"
                crio: "{{ lookup('ansible.builtin.template', _c ~ 'crio.conf.j2') }}"
                crio_auth: "{{ lookup('ansible.builtin.template', _c ~ 'crio-auth.json.j2') }}"
                registry_auth: "{{ _containerd_registry_auth }}"
                registries_conf: >-
                  {{ lookup('ansible.builtin.template', _c ~ 'registries.conf.j2') }}
      rescue:
        - name: Record the check that refused the host
          ansible.builtin.set_fact:
            outcome:
              failed: true
              task: "{{ ansible_failed_task.name }}"
              msg: "{{ ansible_failed_result.msg }}"

    - name: Write the outcomes of all hosts
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
    work = tmp_path_factory.mktemp("runtime-os-logic")
    (work / "action_plugins").mkdir()
    (work / "action_plugins" / "fake_facts.py").write_text(FAKE_FACTS_ACTION)
    out = work / "out"
    out.mkdir()
    hosts = {}
    for name, spec in HOSTS.items():
        host_vars = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "test_facts": spec["facts"],
            **spec.get("vars", {}),
        }
        if "version" in spec:
            host_vars["_containerd_version_cmd"] = {"rc": 0, "stdout": spec["version"]}
        if "password" in spec:
            password_file = work / f"{name}.registry.password"
            password_file.write_text(spec["password"] + "\n")
            host_vars["containerd_cluster_registry_password_file"] = str(password_file)
        hosts[name] = host_vars
    inventory = {"all": {"hosts": hosts, "vars": {"out_dir": str(out), "roles_dir": str(ROLES)}}}
    (work / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (work / "playbook.yml").write_text(PLAYBOOK)
    (work / "ansible.cfg").write_text(
        textwrap.dedent(
            f"""\
            [defaults]
            roles_path = {ROLES}
            action_plugins = {work / "action_plugins"}
            gathering = explicit
            fact_caching = memory
            forks = {len(HOSTS)}
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
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return json.loads((out / "outcome.json").read_text())


def _ok(outcome: dict, host: str) -> dict:
    result = outcome[host]
    assert not result["failed"], result
    return result


# --- which files run --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "vars_file", "setup"),
    [
        ("debian12", "Debian.yml", "setup-Debian.yml"),
        ("ubuntu2204", "Debian.yml", "setup-Debian.yml"),
        ("ubuntu2404_mirror", "Debian.yml", "setup-Debian.yml"),
        ("rocky9", "RedHat.yml", "setup-RedHat.yml"),
        ("rhel9", "RedHat.yml", "setup-RedHat.yml"),
        ("clear_containerd", "ClearLinux.yml", "setup-ClearLinux.yml"),
        ("clear_crio", "ClearLinux.yml", "setup-ClearLinux.yml"),
    ],
)
def test_each_os_loads_its_family_vars_and_setup_file(outcome, host, vars_file, setup):
    result = _ok(outcome, host)
    for role in ("docker", "containerd"):
        assert result[role]["vars_file"] == [vars_file]
        assert result[role]["setup"] == setup
        assert (ROLES / role / "vars" / vars_file).is_file()
        assert (ROLES / role / "tasks" / setup).is_file()


# --- docker: packages and repository ----------------------------------------------------------


def test_debian_installs_the_distribution_docker_io_by_default(outcome):
    docker = _ok(outcome, "debian12")["docker"]
    assert docker["source"] == "distribution"
    assert docker["packages"] == ["docker.io"]
    assert "docker-ce" in docker["conflicting"]
    assert docker["repository_tasks"] == "repository-Debian.yml"


def test_ubuntu_upstream_uses_the_site_mirror_and_its_key_in_a_deb822_source(outcome):
    docker = _ok(outcome, "ubuntu2404_mirror")["docker"]
    assert docker["packages"][:3] == ["docker-ce", "docker-ce-cli", "containerd.io"]
    assert "docker.io" in docker["conflicting"]
    assert docker["repo_url"] == MIRROR  # trailing slash dropped
    assert docker["repo_key_url"] == "http://apt-mirror.example.com/keys/docker.asc"
    sources = dict(
        line.split(": ", 1) for line in docker["sources"].splitlines() if not line.startswith("#")
    )
    assert sources == {
        "Types": "deb",
        "URIs": MIRROR,
        "Suites": "noble",
        "Components": "stable",
        "Architectures": "arm64",
        "Signed-By": "/etc/apt/keyrings/docker.asc",
    }


def test_ubuntu_default_repository_is_dockers_ubuntu_one(outcome):
    docker = _ok(outcome, "ubuntu2204")["docker"]
    assert docker["packages"] == ["docker.io"]
    assert docker["repo_url"] == "https://download.docker.com/linux/ubuntu"
    assert docker["repo_key_url"] == "https://download.docker.com/linux/ubuntu/gpg"


def test_debian_upstream_uses_dockers_debian_repository(outcome):
    docker = _ok(outcome, "debian12_upstream")["docker"]
    assert docker["source"] == "upstream"
    assert docker["repo_url"] == "https://download.docker.com/linux/debian"
    assert "Suites: bookworm" in docker["sources"]
    assert "Architectures: amd64" in docker["sources"]


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("rocky9", "https://download.docker.com/linux/centos"),
        ("rhel9", "https://download.docker.com/linux/rhel"),
    ],
)
def test_rhel_family_always_uses_dockers_repository(outcome, host, url):
    docker = _ok(outcome, host)["docker"]
    assert docker["source"] == "upstream"
    assert docker["packages"] == [
        "docker-ce",
        "docker-ce-cli",
        "containerd.io",
        "docker-buildx-plugin",
        "docker-compose-plugin",
    ]
    assert "podman-docker" in docker["conflicting"]
    assert docker["repository_tasks"] == "repository-RedHat.yml"
    assert docker["repo_url"] == url
    assert docker["repo_key_url"] == url + "/gpg"


def test_clear_linux_docker_comes_from_containers_basic(outcome):
    docker = _ok(outcome, "clear_containerd")["docker"]
    assert docker["source"] == "bundle"
    assert docker["packages"] == ["containers-basic"]
    assert docker["repository_tasks"] == ""


def test_daemon_json_leaves_out_empty_keys(outcome):
    assert _ok(outcome, "debian12")["docker"]["daemon"] == {
        "exec-opts": ["native.cgroupdriver=systemd"],
        "log-driver": "json-file",
        "log-opts": {"max-file": "3", "max-size": "10m"},
    }
    daemon = _ok(outcome, "rocky9")["docker"]["daemon"]
    assert daemon["registry-mirrors"] == REGISTRY_SETTINGS["dlrs_registry_mirrors"]
    assert daemon["insecure-registries"] == ["mirror:5000"]
    assert "data-root" not in daemon and "storage-driver" not in daemon


@pytest.mark.parametrize("role", ["docker", "containerd"])
def test_a_proxy_with_credentials_is_secret_and_its_percent_signs_doubled(outcome, role):
    result = _ok(outcome, "debian12_secret_proxy")[role]
    assert result["proxy_secret"] is True
    assert (
        'Environment="HTTP_PROXY=http://user:pa%%40ss@proxy.example.com:3128"'
        in (result["proxy_dropin"])
    )
    assert 'Environment="NO_PROXY=localhost,127.0.0.1,::1,.example.com"' in result["proxy_dropin"]
    assert "HTTPS_PROXY" not in result["proxy_dropin"]
    assert _ok(outcome, "debian12")[role]["proxy_secret"] is False


# --- containerd and CRI-O ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "packages", "docker_repository"),
    [
        ("debian12", ["containerd"], False),
        ("ubuntu2204", ["containerd"], False),
        ("debian12_upstream", ["containerd.io"], True),
        ("ubuntu2404_mirror", ["containerd.io"], True),
        ("rocky9", ["containerd.io"], True),
        ("rhel9", ["containerd.io"], True),
        ("clear_containerd", ["containers-basic"], False),
        ("clear_crio", ["cloud-native-basic"], False),
    ],
)
def test_containerd_package_and_where_it_comes_from(outcome, host, packages, docker_repository):
    containerd = _ok(outcome, host)["containerd"]
    assert containerd["packages"] == packages
    assert containerd["docker_repository"] is docker_repository


@pytest.mark.parametrize(
    ("host", "version", "schema"),
    [
        ("debian12", "1.6.20", 2),
        ("ubuntu2204", "1.7.28", 2),
        ("clear_containerd", "1.7.27", 2),
        ("rocky9", "2.1.4", 3),
        ("debian12_upstream", "2.1.4", 3),
    ],
)
def test_config_schema_follows_the_installed_containerd_version(outcome, host, version, schema):
    containerd = _ok(outcome, host)["containerd"]
    assert containerd["service"] == "containerd"
    assert containerd["configure"] == "configure-containerd.yml"
    assert containerd["version"] == version
    assert containerd["config_version"] == schema
    config = tomllib.loads(containerd["config"])
    assert config["version"] == schema
    assert config["disabled_plugins"] == []


def test_config_version_2_enables_cri_with_systemd_cgroups(outcome):
    config = tomllib.loads(_ok(outcome, "debian12")["containerd"]["config"])
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    assert cri["containerd"]["runtimes"]["runc"]["runtime_type"] == "io.containerd.runc.v2"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert cri["cni"]["bin_dir"] == "/opt/cni/bin"


@pytest.mark.parametrize(
    ("host", "pause"),
    [
        ("debian12", "registry.k8s.io/pause:3.10"),
        ("debian12_airgap", "registry.site.example:5443/pause:3.9"),
        ("debian12_site_k8s_repo", "harbor.example.com:8443/k8s/pause:3.10"),
    ],
)
def test_pause_image_follows_the_control_plane_repository_and_minor(outcome, host, pause):
    config = tomllib.loads(_ok(outcome, host)["containerd"]["config"])
    assert config["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"] == pause


def test_config_version_3_uses_the_containerd_2_plugin_names(outcome):
    config = tomllib.loads(_ok(outcome, "rocky9")["containerd"]["config"])
    plugins = config["plugins"]
    assert set(plugins) == {"io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"}
    images = plugins["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "mirror:5000/pause:3.10"
    assert images["registry"]["config_path"] == "/etc/containerd/certs.d"
    runc = plugins["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True


def test_hosts_toml_per_mirrored_and_insecure_registry(outcome):
    hosts = {
        name: tomllib.loads(text)
        for name, text in _ok(outcome, "rocky9")["containerd"]["hosts"].items()
    }
    assert sorted(hosts) == ["docker.io", "mirror:5000", "registry.example.com:5000"]
    assert hosts["docker.io"]["server"] == "https://registry-1.docker.io"
    assert list(hosts["docker.io"]["host"]) == [
        "https://registry-cache.example.com",
        "http://mirror:5000",
    ]
    assert hosts["registry.example.com:5000"]["server"] == "https://registry.example.com:5000"
    assert hosts["mirror:5000"]["server"] == "http://mirror:5000"
    # nothing skips TLS verification: the only insecure registry is plain HTTP
    assert not any(
        "skip_verify" in h for registry in hosts.values() for h in registry["host"].values()
    )


def test_no_registry_configuration_without_mirrors_or_insecure_registries(outcome):
    assert _ok(outcome, "debian12")["containerd"]["registries"] == []


def test_clear_linux_crio_gets_a_drop_in_and_registries_conf(outcome):
    containerd = _ok(outcome, "clear_crio")["containerd"]
    assert containerd["service"] == "crio"
    assert containerd["configure"] == "configure-crio.yml"
    assert (ROLES / "containerd" / "tasks" / "configure-crio.yml").is_file()
    crio = tomllib.loads(containerd["crio"])
    assert crio["crio"]["runtime"]["cgroup_manager"] == "systemd"
    assert crio["crio"]["image"]["pause_image"] == "mirror:5000/pause:3.10"
    registries = {r["prefix"]: r for r in tomllib.loads(containerd["registries_conf"])["registry"]}
    assert registries["docker.io"]["mirror"] == [
        {"location": "registry-cache.example.com", "insecure": False},
        {"location": "mirror:5000", "insecure": True},
    ]
    assert registries["mirror:5000"]["insecure"] is True
    assert registries["registry.example.com:5000"]["insecure"] is False


def test_crio_is_refused_outside_clear_linux(outcome):
    result = outcome["ubuntu2404_crio"]
    assert result["failed"]
    assert result["task"] == "Check that this OS offers the runtime asked for"
    assert "crio is not offered on Ubuntu" in result["msg"]


def test_a_plain_http_mirror_must_be_listed_insecure(outcome):
    result = outcome["debian12_plain_mirror"]
    assert result["failed"]
    assert result["task"] == "Check that a plain-HTTP registry mirror is also listed as insecure"
    assert "plain-HTTP registry mirror(s) on cache.example.com:5000" in result["msg"]
    assert "dlrs_insecure_registries" in result["msg"]


def test_an_unsupported_os_family_is_refused_by_name(outcome):
    result = outcome["archlinux"]
    assert result["failed"]
    assert "Archlinux (Archlinux family) is not supported" in result["msg"]


# --- the registry model behind hosts.toml and registries.conf.d --------------------------------


def _registries_module():
    path = ROLES / "containerd" / "filter_plugins" / "containerd_registries.py"
    spec = importlib.util.spec_from_file_location("containerd_registries", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _registry_hosts():
    return _registries_module().containerd_registry_hosts


def test_an_https_mirror_skips_tls_verification_only_when_listed_insecure():
    registries = _registry_hosts()(
        ["https://cache.example.com/v2-proxy/", "https://other.example.com"],
        ["cache.example.com"],
    )
    assert [r["name"] for r in registries] == ["cache.example.com", "docker.io"]
    hub = registries[1]["hosts"]
    assert [(h["url"], h["skip_verify"], h["http"]) for h in hub] == [
        ("https://cache.example.com/v2-proxy", True, False),
        ("https://other.example.com", False, False),
    ]
    assert hub[0]["location"] == "cache.example.com/v2-proxy"


def test_the_stack_registry_is_not_its_own_mirror():
    registries = _registry_hosts()(["http://mirror:5000"], ["mirror:5000"], "mirror:5000")
    by_name = {r["name"]: r for r in registries}
    assert sorted(by_name) == ["docker.io", "mirror:5000"]
    assert by_name["mirror:5000"] == {
        "name": "mirror:5000",
        "server": "http://mirror:5000",
        "insecure": True,
        "hosts": [],
    }
    assert [h["url"] for h in by_name["docker.io"]["hosts"]] == ["http://mirror:5000"]


def test_a_mirror_that_is_no_url_is_refused():
    module = _registries_module()
    with pytest.raises(module.AnsibleFilterError, match="not an http:// or https:// URL"):
        module.containerd_registry_hosts(["mirror:5000"], [])


# --- CRI's login to the cluster registry (registry_cache) --------------------------------------


def test_config_version_2_logs_in_to_the_cluster_registry_beside_config_path(outcome):
    config = tomllib.loads(_ok(outcome, "debian12_registry_auth")["containerd"]["config"])
    registry = config["plugins"]["io.containerd.grpc.v1.cri"]["registry"]
    assert registry["config_path"] == "/etc/containerd/certs.d"
    # auth alone: containerd 1.x refuses configs.tls beside config_path
    assert registry["configs"] == {
        "registry.site.example:5443": {
            "auth": {"username": "dlrs-cluster", "password": REGISTRY_PASSWORD}
        }
    }
    assert "mirrors" not in registry


def test_config_version_3_logs_in_to_the_cluster_registry(outcome):
    config = tomllib.loads(_ok(outcome, "rocky9_registry_auth")["containerd"]["config"])
    registry = config["plugins"]["io.containerd.cri.v1.images"]["registry"]
    assert registry["config_path"] == "/etc/containerd/certs.d"
    assert registry["configs"] == {
        "registry.site.example:5000": {
            "auth": {"username": "dlrs-cluster", "password": REGISTRY_PASSWORD}
        }
    }


@pytest.mark.parametrize(
    "host",
    ["debian12", "debian12_airgap", "debian12_registry_off", "debian12_registry_auth_off"],
)
def test_no_login_without_the_registry_its_password_or_the_switch(outcome, host):
    # debian12: no registry name; airgap: the password not made yet (a fresh controller's
    # check mode); registry_off: dlrs_registry_cache false; auth_off: the role's switch
    containerd = _ok(outcome, host)["containerd"]
    assert containerd["registry_auth"] == {}
    registry = tomllib.loads(containerd["config"])["plugins"]["io.containerd.grpc.v1.cri"][
        "registry"
    ]
    assert "configs" not in registry
    assert REGISTRY_PASSWORD not in containerd["config"]


def test_crio_logs_in_through_its_global_auth_file(outcome):
    containerd = _ok(outcome, "clear_crio_registry_auth")["containerd"]
    crio = tomllib.loads(containerd["crio"])
    assert crio["crio"]["image"]["global_auth_file"] == "/etc/crio/dlrs-provision-auth.json"
    assert REGISTRY_PASSWORD not in containerd["crio"]
    auths = json.loads(containerd["crio_auth"])["auths"]
    assert list(auths) == ["registry.site.example:5443"]
    decoded = base64.b64decode(auths["registry.site.example:5443"]["auth"]).decode()
    assert decoded == "dlrs-cluster:" + REGISTRY_PASSWORD
    # without a login, no global_auth_file
    plain = tomllib.loads(_ok(outcome, "clear_crio")["containerd"]["crio"])
    assert "global_auth_file" not in plain["crio"]["image"]


def test_config_toml_is_private_and_its_task_says_nothing():
    tasks = yaml.safe_load(
        (ROLES / "containerd" / "tasks" / "configure-containerd.yml").read_text()
    )
    (task,) = [t for t in tasks if "ansible.builtin.template" in t and "config-v" in str(t)]
    assert task["ansible.builtin.template"]["mode"] == "0600"
    assert task["no_log"] is True and task["diff"] is False
    crio = yaml.safe_load((ROLES / "containerd" / "tasks" / "configure-crio.yml").read_text())
    (auth,) = [t for t in crio if "crio-auth.json.j2" in str(t.get("ansible.builtin.template"))]
    assert auth["ansible.builtin.template"]["mode"] == "0600"
    assert auth["no_log"] is True and auth["diff"] is False
