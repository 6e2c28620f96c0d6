"""The hostile-input corpus (issue #14): malformed input of every class the issue names, over every
command, run in-process through the CLI's main().

Each case states the exit code a careful tool gives (2: bad input, 3: the controller's state is
unusable, 0: valid if unusual Ansible) and the words its message must hold (the culprit: the
field, host, option or file). Anything that would reach a host (SSH reach check, ansible-playbook,
a socket, a subprocess) is faked to raise HostReached: reaching it in a case that must be refused
fails the case. A case that is meant to get as far as the hosts says which hosts it must reach
(--limit means the same in every command).

Inputs that exhaust resources (the alias bomb, deep nesting, a 5 MB inventory) run in a
subprocess with a 1 GiB address-space limit and a 10 s timeout.

Ids are CLASS-CASE[-COMMAND] (`-k setting`, `-k host-name`, `-k exhaustion` pick a class). For a
tally, DLRS_CORPUS_REPORT=FILE appends one line per case: class, id, pass/FAIL, and why.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dlrs_provision import cli

DATA = Path(__file__).parent / "data"
GOOD_FACTS = (DATA / "facts" / "xeon-gold-6140-2s-ht.json").read_text()
CASE_TIMEOUT_S = 20
FIFO_TIMEOUT_S = 3
BOMB_TIMEOUT_S = 10
BOMB_MEMORY = 1 << 30


# --------------------------------------------------------------------------- files of a case


@dataclass(frozen=True)
class Special:
    """A file-system object that is not a plain file: fifo, dir, devnull (a symlink to /dev/null),
    loop (a symlink to itself)."""

    kind: str


FIFO, DIR, DEVNULL, LOOP = Special("fifo"), Special("dir"), Special("devnull"), Special("loop")


@dataclass(frozen=True)
class Exec:
    """An executable file (a stand-in program the case may run: it lies in the case folder)."""

    text: str


def ca_certificate() -> str:
    """A real self-signed CA certificate (PEM): the state folder's pki/ca.crt as the images phase
    leaves it, so that `images load` gets past the CA to the option under test."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpus test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def empty_archive() -> bytes:
    """An OCI layout archive of no image: what `images load` opens before its options matter."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (
            ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
            ("index.json", b'{"schemaVersion": 2, "manifests": []}'),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(root: Path, files: dict[str, Any]) -> None:
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if body is FIFO:
            os.mkfifo(path)
        elif body is DIR:
            path.mkdir(exist_ok=True)
        elif body is DEVNULL:
            path.symlink_to("/dev/null")
        elif body is LOOP:
            path.symlink_to(path.name)
        elif isinstance(body, Exec):
            path.write_text(body.text)
            path.chmod(0o755)
        elif isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body)


def hosts_yml(
    vars_: str = "dlrs_variant: mkl",
    masters: str = "m1: {ansible_host: 10.0.0.1}",
    workers: str = "w1: {ansible_host: 10.0.0.2}",
) -> str:
    """A YAML inventory: all.vars, then one masters and one workers group."""

    def ind(text: str, n: int) -> str:
        return textwrap.indent(textwrap.dedent(text).strip(), " " * n)

    return (
        "all:\n  vars:\n"
        + ind(vars_, 4)
        + "\n  children:\n    masters:\n      hosts:\n"
        + ind(masters, 8)
        + "\n    workers:\n      hosts:\n"
        + ind(workers, 8)
        + "\n"
    )


GOOD = hosts_yml()
CACHE = ".dlrs-provision/facts"
# the inventory with good cached facts for both hosts (plan, render tfjob get past the facts)
GOOD_CACHED = {"hosts.yml": GOOD, f"{CACHE}/m1": GOOD_FACTS, f"{CACHE}/w1": GOOD_FACTS}


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    id: str
    cls: str
    argv: tuple[str, ...]  # "{d}" stands for the case's folder
    files: dict[str, Any]
    code: int | tuple[int, ...] | None  # None: the case must reach hosts (see `reach`)
    culprit: tuple[Any, ...] = ()  # each: a string, or a tuple of alternatives; case-insensitive
    reach: frozenset[str] | None = None  # the hosts it must reach (code None)
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)
    timeout: int = CASE_TIMEOUT_S
    unreadable: tuple[str, ...] = ()  # made mode 000; the case then runs as an unprivileged user


CASES: list[Case] = []


def case(
    id_: str,
    cls: str,
    argv: list[str] | tuple[str, ...],
    files: dict[str, Any],
    code,
    *culprit,
    **kw,
) -> None:
    if FIFO in files.values():
        kw.setdefault("timeout", FIFO_TIMEOUT_S)  # an open FIFO blocks forever: 3 s says as much
    CASES.append(Case(f"{cls}-{id_}", cls, tuple(argv), files, code, tuple(culprit), **kw))


# the commands that read an inventory, as argv before/after the inventory's path
INV_COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "validate": lambda inv: ["validate", inv],
    "plan": lambda inv: ["plan", inv],
    "preflight": lambda inv: ["preflight", inv],
    "cluster": lambda inv: ["cluster", inv],
    "benchmark": lambda inv: ["benchmark", inv],
    "render": lambda inv: ["render", "tfjob", inv],
    "images-save": lambda inv: ["images", "save", "--inventory", inv, "-o", "{d}/out.tar"],
    # --yes: without a terminal (as here) reset refuses to ask, before it reaches anything
    "reset": lambda inv: ["reset", inv, "--yes"],
    "upgrade": lambda inv: ["upgrade", inv, "--to", "1.32.3"],
}
WRITERS = ("validate", "cluster", "images-save")  # the commands whose values reach hosts' files


def over(
    cmds, id_: str, cls: str, files: dict[str, Any], code, *culprit, inv="{d}/hosts.yml", **kw
) -> None:
    for name in cmds:
        case(f"{id_}-{name}", cls, INV_COMMANDS[name](inv), files, code, *culprit, **kw)


ALL = tuple(INV_COMMANDS)
SOME = ("validate", "plan", "cluster", "render")

# --- host ranges
for rid, rng, culprit in [
    ("zero-step", "w[1:3:0]", "w[1:3:0]"),
    ("letters-mixed", "w[1:c]", "w[1:c]"),
    ("letters-number", "w[a:3]", "w[a:3]"),
    ("reversed", "w[3:1]", "w[3:1]"),
    ("reversed-letters", "w[f:a]", "w[f:a]"),
    ("negative-step", "w[1:9:-2]", "w[1:9:-2]"),
    ("unclosed", "w[1:3", "w[1:3"),
]:
    over(ALL, rid, "host-range", {"hosts.yml": hosts_yml(workers=f"{rng}: {{}}")}, 2, culprit)

# --- host names
NAMES = [
    ("null", "~: {ansible_host: 10.0.0.3}", ("null", "none", "~")),
    ("list", "? [a, b]\n: {ansible_host: 10.0.0.3}", ("list", "[a, b]", "unhashable")),
    ("semicolon", "'w1;reboot': {ansible_host: 10.0.0.3}", "w1;reboot"),
    ("space", "'w 1': {ansible_host: 10.0.0.3}", "w 1"),
    ("dotdot", "'../../etc': {ansible_host: 10.0.0.3}", "../../etc"),
    ("underscore", "w_1: {ansible_host: 10.0.0.3}", "w_1"),
    ("uppercase-dollar", "'W$X': {ansible_host: 10.0.0.3}", "W$X"),
    ("too-long", f"{'w' * 300}: {{ansible_host: 10.0.0.3}}", "w" * 60),
    ("number", "12: {ansible_host: 10.0.0.3}", "12"),
]
for nid, worker, culprit in NAMES:
    over(ALL, nid, "host-name", {"hosts.yml": hosts_yml(workers=worker)}, 2, culprit)
# the check stays on when the node name is set explicitly
for nid, var in [
    ("kubeadm-worker", "kubeadm_worker_node_name"),
    ("kubeadm-master", "kubeadm_master_node_name"),
]:
    over(
        SOME,
        f"semicolon-{nid}",
        "host-name",
        {"hosts.yml": hosts_yml(workers=f"'w1;id': {{ansible_host: 10.0.0.3, {var}: node1}}")},
        2,
        "w1;id",
    )
    # on a host of the group that reads it (a master's name on a worker is never used)
    group = "masters" if "master" in var else "workers"
    name = "m1" if group == "masters" else "w1"
    over(
        ("validate",),
        f"bad-{nid}-value",
        "host-name",
        {
            "hosts.yml": hosts_yml(
                **{group: f"{name}: {{ansible_host: 10.0.0.3, {var}: 'node 1;x'}}"}
            )
        },
        2,
        var,
    )

# --- inventory files: unreadable, not files, not text, wrong format
over(ALL, "devnull", "inventory-file", {"hosts.yml": DEVNULL}, 2, "hosts.yml")
over(SOME, "fifo", "inventory-file", {"hosts.yml": FIFO}, 2, "hosts.yml")
over(SOME, "symlink-loop", "inventory-file", {"hosts.yml": LOOP}, 2, "hosts.yml")
over(SOME, "missing", "inventory-file", {}, 2, "hosts.yml")
over(SOME, "empty", "inventory-file", {"hosts.yml": ""}, 2, "hosts.yml")
over(
    SOME,
    "binary",
    "inventory-file",
    {"hosts.yml": bytes(range(256)) * 4},
    2,
    "hosts.yml",
    ("binary", "text", "utf-8"),
)
over(
    SOME, "utf16", "inventory-file", {"hosts.yml": GOOD.encode("utf-16")}, 2, "hosts.yml", "utf-16"
)
over(
    SOME,
    "yaml-no-extension",
    "inventory-file",
    {"hosts": GOOD.replace("m1: {ansible_host: 10.0.0.1}", "m1: {ansible_host: 10.0.0.1")},
    2,
    "hosts",
    "yaml",
    inv="{d}/hosts",
    note="a YAML file without extension is no INI file",
)
over(
    ("validate", "cluster"),
    "group-vars-all-is-dir",
    "inventory-file",
    {"inv/hosts.yml": GOOD, "inv/group_vars/all.yml": DIR},
    (0, 2),
    "group_vars/all.yml",
    inv="{d}/inv",
    note="Ansible reads a folder there as a folder of var files: refuse it or warn naming it",
)
over(
    ("validate", "cluster"),
    "group-vars-is-file",
    "inventory-file",
    {"inv/hosts.yml": GOOD, "inv/group_vars": "dlrs_variant: mkl\n"},
    (0, 2),
    "group_vars",
    inv="{d}/inv",
    note="Ansible ignores a group_vars file: its settings are lost, so say so (or refuse)",
)
over(
    ("validate", "cluster"),
    "host-vars-fifo",
    "inventory-file",
    {"inv/hosts.yml": GOOD, "inv/host_vars/w1.yml": FIFO},
    2,
    "host_vars/w1.yml",
    inv="{d}/inv",
)
over(
    ("validate", "cluster"),
    "host-vars-devnull",
    "inventory-file",
    {"inv/hosts.yml": GOOD, "inv/host_vars/w1.yml": DEVNULL},
    (0, 2),
    "host_vars/w1.yml",
    inv="{d}/inv",
    note="an empty var file: refuse it or warn naming it",
)
over(
    ("validate", "plan"),
    "empty-folder",
    "inventory-file",
    {"inv/.keep": ""},
    2,
    "{d}/inv",
    inv="{d}/inv",
)
over(
    ("validate",),
    "group-cycle",
    "inventory-file",
    {
        "hosts.yml": GOOD
        + "    ga:\n      children:\n        gb:\n    gb:\n      children:\n        ga:\n"
    },
    2,
    "ga",
    "gb",
    ("cycle", "loop", "itself"),
)
over(
    ("validate",),
    "ini-bad-range",
    "inventory-file",
    {"hosts.ini": "[masters]\nm1 ansible_host=10.0.0.1\n[workers]\nw[5:1]\n"},
    2,
    "hosts.ini",
    "w[5:1]",
    inv="{d}/hosts.ini",
)
over(
    ("validate",),
    "float-version",
    "inventory-file",
    {"hosts.yml": hosts_yml(vars_="dlrs_kubernetes_version: 1.30")},
    2,
    "dlrs_kubernetes_version",
    "1.30",
    "quote",
    "hosts.yml:3",
)
over(
    ("validate",),
    "yaml-syntax",
    "inventory-file",
    {"hosts.yml": GOOD.replace("m1: {ansible_host: 10.0.0.1}", "m1: {ansible_host: 10.0.0.1")},
    2,
    "hosts.yml:",
)
over(
    ("validate",),
    "tabs",
    "inventory-file",
    {"hosts.yml": GOOD.replace("    masters", "\tmasters")},
    2,
    "hosts.yml:",
)

# unreadable files and folders (the case runs as nobody: root reads everything)
for uid, cmds, files, bad, culprit, inv in [
    ("folder", SOME, {"inv/hosts.yml": GOOD}, "inv", "{d}/inv", "{d}/inv"),
    ("hosts-file", ("validate", "cluster"), {"hosts.yml": GOOD}, "hosts.yml", "hosts.yml", None),
    (
        "group-vars-file",
        ("validate", "cluster"),
        {"inv/hosts.yml": GOOD, "inv/group_vars/all.yml": "dlrs_variant: mkl\n"},
        "inv/group_vars/all.yml",
        "group_vars/all.yml",
        "{d}/inv",
    ),
    (
        "host-vars-folder",
        ("validate",),
        {"inv/hosts.yml": GOOD, "inv/host_vars/w1.yml": "dlrs_variant: mkl\n"},
        "inv/host_vars",
        "host_vars",
        "{d}/inv",
    ),
]:
    over(
        cmds,
        f"unreadable-{uid}",
        "inventory-file",
        files,
        2,
        culprit,
        unreadable=(bad,),
        inv=inv or "{d}/hosts.yml",
    )
case(
    "unreadable",
    "facts-file",
    ["tune", "--facts", "{d}/f.json"],
    {"f.json": GOOD_FACTS},
    2,
    "f.json",
    unreadable=("f.json",),
)
for cmd, code in (("plan", 0), ("render", 2)):
    case(
        f"unreadable-{cmd}",
        "cached-facts",
        INV_COMMANDS[cmd]("{d}/hosts.yml"),
        GOOD_CACHED,
        code,
        "w1",
        unreadable=(f"{CACHE}/w1",),
    )
    case(
        f"unreadable-folder-{cmd}",
        "cached-facts",
        INV_COMMANDS[cmd]("{d}/hosts.yml"),
        GOOD_CACHED,
        (0, 2, 3),
        CACHE,
        unreadable=(CACHE,),
    )
for cmd in ("cluster", "preflight"):
    case(
        f"unreadable-{cmd}",
        "state-folder",
        INV_COMMANDS[cmd]("{d}/hosts.yml"),
        GOOD_CACHED,
        3,
        ".dlrs-provision",
        unreadable=(".dlrs-provision",),
    )

# --- settings and connection variables whose values reach a file on a host
BAD_SETTINGS = [
    (
        "http-proxy-newline",
        'dlrs_http_proxy: "http://p:3128\\nExecStartPre=/bin/id"',
        "dlrs_http_proxy",
    ),
    ("https-proxy-quote", "dlrs_https_proxy: 'http://p:3128\" x'", "dlrs_https_proxy"),
    ("http-proxy-space", "dlrs_http_proxy: 'http://p:3128 -x'", "dlrs_http_proxy"),
    ("http-proxy-nul", 'dlrs_http_proxy: "http://p:3128\\0"', "dlrs_http_proxy"),
    ("apt-proxy-cr", 'dlrs_apt_proxy: "http://p:3142\\r\\nx"', "dlrs_apt_proxy"),
    ("no-proxy-item-newline", 'dlrs_no_proxy: ["10.0.0.0/8", "a\\nb"]', "dlrs_no_proxy"),
    (
        "docker-repo-trusted",
        'dlrs_docker_repo_url: "https://d.example.com\\nTrusted: yes"',
        "dlrs_docker_repo_url",
    ),
    (
        "k8s-repo-quote",
        "dlrs_kubernetes_repo_url: 'https://k.example.com/\"x'",
        "dlrs_kubernetes_repo_url",
    ),
    (
        "k8s-key-url-space",
        "dlrs_kubernetes_repo_key_url: 'https://k.example.com/a b'",
        "dlrs_kubernetes_repo_key_url",
    ),
    (
        "docker-key-http",
        "dlrs_docker_repo_key_url: 'http://d.example.com/gpg'",
        "dlrs_docker_repo_key_url",
    ),
    ("mirror-not-url", "dlrs_registry_mirrors: ['not a url']", "dlrs_registry_mirrors"),
    (
        "mirror-no-scheme",
        "dlrs_registry_mirrors: ['mirror.example.com:5000']",
        "dlrs_registry_mirrors",
    ),
    (
        "mirror-newline",
        'dlrs_registry_mirrors: ["https://m.example.com\\n"]',
        "dlrs_registry_mirrors",
    ),
    ("mirrors-not-list", "dlrs_registry_mirrors: https://m.example.com", "dlrs_registry_mirrors"),
    (
        "insecure-as-url",
        "dlrs_insecure_registries: ['http://r.example.com:5000']",
        "dlrs_insecure_registries",
    ),
    (
        "insecure-quote",
        "dlrs_insecure_registries: ['r.example.com:5000\"']",
        "dlrs_insecure_registries",
    ),
    ("upstream-newline", 'dlrs_upstream_registry: "r.example.com\\nx"', "dlrs_upstream_registry"),
    (
        "local-without-cache",
        "dlrs_registry_mode: local\ndlrs_registry_cache: false",
        "dlrs_registry_mode",
    ),
    ("cache-port-range", "dlrs_registry_cache_port: 70000", "dlrs_registry_cache_port"),
    ("cache-port-text", "dlrs_registry_cache_port: abc", "dlrs_registry_cache_port"),
    ("cache-host-semicolon", "dlrs_registry_cache_host: 'm1;id'", "dlrs_registry_cache_host"),
    (
        "cidr-overlap",
        "dlrs_pod_network_cidr: 10.96.0.0/12\ndlrs_service_cidr: 10.96.0.0/16",
        "dlrs_pod_network_cidr",
    ),
    (
        "cidr-overlap-inside",
        "dlrs_pod_network_cidr: 10.0.0.0/8\ndlrs_service_cidr: 10.96.0.0/12",
        "dlrs_service_cidr",
    ),
    ("cidr-no-prefix", "dlrs_pod_network_cidr: 10.244.0.0", "dlrs_pod_network_cidr"),
    ("cidr-garbage", "dlrs_service_cidr: 10.96.0.0/99", "dlrs_service_cidr"),
    ("image-space", "dlrs_image: 'clearlinux/x y:1'", "dlrs_image"),
    ("image-semicolon", "dlrs_image: 'clearlinux/x;id'", "dlrs_image"),
    (
        "pause-image-newline",
        'dlrs_pause_image: "registry.k8s.io/pause:3.9\\nx"',
        "dlrs_pause_image",
    ),
    (
        "k8s-image-repo-quote",
        "dlrs_kubernetes_image_repository: 'r.example.com/\"'",
        "dlrs_kubernetes_image_repository",
    ),
    (
        "binary-url-space",
        "dlrs_kubernetes_binary_url: 'https://dl.example.com/a b'",
        "dlrs_kubernetes_binary_url",
    ),
    (
        "manifest-url-newline",
        'dlrs_pod_network_manifest_url: "https://x.example.com/a.yml\\nb"',
        "dlrs_pod_network_manifest_url",
    ),
    ("data-root-relative", "dlrs_docker_data_root: var/lib/docker", "dlrs_docker_data_root"),
    (
        "data-root-newline",
        'dlrs_docker_data_root: "/var/lib/docker\\n[Service]"',
        "dlrs_docker_data_root",
    ),
    ("bundles-semicolon", "dlrs_clearlinux_bundles: ['os-core;id']", "dlrs_clearlinux_bundles"),
    (
        "clearlinux-mirror-newline",
        'dlrs_clearlinux_mirror: "https://c.example.com\\nx"',
        "dlrs_clearlinux_mirror",
    ),
    (
        "upstream-user-newline",
        'dlrs_upstream_registry_username: "u\\nx"',
        "dlrs_upstream_registry_username",
    ),
    ("version-garbage", "dlrs_kubernetes_version: 'v1.30;id'", "dlrs_kubernetes_version"),
    ("threads-negative", "dlrs_num_intra_threads: -4", "dlrs_num_intra_threads"),
    ("threads-huge", "dlrs_num_inter_threads: 100000000000", "dlrs_num_inter_threads"),
    ("unknown-setting", "dlrs_http_porxy: http://p:3128", "dlrs_http_porxy"),
    ("ansible-host-list", None, "ansible_host"),
    ("ansible-host-space", None, "ansible_host"),
    ("ansible-port-range", None, "ansible_port"),
    ("ansible-port-text", None, "ansible_port"),
    ("ssh-args-unbalanced", None, "ansible_ssh_common_args"),
    ("ssh-extra-args-unbalanced", None, "ansible_ssh_extra_args"),
]
HOST_VARS = {
    "ansible-host-list": "ansible_host: [10.0.0.2, 10.0.0.3]",
    "ansible-host-space": "ansible_host: '10.0.0.2 -oProxyCommand=id'",
    "ansible-port-range": "ansible_host: 10.0.0.2, ansible_port: 70000",
    "ansible-port-text": "ansible_host: 10.0.0.2, ansible_port: twentytwo",
    "ssh-args-unbalanced": "ansible_host: 10.0.0.2, ansible_ssh_common_args: '-o \"ProxyJump=x'",
    "ssh-extra-args-unbalanced": 'ansible_host: 10.0.0.2, ansible_ssh_extra_args: "-o \'x"',
}
for sid, setting, culprit in BAD_SETTINGS:
    if setting is None:
        files = {"hosts.yml": hosts_yml(workers=f"w1: {{{HOST_VARS[sid]}}}")}
        cmds = ("validate", "cluster", "preflight")
        extra = ("w1",)
    else:
        files = {"hosts.yml": hosts_yml(vars_=setting)}
        cmds = (
            WRITERS
            if sid.startswith(("upstream", "insecure", "mirror"))
            else ("validate", "cluster")
        )
        extra = ()
    over(cmds, sid, "setting", files, 2, culprit, *extra)
# the same value from group_vars/ and host_vars/ files: the message names that file
over(
    ("validate", "cluster"),
    "proxy-newline-group-vars",
    "setting",
    {
        "inv/hosts.yml": GOOD,
        "inv/group_vars/all.yml": 'dlrs_http_proxy: "http://p\\nExecStartPre=/bin/id"\n',
    },
    2,
    "group_vars/all.yml",
    "dlrs_http_proxy",
    inv="{d}/inv",
)
over(
    ("validate", "cluster"),
    "mirror-quote-host-vars",
    "setting",
    {"inv/hosts.yml": GOOD, "inv/host_vars/w1.yml": "dlrs_registry_mirrors: ['https://m\"x']\n"},
    2,
    "host_vars/w1.yml",
    "dlrs_registry_mirrors",
    inv="{d}/inv",
)

# the same classes in an INI inventory
INI_HEAD = "[masters]\nm1 ansible_host=10.0.0.1\n[workers]\n"
for iid, line, culprit in [
    ("host-semicolon", "w1;id ansible_host=10.0.0.2", "w1;id"),
    ("port-range", "w1 ansible_host=10.0.0.2 ansible_port=70000", "ansible_port"),
    ("host-unbalanced-quote", 'w1 ansible_host="10.0.0.2', ("ansible_host", "quot")),
    (
        "ssh-args-unbalanced",
        "w1 ansible_host=10.0.0.2 ansible_ssh_common_args='-o \"x'",
        "ansible_ssh_common_args",
    ),
    (
        "proxy-space",
        "w1 ansible_host=10.0.0.2 dlrs_http_proxy='http://p:3128 -x'",
        "dlrs_http_proxy",
    ),
]:
    over(
        ("validate", "cluster"),
        f"ini-{iid}",
        "setting",
        {"hosts.ini": INI_HEAD + line + "\n"},
        2,
        "hosts.ini",
        culprit,
        inv="{d}/hosts.ini",
    )
# the state folder named by DLRS_PROVISION_STATE is a file
for cmd in ("cluster", "preflight"):
    case(
        f"env-is-file-{cmd}",
        "state-folder",
        INV_COMMANDS[cmd]("{d}/hosts.yml"),
        {"hosts.yml": GOOD, "state": "not a folder"},
        3,
        "{d}/state",
        env={"DLRS_PROVISION_STATE": "{d}/state"},
    )

# --- valid if unusual Ansible: say what was not checked, do not refuse
VAULT = """!vault |
          $ANSIBLE_VAULT;1.1;AES256
          62313365396662343061393464336163383764373764613633653634306231386433626436623361
          6134333665353966363534333632666535333761666131620a663537646436643839616531643561
          63396265333966386166373632626539326166353965363262633030333630313338646331663061
          3861636365386136640a643761306562313336386631323332353537323530663438343233356631
          6166"""
OK_ANSIBLE = [
    (
        "port-template",
        "w1: {ansible_host: 10.0.0.2, ansible_port: '{{ ssh_port }}'}",
        "vars:\n  ssh_port: 22",
    ),
    ("host-template", "w1: {ansible_host: '{{ w1_addr }}'}", "vars:\n  w1_addr: 10.0.0.2"),
    ("vault-password", f"w1:\n  ansible_host: 10.0.0.2\n  ansible_password: {VAULT}", ""),
    ("vault-become-pass", f"w1:\n  ansible_host: 10.0.0.2\n  ansible_become_password: {VAULT}", ""),
]
for oid, worker, _ in OK_ANSIBLE:
    over(
        ("validate", "plan"),
        oid,
        "valid-ansible",
        {"hosts.yml": hosts_yml(workers=worker)},
        0,
        "w1",
        note="legal Ansible: validate says what it could not check (naming the host) instead of "
        "refusing",
    )
over(
    ("validate", "plan"),
    "yaml-no-extension",
    "valid-ansible",
    {"hosts": GOOD},
    0,
    "{d}/hosts",
    inv="{d}/hosts",
    note="a YAML inventory without extension is read as YAML",
)
VAULTED_PROXY = {"hosts.yml": hosts_yml(vars_=f"dlrs_http_proxy: {VAULT}")}
over(
    ("validate",),
    "vault-http-proxy",
    "valid-ansible",
    VAULTED_PROXY,
    0,
    "dlrs_http_proxy",
    note="a vaulted setting is legal: validate says it could not check it",
)
over(
    ("cluster",),
    "vault-http-proxy",
    "valid-ansible",
    VAULTED_PROXY,
    None,
    reach=frozenset({"m1", "w1"}),
    note="a vaulted setting is legal: cluster goes on to the hosts",
)
over(
    ("validate",),
    "vault-upstream-password",
    "valid-ansible",
    {
        "hosts.yml": hosts_yml(
            vars_="dlrs_upstream_registry_username: robot\n"
            f"dlrs_upstream_registry_password: {VAULT}"
        )
    },
    0,
    "OK",
    # with its user name: a password alone is refused (the two come together)
    note="a vaulted secret is legal; its value cannot be checked",
)

# --- facts files (tune --facts)
DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_OBJ = '{"ansible_facts": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"
FACTS_FILES = [
    ("deep-array", DEEP_JSON, ()),
    ("deep-object", DEEP_OBJ, ()),
    ("deep-payload", json.dumps({"__payload__": DEEP_JSON}), ()),
    ("devnull", DEVNULL, ()),
    ("fifo", FIFO, ()),
    ("dir", DIR, ()),
    ("loop", LOOP, ()),
    ("binary", bytes(range(256)) * 8, ()),
    ("utf16", GOOD_FACTS.encode("utf-16"), ("utf-16",)),
    ("list", "[1, 2, 3]", ()),
    ("facts-not-object", '{"ansible_facts": [1]}', ()),
    (
        "string-count",
        '{"ansible_facts": {"ansible_processor_count": "two", "ansible_processor_cores": 4,'
        ' "ansible_processor_threads_per_core": 2, "ansible_processor_vcpus": 16}}',
        ("ansible_processor_count",),
    ),
    (
        "zero-cores",
        '{"ansible_facts": {"ansible_processor_count": 1, "ansible_processor_cores": 0,'
        ' "ansible_processor_threads_per_core": 2, "ansible_processor_vcpus": 0}}',
        ("ansible_processor_cores",),
    ),
    (
        "negative-sockets",
        '{"ansible_facts": {"ansible_processor_count": -2, "ansible_processor_cores": 4,'
        ' "ansible_processor_threads_per_core": 2, "ansible_processor_vcpus": 16}}',
        ("ansible_processor_count",),
    ),
    (
        "nan-threads",
        '{"ansible_facts": {"ansible_processor_count": 1, "ansible_processor_cores": 4,'
        ' "ansible_processor_threads_per_core": NaN, "ansible_processor_vcpus": 8}}',
        ("ansible_processor_threads_per_core",),
    ),
    (
        "huge-cores",
        '{"ansible_facts": {"ansible_processor_count": 1, "ansible_processor_cores": 1e400,'
        ' "ansible_processor_threads_per_core": 1, "ansible_processor_vcpus": 8}}',
        ("ansible_processor_cores",),
    ),
    (
        "bool-sockets",
        '{"ansible_facts": {"ansible_processor_count": true, "ansible_processor_cores": 4,'
        ' "ansible_processor_threads_per_core": 1, "ansible_processor_vcpus": 4}}',
        ("ansible_processor_count",),
    ),
]
for fid, body, culprit in FACTS_FILES:
    case(
        fid,
        "facts-file",
        ["tune", "--facts", "{d}/facts.json"],
        {"facts.json": body},
        2,
        "facts.json",
        *culprit,
    )
case("missing", "facts-file", ["tune", "--facts", "{d}/nope.json"], {}, 2, "nope.json")
case(
    "multi-deep",
    "facts-file",
    ["tune", "--mode", "multi", "--facts", "{d}/f.json"],
    {"f.json": DEEP_OBJ},
    2,
    "f.json",
)

# --- cached facts: <inventory dir>/.dlrs-provision/facts/<host>
# plan reports a host whose cache is unusable ("facts unusable ...: run preflight") and goes on
# (exit 0); render tfjob needs the workers' facts and refuses (exit 2); both name the file.
CACHED = [
    ("deep-array", DEEP_JSON),
    ("deep-object", DEEP_OBJ),
    ("deep-payload", json.dumps({"__payload__": DEEP_JSON})),
    ("dir", DIR),
    ("fifo", FIFO),
    ("devnull", DEVNULL),
    ("loop", LOOP),
    ("binary", bytes(range(256)) * 8),
    ("utf16", GOOD_FACTS.encode("utf-16")),
    ("list", "[]"),
    (
        "string-cores",
        '{"ansible_processor_count": 2, "ansible_processor_cores": "many",'
        ' "ansible_processor_threads_per_core": 2, "ansible_processor_vcpus": 8}',
    ),
]
NAMED = {"string-cores": "ansible_processor_cores"}  # the message names the fact, not the file
NOT_FILES = ("dir", "fifo", "devnull", "loop")  # no cache file: "no facts for w1" is right too
for cid, body in CACHED:
    files = {**GOOD_CACHED, f"{CACHE}/w1": body}
    where = () if cid in NOT_FILES else (NAMED.get(cid, "facts/w1"),)
    case(
        cid,
        "cached-facts",
        ["plan", "{d}/hosts.yml"],
        files,
        0,
        "w1",
        *where,
        note="plan goes on without the host's facts and names the file",
    )
    case(
        f"{cid}-render",
        "cached-facts",
        ["render", "tfjob", "{d}/hosts.yml"],
        files,
        2,
        "w1",
        *where,
    )
G2 = {"hosts.yml": GOOD, f"{CACHE}/s2_m1": GOOD_FACTS}
case(
    "deep-s2",
    "cached-facts",
    ["render", "tfjob", "{d}/hosts.yml"],
    {**G2, f"{CACHE}/s2_w1": DEEP_JSON},
    2,
    "w1",
    "s2_w1",
)
case(
    "fifo-s2",
    "cached-facts",
    ["render", "tfjob", "{d}/hosts.yml"],
    {**G2, f"{CACHE}/s2_w1": FIFO},
    2,
    "w1",
)
case(
    "deep-s2-plan",
    "cached-facts",
    ["plan", "{d}/hosts.yml"],
    {**G2, f"{CACHE}/s2_w1": DEEP_OBJ},
    0,
    "w1",
    "s2_w1",
)
case(
    "facts-dir-is-file",
    "cached-facts",
    ["plan", "{d}/hosts.yml", "--facts-dir", "{d}/f"],
    {"hosts.yml": GOOD, "f": "x"},
    2,
    "{d}/f",
)
case(
    "facts-dir-is-fifo",
    "cached-facts",
    ["render", "tfjob", "{d}/hosts.yml", "--facts-dir", "{d}/f"],
    {"hosts.yml": GOOD, "f": FIFO},
    2,
    "{d}/f",
)

# --- the state folder is a file: the controller's state is unusable (exit 3, no crash)
STATE_CODES = {
    "plan": (0, 2, 3),
    "render": (2, 3),
    "benchmark": (2, 3),
    "preflight": 3,
    "cluster": 3,
}
for cmd, codes in STATE_CODES.items():
    case(
        f"is-file-{cmd}",
        "state-folder",
        INV_COMMANDS[cmd]("{d}/hosts.yml"),
        {"hosts.yml": GOOD, ".dlrs-provision": "not a folder"},
        codes,
        ".dlrs-provision",
        note="the commands that write state refuse with exit 3; readers may go on",
    )
    case(
        f"facts-is-file-{cmd}",
        "state-folder",
        INV_COMMANDS[cmd]("{d}/hosts.yml"),
        {"hosts.yml": GOOD, ".dlrs-provision/facts": "not a folder"},
        codes,
        ".dlrs-provision/facts",
    )
case(
    "runs-is-file-cluster",
    "state-folder",
    ["cluster", "{d}/hosts.yml"],
    {"hosts.yml": GOOD, ".dlrs-provision/runs": "not a folder"},
    3,
    ".dlrs-provision/runs",
)

# --- options
R = ["render", "tfjob", "{d}/hosts.yml"]
for oid, extra, culprit in [
    ("ps-huge", ["--ps", "1000000"], ("--ps", "PS replica")),
    ("ps-zero", ["--ps", "0"], ("--ps", "ps >= 1")),
    ("ps-negative", ["--ps", "-1"], ("--ps", "ps >= 1")),
    ("model-semicolon", ["--model", "resnet50;id"], "--model"),
    ("model-newline", ["--model", "resnet50\nx"], "--model"),
    ("model-template", ["--model", "{{ lookup('pipe','id') }}"], "--model"),
    ("batch-zero", ["--batch-size", "0"], ("--batch-size", "batch_size")),
    ("num-batches-negative", ["--num-batches", "-5"], ("--num-batches", "num_batches")),
    ("workers-unknown", ["--workers", "nosuch"], "nosuch"),
    ("workers-empty-item", ["--workers", "w1,,"], ("--workers", "workers:")),
    ("workers-master", ["--workers", "m1;x"], "m1;x"),
    ("out-missing-folder", ["--out", "{d}/no/such/dir/job.yml"], "{d}/no/such/dir"),
    ("out-is-dir", ["--out", "{d}"], "{d}"),
    ("out-devnull-dir", ["--out", "/dev/null/job.yml"], "/dev/null"),
]:
    case(oid, "option-render", R + extra, GOOD_CACHED, 2, culprit)

B = ["benchmark", "{d}/hosts.yml"]
for oid, extra, culprit in [
    ("repo-dash", ["--benchmark-repo=--upload-pack=id"], "--benchmark-repo"),
    ("repo-dash-o", ["--benchmark-repo=-oProxyCommand=id"], "--benchmark-repo"),
    ("ref-dash", ["--benchmark-ref=--output=/etc/x"], "--benchmark-ref"),
    ("repo-template", ["--benchmark-repo", "{{ lookup('pipe', 'id') }}"], "--benchmark-repo"),
    ("ref-template", ["--benchmark-ref", "{{ lookup('pipe', 'id') }}"], "--benchmark-ref"),
    ("repo-ext-transport", ["--benchmark-repo", "ext::sh -c id"], "--benchmark-repo"),
    ("ref-space", ["--benchmark-ref", "master; id"], "--benchmark-ref"),
    ("model-semicolon", ["--model", "resnet50;id"], "--model"),
    ("model-template", ["--model", "{{ 7 * 7 }}"], "--model"),
    ("image-space", ["--image", "clearlinux/x y"], "--image"),
    ("image-template", ["--image", "{{ lookup('env','HOME') }}"], "--image"),
    ("batch-zero", ["--batch-size", "0"], "--batch-size"),
    ("num-batches-zero", ["--num-batches", "0"], "--num-batches"),
    ("timeout-zero", ["--timeout", "0"], "--timeout"),
    ("timeout-negative", ["--timeout", "-1"], "--timeout"),
    ("limit-unknown", ["--limit", "nosuch"], "nosuch"),
    ("limit-semicolon", ["--limit", "w1;id"], "w1;id"),
]:
    case(oid, "option-benchmark", B + extra, GOOD_CACHED, 2, culprit)

LOAD = ["images", "load", "{d}/a.tar", "{d}/hosts.yml"]
LOCAL = {
    "hosts.yml": hosts_yml(vars_="dlrs_registry_mode: local"),
    ".dlrs-provision/pki/ca.crt": ca_certificate(),
    "a.tar": empty_archive(),
}
for oid, extra, culprit in [
    ("registry-port-range", ["--registry", "m1:99999"], "99999"),
    ("registry-port-zero", ["--registry", "m1:0"], "--registry"),
    ("registry-port-text", ["--registry", "m1:abc"], "--registry"),
    ("registry-url", ["--registry", "https://m1:5000"], "--registry"),
    ("registry-space", ["--registry", "m1 x:5000"], "--registry"),
    ("registry-newline", ["--registry", "m1:5000\nx"], "--registry"),
]:
    case(f"load-{oid}", "option-images", LOAD + extra, LOCAL, 2, culprit)
for oid, archive, culprit in [
    ("archive-missing", None, "a.tar"),
    ("archive-devnull", DEVNULL, "a.tar"),
    ("archive-dir", DIR, "a.tar"),
    ("archive-fifo", FIFO, "a.tar"),
    ("archive-garbage", b"\x00garbage" * 100, "a.tar"),
]:
    files = {"hosts.yml": GOOD, **({"a.tar": archive} if archive is not None else {})}
    case(f"load-{oid}", "option-images", LOAD, files, 2, culprit)
for bid, body in (("garbage", "not a certificate\n"), ("dir", DIR), ("fifo", FIFO)):
    case(
        f"load-ca-{bid}",
        "state-folder",
        LOAD,
        {**LOCAL, ".dlrs-provision/pki/ca.crt": body},
        (2, 3),
        "ca.crt",
        note="the cluster CA in the state folder is unusable",
    )
SAVE = ["images", "save", "--image", "clearlinux/stacks-dlaas-mkl:latest"]
for oid, extra, files, culprit in [
    ("out-missing-folder", ["-o", "{d}/no/such/a.tar"], {}, "{d}/no/such"),
    ("out-is-dir", ["-o", "{d}"], {}, "{d}"),
    ("ca-file-missing", ["-o", "{d}/a.tar", "--ca-file", "{d}/ca.pem"], {}, "ca.pem"),
    (
        "ca-file-garbage",
        ["-o", "{d}/a.tar", "--ca-file", "{d}/ca.pem"],
        {"ca.pem": "not a cert\n"},
        "ca.pem",
    ),
    ("ca-file-dir", ["-o", "{d}/a.tar", "--ca-file", "{d}/ca.pem"], {"ca.pem": DIR}, "ca.pem"),
    (
        "ca-file-binary",
        ["-o", "{d}/a.tar", "--ca-file", "{d}/ca.pem"],
        {"ca.pem": bytes(range(256))},
        "ca.pem",
    ),
    ("registry-port-range", ["-o", "{d}/a.tar", "--registry", "r.example.com:99999"], {}, "99999"),
    ("registry-space", ["-o", "{d}/a.tar", "--registry", "r x"], {}, "--registry"),
    (
        "insecure-as-url",
        ["-o", "{d}/a.tar", "--insecure-registry", "http://r:5000"],
        {},
        "--insecure-registry",
    ),
    ("image-semicolon", ["-o", "{d}/a.tar", "--image", "x;id"], {}, "x;id"),
    ("image-newline", ["-o", "{d}/a.tar", "--image", "x\ny"], {}, ("--image", "image reference")),
    ("platform-garbage", ["-o", "{d}/a.tar", "--platform", "linux/amd64;x"], {}, "--platform"),
    ("inventory-missing", ["-o", "{d}/a.tar", "--inventory", "{d}/nope.yml"], {}, "nope.yml"),
]:
    case(f"save-{oid}", "option-images", SAVE + extra, files, 2, culprit)

T = ["tune", "--facts", "{d}/f.json"]
for oid, extra, culprit in [
    ("no-facts", [], "--facts"),
    ("mode-bad", ["--mode", "triple"], "--mode"),
    ("variant-bad", ["--variant", "x;y"], "--variant"),
]:
    case(
        oid,
        "option-tune",
        (["tune"] if oid == "no-facts" else T) + extra,
        {"f.json": GOOD_FACTS},
        2,
        culprit,
    )
FAKE_TF = {"python": Exec("#!/bin/sh\nexit 0\n")}  # answers the TensorFlow probe; runs nothing
case(
    "sweep-inter-letters",
    "option-tune",
    ["tune", "--sweep", "--inter", "a,b", "--python", "{d}/python"],
    FAKE_TF,
    2,
    "--inter",
)
case(
    "sweep-intra-zero",
    "option-tune",
    ["tune", "--sweep", "--intra", "0", "--python", "{d}/python"],
    FAKE_TF,
    2,
    ("--intra", "thread counts"),
)
case(
    "sweep-repeats-zero",
    "option-tune",
    ["tune", "--sweep", "--repeats", "0", "--python", "{d}/python"],
    FAKE_TF,
    2,
    "--repeats",
)
case(
    "plan-facts-dir-missing",
    "option-plan",
    ["plan", "{d}/hosts.yml", "--facts-dir", "{d}/nope"],
    {"hosts.yml": GOOD},
    2,
    "{d}/nope",
)
case("unknown-command", "option-cli", ["frobnicate"], {}, 2, "frobnicate")
case("no-inventory", "option-cli", ["validate"], {}, 2, "inventory")

# --- --limit: the same meaning in every command
for cmd in ("preflight", "cluster", "benchmark", "reset"):
    argv = INV_COMMANDS[cmd]("{d}/hosts.yml")
    case(f"unknown-{cmd}", "limit", [*argv, "--limit", "nosuch"], GOOD_CACHED, 2, "nosuch")
    case(
        f"unknown-among-known-{cmd}",
        "limit",
        [*argv, "--limit", "w1,nosuch"],
        GOOD_CACHED,
        2,
        "nosuch",
    )
    case(
        f"one-host-{cmd}",
        "limit",
        [*argv, "--limit", "w1"],
        GOOD_CACHED,
        None,
        reach=frozenset({"w1"}),
        note="only the limited host is reached",
    )
    case(
        f"group-{cmd}",
        "limit",
        [*argv, "--limit", "workers"],
        GOOD_CACHED,
        None,
        reach=frozenset({"w1"}),
        note="a group in --limit means its hosts, as in Ansible",
    )
    case(f"empty-{cmd}", "limit", [*argv, "--limit", ","], GOOD_CACHED, 2, "--limit")
# scale: the same --limit; the master is reached in every run (it lists the Nodes)
SCALE = ["scale", "{d}/hosts.yml"]
case("unknown-scale", "limit", [*SCALE, "--limit", "nosuch"], GOOD_CACHED, 2, "nosuch")
case("empty-scale", "limit", [*SCALE, "--limit", ","], GOOD_CACHED, 2, "--limit")
case(
    "one-host-scale",
    "limit",
    [*SCALE, "--limit", "w1"],
    GOOD_CACHED,
    None,
    reach=frozenset({"m1", "w1"}),
    note="the limited worker, and the master that lists the Nodes",
)
# remove-node: NODE is one worker of the inventory, never the master; only it and the master
# are reached
REMOVE = ["remove-node", "{d}/hosts.yml"]
case("unknown-node", "node", [*REMOVE, "nosuch"], GOOD_CACHED, 2, "nosuch")
case("master-node", "node", [*REMOVE, "m1"], GOOD_CACHED, 2, "m1 is the master")
case("group-node", "node", [*REMOVE, "workers"], GOOD_CACHED, 2, "workers")
case("bad-timeout-node", "node", [*REMOVE, "w1", "--timeout", "5"], GOOD_CACHED, 2, "--timeout")
case("one-node", "node", [*REMOVE, "w1"], GOOD_CACHED, None, reach=frozenset({"m1", "w1"}))
# upgrade: --to is an exact 1.x release from 1.22 that the Clear Linux nodes can install, never a
# shell word or a template; the master is reached in every run
UPGRADE = ["upgrade", "{d}/hosts.yml"]
for id_, value, culprit in (
    ("minor-alone", "1.32", "exact Kubernetes release"),
    ("shell-word", "1.32.3;id", "exact Kubernetes release"),
    ("command-substitution", "$(id)", "exact Kubernetes release"),
    ("template", "{{ lookup('pipe','id') }}", "exact Kubernetes release"),
    ("empty", "", "empty"),
    ("too-old", "1.21.0", "older than 1.22"),
    ("not-1x", "2.1.1", "not a 1.x release"),
    ("huge", "9" * 5000 + ".1.1", "--to"),
    ("nul", "1.32.3\x00", "--to"),
    ("unicode-digits", "\u0661.\u0663\u0662.\u0663", "exact Kubernetes release"),
    ("no-checksums", "1.33.0", "dlrs_kubernetes_binary_checksums"),
):
    case(f"to-{id_}", "upgrade", [*UPGRADE, "--to", value], GOOD_CACHED, 2, culprit)
case("no-to", "upgrade", UPGRADE, GOOD_CACHED, 2, "--to")
for id_, value in (("zero", "0"), ("negative", "-1"), ("word", "x"), ("huge", "9" * 400)):
    case(f"batch-{id_}", "upgrade", [*UPGRADE, "--to", "1.32.3", "--batch-size", value],
         GOOD_CACHED, 2, "--batch-size")  # fmt: skip
case("drain-timeout", "upgrade", [*UPGRADE, "--to", "1.32.3", "--drain-timeout", "5"],
     GOOD_CACHED, 2, "--drain-timeout")  # fmt: skip
case("unknown-upgrade", "limit", [*UPGRADE, "--to", "1.32.3", "--limit", "nosuch"], GOOD_CACHED,
     2, "nosuch")  # fmt: skip
case(
    "one-host-upgrade",
    "limit",
    [*UPGRADE, "--to", "1.32.3", "--limit", "w1"],
    GOOD_CACHED,
    None,
    reach=frozenset({"m1", "w1"}),
    note="the limited worker, and the master that is upgraded first",
)
for cmd in ("preflight", "cluster", "reset"):
    case(
        f"none-{cmd}",
        "limit",
        INV_COMMANDS[cmd]("{d}/hosts.yml"),
        GOOD_CACHED,
        None,
        reach=frozenset({"m1", "w1"}),
        note="no --limit: every host",
    )


# --------------------------------------------------------------------------- running a case


class HostReached(BaseException):
    """Raised by every fake of what touches a host; a BaseException so that no `except
    Exception` in the product swallows it."""

    def __init__(self, what: str, hosts: frozenset[str] | None = None):
        super().__init__(what)
        self.what = what
        self.hosts = hosts


LOCAL_PROBES = {"ldconfig", "uname"}


class CaseTimeout(BaseException):
    pass


def _guard(monkeypatch: pytest.MonkeyPatch, d: Path) -> None:
    """Fake everything that reaches a host (or runs a tool that does) to raise HostReached."""
    from dlrs_provision import preflight, reach, runner
    from dlrs_provision.benchmark import run as bench

    def fake_check_reach(inv, hosts, *a, **kw):
        raise HostReached("reach", frozenset(hosts))

    def raiser(what: str):
        def fake(*a, **kw):
            raise HostReached(what)

        return fake

    monkeypatch.setattr(preflight, "check_reach", fake_check_reach)
    monkeypatch.setattr(reach, "check_hosts", raiser("reach.check_hosts"))
    monkeypatch.setattr(runner, "run_playbook", raiser("runner.run_playbook"))
    monkeypatch.setattr(bench, "execute", raiser("benchmark execute"))
    monkeypatch.setattr(socket.socket, "connect", raiser("socket connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", raiser("socket connect"))
    monkeypatch.setattr(socket, "create_connection", raiser("socket create_connection"))
    real_popen = subprocess.Popen

    class GuardedPopen(real_popen):  # type: ignore[misc, valid-type]
        """Local probes that touch nothing (ctypes asks ldconfig for libc) run; anything else
        (ansible-playbook, ssh, git, docker) counts as reaching the hosts."""

        def __init__(self, args, *a, **kw):
            argv0 = args if isinstance(args, str) else (list(args) or [""])[0]
            inside = str(argv0).startswith(str(d) + os.sep)
            if Path(str(argv0)).name not in LOCAL_PROBES and not inside:
                raise HostReached(f"subprocess {Path(str(argv0)).name}")
            super().__init__(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", GuardedPopen)


def _alarm(signum, frame):
    raise CaseTimeout()


NOBODY = 65534


def _warm_up(d: Path, capsys) -> None:
    """Import what the commands import (lazily) while root can still read the interpreter's own
    files: once the case runs as nobody, a first import would fail for reasons of its own."""
    import dlrs_provision.benchmark.run
    import dlrs_provision.images
    import dlrs_provision.plan
    import dlrs_provision.tfjob  # noqa: F401

    good = d.parent / "warm-up"
    build(good, GOOD_CACHED)
    cli.main(["validate", str(good / "hosts.yml")])
    cli.main(["plan", str(good / "hosts.yml")])
    capsys.readouterr()


@contextlib.contextmanager
def _unprivileged(d: Path, unreadable: tuple[str, ...]):
    """Make the paths unreadable and, as root reads everything anyway, run as nobody."""
    if not unreadable:
        yield
        return
    for rel in unreadable:
        (d / rel).chmod(0)
    root = os.geteuid() == 0
    try:
        if root:
            os.setegid(NOBODY)
            os.seteuid(NOBODY)
        yield
    finally:
        if root:
            os.seteuid(0)
            os.setegid(0)
        for rel in unreadable:
            (d / rel).chmod(0o755)


def _fill(text: str, d: Path) -> str:
    return text.replace("{d}", str(d))


@dataclass
class Outcome:
    code: int | None
    out: str
    reached: HostReached | None = None
    crash: str = ""
    seconds: float = 0.0


def run_in_process(c: Case, d: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Outcome:
    build(d, c.files)
    if c.unreadable:
        _warm_up(d, capsys)
    monkeypatch.chdir(d)
    monkeypatch.delenv("DLRS_PROVISION_STATE", raising=False)
    for k, v in c.env.items():
        monkeypatch.setenv(k, _fill(v, d))
    _guard(monkeypatch, d)
    argv = [_fill(a, d) for a in c.argv]
    code: int | None = None
    reached = None
    crash = ""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(c.timeout)
    start = time.monotonic()
    try:
        with _unprivileged(d, c.unreadable):
            code = cli.main(argv)
    except SystemExit as exc:  # argparse; sys.exit(): None is 0, a message is 1, as Python exits
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except HostReached as exc:
        reached = exc
    except CaseTimeout:
        crash = f"hung: no answer within {c.timeout} s"
    except BaseException as exc:
        crash = "traceback: " + "".join(traceback.format_exception_only(type(exc), exc)).strip()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        monkeypatch.undo()
    captured = capsys.readouterr()
    return Outcome(code, captured.out + captured.err, reached, crash, time.monotonic() - start)


def verdict(c: Case, o: Outcome, d: Path) -> str:
    """Why the case fails ('' when it passes): one line."""
    if o.crash:
        return o.crash[:300]
    if "Traceback (most recent call last)" in o.out:
        return "traceback in the output"
    if c.code is None:
        if o.reached is None:
            return f"exit {o.code}, expected it to reach {sorted(c.reach or ())}: " + _first(o.out)
        if o.reached.hosts is not None and c.reach is not None and o.reached.hosts != c.reach:
            return f"reached {sorted(o.reached.hosts)}, expected {sorted(c.reach)}"
        return ""
    if o.reached is not None:
        hosts = f" {sorted(o.reached.hosts)}" if o.reached.hosts else ""
        return f"accepted: reached the hosts ({o.reached.what}{hosts}) instead of exit {c.code}"
    codes = c.code if isinstance(c.code, tuple) else (c.code,)
    if o.code not in codes:
        kind = "accepted" if o.code == 0 else "wrong exit"
        want = " or ".join(str(x) for x in codes)
        return f"{kind}: exit {o.code}, expected {want}: " + _first(o.out)
    low = o.out.lower()
    for want in c.culprit:
        alts = want if isinstance(want, tuple) else (want,)
        if not any(_fill(a, d).lower() in low for a in alts):
            return f"wrong message: no {' / '.join(repr(_fill(a, d)) for a in alts)} in: " + _first(
                o.out
            )
    return ""


def _record(cls: str, case_id: str, why: str, d: Path, extra: str = "") -> None:
    """DLRS_CORPUS_REPORT=FILE: one line per case (class, id, pass/FAIL, why), for the summary."""
    report = os.environ.get("DLRS_CORPUS_REPORT")
    if report:
        with open(report, "a") as f:
            verdict_ = "FAIL" if why else "pass"
            f.write(f"{cls}\t{case_id}\t{verdict_}\t{why.replace(str(d), 'D')}{extra}\n")


def _first(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[:3])[:240] or "(no output)"


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hostile_input(c: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    if c.unreadable:  # nobody must reach the case folder: pytest's own is root's alone (0700)
        top = Path(tempfile.mkdtemp(prefix="dlrs-corpus-"))
        top.chmod(0o755)
        d = top / "case"
    else:
        top = None
        d = tmp_path / "case"
    d.mkdir()
    try:
        o = run_in_process(c, d, monkeypatch, capsys)
    finally:
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)
    why = verdict(c, o, d)
    _record(c.cls, c.id, why, d, "" if why else f"({o.code}) {_first(o.out)}")
    if why:  # no traceback of the test itself: the line says it all
        pytest.fail(f"{c.id}: {why}" + (f"\n  note: {c.note}" if c.note else ""), pytrace=False)


def test_corpus_covers_every_command_and_class() -> None:
    """The corpus stays a net over every command and every input class of issue #14."""
    from dlrs_provision.commands import BUILTIN

    # a module per command, named as the command with '_' for '-' (remove_node: remove-node)
    commands = {m.__name__.rsplit(".", 1)[1].replace("_", "-") for m in BUILTIN}
    used = {c.argv[0] for c in CASES}
    assert commands <= used, f"no case for {sorted(commands - used)}"
    classes = {c.cls for c in CASES}
    for cls in (
        "host-range",
        "host-name",
        "inventory-file",
        "setting",
        "valid-ansible",
        "facts-file",
        "cached-facts",
        "state-folder",
        "limit",
    ):
        assert cls in classes
    assert len(CASES) >= 150


# --------------------------------------------------------------------------- resource exhaustion
# In a subprocess with 1 GiB of address space and 10 s: the answer must be a clear refusal, well
# before the limits (no MemoryError, no hang).


def alias_bomb(levels: int = 9) -> str:
    """About 1 KB of YAML whose aliases expand to 10**levels strings."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def big_inventory(megabytes: int = 5) -> str:
    """A plain inventory of many hosts, `megabytes` large."""
    head = "all:\n  children:\n    masters:\n      hosts:\n        m1: {ansible_host: 10.0.0.1}\n"
    head += "    workers:\n      hosts:\n"
    line = "        w{:07d}: {{ansible_host: 10.1.{}.{}}}\n"
    out, size, i = [head], len(head), 0
    while size < megabytes * 1_000_000:
        text = line.format(i, (i // 250) % 250, i % 250 + 1)
        out.append(text)
        size += len(text)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Bomb:
    id: str
    argv: tuple[str, ...]
    files: dict[str, Any]
    codes: tuple[int, ...]
    culprit: tuple[Any, ...]
    note: str = ""


BOMB_VARS = "all:\n  vars:\n" + textwrap.indent(alias_bomb(), "    ")
BOMBS = [
    Bomb(
        "alias-bomb-validate",
        ("validate", "{d}/hosts.yml"),
        {"hosts.yml": BOMB_VARS + GOOD.split("\n", 2)[2]},
        (2,),
        ("hosts.yml", "alias"),
    ),
    Bomb(
        "alias-bomb-group-vars",
        ("cluster", "{d}/inv"),
        {"inv/hosts.yml": GOOD, "inv/group_vars/all.yml": alias_bomb()},
        (2,),
        ("group_vars/all.yml", "alias"),
    ),
    Bomb(
        "alias-bomb-host-vars",
        ("plan", "{d}/inv"),
        {"inv/hosts.yml": GOOD, "inv/host_vars/w1.yml": alias_bomb()},
        (2,),
        ("host_vars/w1.yml", "alias"),
    ),
    Bomb(
        "deep-yaml",
        ("validate", "{d}/hosts.yml"),
        {"hosts.yml": hosts_yml(vars_="dlrs_x_deep: " + "[" * 50_000 + "]" * 50_000)},
        (2,),
        ("hosts.yml",),
    ),
    Bomb(
        "huge-range",
        ("validate", "{d}/hosts.yml"),
        {"hosts.yml": hosts_yml(workers="w[0000000000:9999999999]: {}")},
        (2,),
        ("w[0000000000:9999999999]",),
    ),
    Bomb(
        "huge-range-product",
        ("validate", "{d}/hosts.yml"),
        {"hosts.yml": hosts_yml(workers="w[0:99999]x[0:99999]: {}")},
        (2,),
        ("w[0:99999]x[0:99999]",),
    ),
    Bomb(
        "five-mb-inventory",
        ("validate", "{d}/hosts.yml"),
        {"hosts.yml": big_inventory(5)},
        (0, 2),
        ("hosts.yml",),
        note="41 s in issue #14: answer (or refuse it as too large) within 10 s",
    ),
]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (BOMB_MEMORY, BOMB_MEMORY))


@pytest.mark.parametrize("b", BOMBS, ids=[f"exhaustion-{b.id}" for b in BOMBS])
def test_resource_exhaustion(b: Bomb, tmp_path: Path) -> None:
    d = tmp_path / "case"
    d.mkdir()
    build(d, b.files)
    env = {k: v for k, v in os.environ.items() if k != "DLRS_PROVISION_STATE"}
    argv = [_fill(a, d) for a in b.argv]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dlrs_provision", *argv],
            capture_output=True,
            text=True,
            timeout=BOMB_TIMEOUT_S,
            preexec_fn=_limit_memory,
            cwd=d,
            env=env,
        )
    except subprocess.TimeoutExpired:
        why = f"hung: no answer within {BOMB_TIMEOUT_S} s (1 GiB address space)"
    else:
        output = proc.stdout + proc.stderr
        why = ""
        if "Traceback" in output or "MemoryError" in output:
            why = "traceback: " + _first(output.strip().splitlines()[-1] if output.strip() else "")
        elif proc.returncode not in b.codes:
            want = " or ".join(map(str, b.codes))
            why = f"exit {proc.returncode}, expected {want}: {_first(output)}"
        else:
            for want in b.culprit:
                alts = want if isinstance(want, tuple) else (want,)
                if not any(_fill(a, d).lower() in output.lower() for a in alts):
                    why = f"wrong message: no {alts[0]!r} in: {_first(output)}"
                    break
    _record("exhaustion", f"exhaustion-{b.id}", why, d, f" ({time.monotonic() - start:.1f} s)")
    if why:
        pytest.fail(f"{b.id}: {why}" + (f"\n  note: {b.note}" if b.note else ""), pytrace=False)


def test_verdict_tells_each_failure(tmp_path: Path) -> None:
    """The judge itself can fail a case: a crash, an acceptance, a wrong code or message, a host
    reached, the wrong hosts reached."""
    c = Case("x", "x", (), {}, 2, ("dlrs_http_proxy",))
    assert verdict(c, Outcome(2, "error: dlrs_http_proxy: has a newline"), tmp_path) == ""
    assert verdict(c, Outcome(None, "", crash="traceback: KeyError"), tmp_path).startswith("trace")
    assert "traceback" in verdict(c, Outcome(2, "Traceback (most recent call last):"), tmp_path)
    assert verdict(c, Outcome(0, "OK"), tmp_path).startswith("accepted")
    assert verdict(c, Outcome(1, "dlrs_http_proxy"), tmp_path).startswith("wrong exit")
    assert verdict(c, Outcome(2, "error: bad"), tmp_path).startswith("wrong message")
    assert verdict(c, Outcome(None, "", HostReached("reach", frozenset({"m1"}))), tmp_path)
    r = Case("y", "y", (), {}, None, reach=frozenset({"w1"}))
    assert verdict(r, Outcome(None, "", HostReached("reach", frozenset({"w1"}))), tmp_path) == ""
    assert "expected ['w1']" in verdict(
        r, Outcome(None, "", HostReached("reach", frozenset({"m1", "w1"}))), tmp_path
    )
    assert verdict(r, Outcome(2, "error"), tmp_path).startswith("exit 2")


def test_guard_stops_every_way_to_a_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each faked entry point raises HostReached (a case that reaches one cannot pass quietly)."""
    from dlrs_provision import preflight, reach, runner

    _guard(monkeypatch, tmp_path)
    calls = [
        lambda: preflight.check_reach(None, ["m1"]),
        lambda: reach.check_hosts([]),
        lambda: runner.run_playbook(None, None),
        lambda: socket.create_connection(("192.0.2.1", 22)),
        lambda: socket.socket().connect(("192.0.2.1", 22)),
        lambda: subprocess.run(["ansible-playbook", "--version"]),
        lambda: subprocess.run(["git", "--version"]),
    ]
    for call in calls:
        with pytest.raises(HostReached):
            call()
