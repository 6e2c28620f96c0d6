"""What the toolkit downloads is pinned: the benchmark code by commit, the git image by digest."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from dlrs_provision import benchmark_defaults, catalog, cli, openpgp, runner, tfjob

REPO = Path(__file__).resolve().parents[2]


def test_every_variant_runs_a_pinned_commit():
    for v in catalog.VARIANTS.values():
        assert benchmark_defaults.is_commit(v.benchmark_commit), v.name
        assert v.benchmark_commit == benchmark_defaults.BENCHMARK_COMMITS[v.benchmark_ref]


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("v1.0", "neither a full commit id"),
        ("cnn_tf_v1.12_compatible\n", "neither a full commit id"),
        ("EC056BE57F189EC96611A58E8DC5562A6D620139", "in lower case"),
        ("ec056be57f", "not an abbreviation"),
        ("--upload-pack=id", "neither a full commit id"),
        (None, "NoneType None"),
        (["master"], "list"),
    ],
)
def test_a_ref_must_be_a_commit_or_a_pinned_branch(ref, words):
    with pytest.raises(ValueError, match=words):
        benchmark_defaults.benchmark_commit(ref)


def test_a_commit_and_a_pinned_branch_resolve():
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert benchmark_defaults.benchmark_commit(commit) == commit
    assert (
        benchmark_defaults.benchmark_commit("master")
        == (benchmark_defaults.BENCHMARK_COMMITS["master"])
    )


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_init_script_fetches_exactly_the_commit_and_refuses_another(tmp_path):
    """The init container's own script, run with sh against a real repository."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    _git("init", "-q", "-b", "main", cwd=upstream)
    (upstream / "a.txt").write_text("one\n")
    _git("add", "a.txt", cwd=upstream)
    _git("commit", "-q", "-m", "one", cwd=upstream)
    first = _git("rev-parse", "HEAD", cwd=upstream)
    (upstream / "a.txt").write_text("two\n")
    _git("commit", "-q", "-am", "two", cwd=upstream)
    url = upstream.as_uri()

    def fetch(dest: Path, commit: str) -> subprocess.CompletedProcess:
        dest.mkdir()
        return subprocess.run(
            ["sh", "-c", tfjob.GIT_FETCH_SCRIPT, str(dest), url, commit],
            capture_output=True, text=True,
        )  # fmt: skip

    ok = fetch(tmp_path / "ok", first)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / "a.txt").read_text() == "one\n"  # the pinned commit, not the tip
    assert _git("rev-parse", "HEAD", cwd=tmp_path / "ok") == first
    missing = fetch(tmp_path / "missing", "f" * 40)
    assert missing.returncode != 0 and not (tmp_path / "missing" / "a.txt").exists()


def test_the_git_image_is_pinned_by_digest():
    assert "@sha256:" in tfjob.DEFAULT_GIT_IMAGE
    digest = tfjob.DEFAULT_GIT_IMAGE.rsplit("@sha256:", 1)[1]
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")


def test_the_role_checks_out_the_pinned_commit_only():
    tasks = yaml.safe_load((REPO / "roles/benchmark/tasks/checkout.yml").read_text())
    (checkout,) = [t for t in tasks if "ansible.builtin.git" in t]
    assert checkout["ansible.builtin.git"]["version"] == "{{ _benchmark_commit }}"
    assert checkout["vars"]["_benchmark_commit"] == "{{ benchmark_ref | dlrs_benchmark_commit }}"
    (check,) = [t for t in tasks if t.get("name") == "Check that the checkout is the pinned commit"]
    (that,) = check["ansible.builtin.assert"]["that"]
    assert "_benchmark_checkout.after == _benchmark_commit" in that


def test_the_filter_resolves_and_refuses():
    from ansible.errors import AnsibleFilterError

    from dlrs_provision.ansible_plugins.filter import dlrs_settings

    assert dlrs_settings.dlrs_benchmark_commit("cnn_tf_v1.12_compatible") == (
        catalog.VARIANTS["mkl"].benchmark_commit
    )
    with pytest.raises(AnsibleFilterError, match="benchmark_ref: 'dev' is neither"):
        dlrs_settings.dlrs_benchmark_commit("dev")


def test_cli_refuses_a_ref_that_is_no_commit_before_any_host(tmp_path, capsys):
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  children:\n    masters:\n      hosts:\n        m1: {}\n")
    rc = cli.main(["benchmark", str(inv), "--benchmark-ref=-oProxyCommand=x"])
    err = capsys.readouterr().err
    assert rc == 2, err
    # the option's own check (git-safe) refuses it first, naming the option
    assert "--benchmark-ref" in err and "starts with '-'" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- signing keys

GPG = shutil.which("gpg")


def _gpg_keys(tmp_path: Path, *algorithms: str) -> tuple[bytes, bytes, list[str]]:
    """Fresh keys made by gpg: (armoured export, binary export, fingerprints gpg gives)."""
    home = Path(tempfile.mkdtemp(prefix="dlrs-pin-", dir="/tmp"))  # gpg-agent's socket path
    try:
        for n, algorithm in enumerate(algorithms):
            subprocess.run(
                [GPG, "--homedir", str(home), "--batch", "--passphrase", "",
                 "--quick-generate-key", f"test{n} <t{n}@example.invalid>", algorithm,
                 "sign,encr" if algorithm.startswith("rsa") else "sign", "never"],
                check=True, capture_output=True,
            )  # fmt: skip
        armoured = subprocess.run(
            [GPG, "--homedir", str(home), "--armor", "--export"], check=True, capture_output=True
        ).stdout
        binary = subprocess.run(
            [GPG, "--homedir", str(home), "--export"], check=True, capture_output=True
        ).stdout
        listing = subprocess.run(
            [GPG, "--homedir", str(home), "--show-keys", "--with-colons"],
            input=armoured, check=True, capture_output=True,
        ).stdout.decode()  # fmt: skip
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    primaries, last = [], ""
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub"):
            last = fields[0]
        elif fields[0] == "fpr" and last == "pub":
            primaries.append(fields[9])
            last = ""
    return armoured, binary, primaries


@pytest.mark.skipif(GPG is None, reason="needs gpg, to make keys and read them independently")
def test_the_parser_reads_the_fingerprints_gpg_reads(tmp_path):
    armoured, binary, expected = _gpg_keys(tmp_path, "rsa2048", "ed25519")
    assert len(expected) == 2  # the subkey of the RSA key is not a primary key
    assert openpgp.fingerprints(armoured) == expected
    assert openpgp.fingerprints(binary) == expected
    assert openpgp.fingerprints(armoured.decode()) == expected  # as uri's content gives it
    assert openpgp.fingerprint_problem(armoured, [f.lower() for f in expected]) == ""
    spaced = [" ".join(f[i : i + 4] for i in range(0, 40, 4)) for f in expected]
    assert openpgp.fingerprint_problem(binary, spaced) == ""
    # one key pinned, the file holds another too: refused, naming the stranger
    problem = openpgp.fingerprint_problem(armoured, expected[:1], "the key")
    assert expected[1] in problem and "not pinned" in problem


@pytest.mark.skipif(GPG is None, reason="needs gpg to make a key")
def test_a_damaged_or_foreign_key_file_is_refused(tmp_path):
    armoured, binary, expected = _gpg_keys(tmp_path, "ed25519")
    lines = armoured.splitlines()
    body = [i for i, line in enumerate(lines) if line and not line.startswith(b"-")][1]
    flipped = bytearray(lines[body])
    flipped[5] = ord("A") if flipped[5] != ord("A") else ord("B")
    damaged = b"\n".join([*lines[:body], bytes(flipped), *lines[body + 1 :]])
    for content, words in (
        (damaged, "checksum does not match"),
        (armoured[: len(armoured) // 2], "no END line"),
        (binary[:-7], "cut short"),
        (b"<html>not found</html>", "neither an OpenPGP key"),
        (b"", "no public key"),
        (b"-----BEGIN PGP SIGNATURE-----\n\n=AAAA\n-----END PGP SIGNATURE-----\n", "no PUBLIC"),
    ):
        problem = openpgp.fingerprint_problem(content, expected)
        assert "is no OpenPGP public key file" in problem and words in problem, problem


@pytest.mark.parametrize(
    ("url", "allow", "words"),
    [
        ("https://download.docker.com/linux/debian/gpg", False, ""),
        ("file:///srv/k8s-repo/Release.key", False, ""),
        ("http://mirror:8080/k8s/Release.key", True, ""),
        ("http://mirror:8080/k8s/Release.key", False, "plain HTTP"),
        ("HTTP://mirror/Release.key", False, "plain HTTP"),
        ("ftp://mirror/Release.key", True, "no https://"),
        ("file://host/Release.key", False, "no https://"),
        ("", False, "no address"),
    ],
)
def test_keys_come_over_https_only(url, allow, words):
    problem = openpgp.url_problem(url, allow)
    assert (words in problem) if words else problem == ""


def _write_inventory(tmp_path: Path, all_vars: str) -> Path:
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text(
        "all:\n  children:\n    masters:\n      hosts:\n        m1: {}\n"
        "    workers:\n      hosts:\n        w1: {}\n"
    )
    (inv / "group_vars" / "all.yml").write_text(all_vars)
    return inv


@pytest.mark.parametrize(
    ("all_vars", "words"),
    [
        ("dlrs_kubernetes_repo_url: http://mirror.example/k8s\n", "dlrs_kubernetes_repo_url"),
        ("dlrs_docker_repo_key_url: http://mirror.example/gpg\n", "dlrs_docker_repo_key_url"),
        (
            "dlrs_kubernetes_repo_url: http://mirror.example/k8s\n"
            "dlrs_kubernetes_repo_key_url: http://mirror.example/Release.key\n",
            "all.yml:4: group all: dlrs_kubernetes_repo_key_url",  # the key's own line
        ),
        ("dlrs_docker_repo_key_fingerprints: [0EBFCD88]\n", "dlrs_docker_repo_key_fingerprints"),
        ("dlrs_kubernetes_repo_key_fingerprints: []\n", "non-empty list of key fingerprints"),
        (
            "dlrs_kubernetes_repo_key_fingerprints: DE15B14486CD377B9E876E1A234654DA9A296436\n",
            "not a non-empty list",
        ),
    ],
)
def test_validate_refuses_http_keys_and_bad_fingerprints_with_file_and_line(
    tmp_path, capsys, all_vars, words
):
    inv = _write_inventory(tmp_path, "---\n# site settings\n" + all_vars)
    rc = cli.main(["validate", str(inv)])
    err = capsys.readouterr()
    text = err.out + err.err
    assert rc == 2, text
    assert words in text and "group_vars/all.yml:" in text, text
    if "all.yml:" not in words:
        assert "all.yml:3:" in text, text
    assert "Traceback" not in text


def test_validate_takes_http_keys_when_allowed_and_pinned_fingerprints(tmp_path, capsys):
    inv = _write_inventory(
        tmp_path,
        "dlrs_kubernetes_repo_url: http://mirror.example/k8s\n"
        "dlrs_repo_keys_allow_http: true\n"
        "dlrs_kubernetes_repo_key_fingerprints:\n"
        "  - 'de15 b144 86cd 377b 9e87 6e1a 2346 54da 9a29 6436'\n",
    )
    rc = cli.main(["validate", str(inv)])
    err = capsys.readouterr()
    assert rc == 0, err.out + err.err


def test_the_roles_check_each_key_before_it_is_written():
    """Each download of a signing key is followed by the fingerprint check, then the write."""
    for path, download, write in (
        ("roles/docker/tasks/repository-Debian.yml", "ansible.builtin.uri", "ansible.builtin.copy"),
        (
            "roles/kubernetes_packages/tasks/setup-Debian.yml",
            "ansible.builtin.uri",
            "ansible.builtin.copy",
        ),
    ):
        text = (REPO / path).read_text()
        tasks = yaml.safe_load(text)
        flat = [t for task in tasks for t in task.get("block", [task])]
        names = [next(k for k in t if k.startswith("ansible.builtin.")) for t in flat]
        url_check = next(i for i, t in enumerate(flat) if "comes over https" in t["name"])
        fetched = names.index(download)
        checked = next(i for i, t in enumerate(flat) if "fingerprints against" in t["name"])
        written = next(
            i
            for i, t in enumerate(flat)
            if names[i] == write and re.search(r"keyring|\.asc", str(t[write]["dest"]))
        )
        assert url_check < fetched < checked < written, path
        assert "ansible.builtin.get_url" not in names, path
    for path in (
        "roles/docker/tasks/repository-RedHat.yml",
        "roles/kubernetes_packages/tasks/setup-RedHat.yml",
    ):
        tasks = yaml.safe_load((REPO / path).read_text())
        (rpm_key,) = [t for t in tasks if "ansible.builtin.rpm_key" in t]
        assert "fingerprints" in rpm_key["ansible.builtin.rpm_key"]["fingerprint"], path


def _sandbox_state(tmp_path: Path, fingerprints: list[str]):
    from dlrs_harness.sandbox import cluster, files

    return cluster.SandboxState(
        network="n",
        os="debian",
        clear_version=0,
        nodes=[cluster.NodeState("node1", "c", "id", "master", "debian", 40000, "", "i")],
        mirror=cluster.MirrorState("m", "id", "mirror", "", "i", {}, files.mirror_urls("mirror")),
        inventory=str(tmp_path / "hosts.yml"),
        known_hosts=str(tmp_path / "known_hosts"),
        private_key=str(tmp_path / "id_ed25519"),
        stack_images=[],
        k8s_repo_key_fingerprints=fingerprints,
    )


@pytest.mark.skipif(GPG is None, reason="needs gpg to make a key")
def test_the_sandbox_inventory_pins_its_mirrors_own_key(tmp_path):
    from dlrs_harness.sandbox import files, k8s_repo

    armoured, _, expected = _gpg_keys(tmp_path, "ed25519")
    key = tmp_path / "Release.key"
    key.write_bytes(armoured)
    # the harness reads the key with gpg, the roles with the packet reader: they agree
    assert k8s_repo.public_key_fingerprints(key) == expected == openpgp.fingerprints(armoured)
    state = _sandbox_state(tmp_path, expected)
    top = yaml.safe_load(files.render_hosts_yml(tmp_path, state))["all"]["vars"]
    assert top["dlrs_kubernetes_repo_url"].startswith("http://")
    assert top["dlrs_kubernetes_repo_key_fingerprints"] == expected
    assert top["dlrs_repo_keys_allow_http"] is True
    assert openpgp.fingerprint_problem(armoured, top["dlrs_kubernetes_repo_key_fingerprints"]) == ""


@pytest.mark.skipif(GPG is None, reason="needs gpg to make a key")
def test_the_filters_through_real_ansible(tmp_path):
    from test_filter_plugin import run_filter

    armoured, _, expected = _gpg_keys(tmp_path, "ed25519")
    facts = {"key": armoured.decode(), "pinned": expected, "other": ["A" * 40]}
    got = run_filter(
        tmp_path,
        facts,
        "[facts.key | dlrs_key_fingerprint_problem(facts.pinned),"
        " facts.key | dlrs_key_fingerprint_problem(facts.other, 'the test key'),"
        " 'http://m/k' | dlrs_key_url_problem(false),"
        " 'http://m/k' | dlrs_key_url_problem(true),"
        " 'cnn_tf_v1.12_compatible' | dlrs_benchmark_commit]",
    )
    assert got[0] == ""
    assert got[1].startswith(f"the test key has the fingerprint(s) {expected[0]}, which are not")
    assert "plain HTTP" in got[2] and "dlrs_repo_keys_allow_http: true" in got[2]
    assert got[3] == ""
    assert got[4] == "ec056be57f189ec96611a58e8dc5562a6d620139"


# --------------------------------------------------------------------------- admin.conf

ADMIN_TASKS = REPO / "roles/kubeadm_master/tasks/main.yml"


def _admin_conf_tasks() -> list[dict]:
    tasks = yaml.safe_load(ADMIN_TASKS.read_text())
    names = [t["name"] for t in tasks]
    first = names.index("Read admin.conf on the master")
    last = names.index("Copy admin.conf to the controller (mode 0600)")
    return tasks[first : last + 1]


def test_admin_conf_is_private_from_its_first_byte():
    """The file the content goes into is made at 0600 before the copy (the copy onto an
    existing file keeps its mode), and no task fixes the mode afterwards."""
    tasks = yaml.safe_load(ADMIN_TASKS.read_text())
    for task in tasks:
        assert "ansible.builtin.fetch" not in task, "fetch cannot set a mode"
    steps = _admin_conf_tasks()
    modules = [next(k for k in t if k.startswith("ansible.builtin.")) for t in steps]
    assert modules == [
        "ansible.builtin.slurp",
        "ansible.builtin.file",
        "ansible.builtin.file",
        "ansible.builtin.copy",
    ]
    folder, touch, copy = (steps[1][modules[1]], steps[2][modules[2]], steps[3][modules[3]])
    assert folder["state"] == "directory" and folder["mode"] == "0700"
    assert touch["state"] == "touch" and touch["mode"] == "0600"
    assert copy["mode"] == "0600" and steps[3]["no_log"] is True and steps[0]["no_log"] is True
    dest = "{{ kubeadm_master_admin_conf_dest | trim }}"
    assert touch["path"] == dest == copy["dest"]
    later = tasks[tasks.index(steps[-1]) + 1 :]
    assert not [t for t in later if dest in str(t) and "mode" in str(t)], "a later mode fix"


def test_admin_conf_copy_through_real_ansible_is_0600_and_same(tmp_path):
    """The role's own tasks, on localhost with a umask of 022: the copy is the master's file."""
    source = tmp_path / "admin.conf"
    source.write_text("apiVersion: v1\nkind: Config\nusers: [{name: kubernetes-admin}]\n")
    dest = tmp_path / "state" / "admin.conf"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {
                "_kubeadm_master_admin_conf": str(source),
                "kubeadm_master_admin_conf_dest": f" {dest} ",
            },
            "tasks": _admin_conf_tasks(),
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = os.environ | runner.ansible_env(tmp_path / "hosts")
    for _ in range(2):  # the second run changes nothing
        proc = subprocess.run(
            ["sh", "-c", 'umask 022 && exec "$0" "$@"',
             str(Path(sys.executable).parent / "ansible-playbook"), "-c", "local",
             "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
             str(tmp_path / "play.yml")],
            capture_output=True, text=True, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (dest.stat().st_mode & 0o777) == 0o600
        assert (dest.parent.stat().st_mode & 0o777) == 0o700
        assert dest.read_text() == source.read_text()
        assert "kubernetes-admin" not in proc.stdout  # no_log: the credential stays out
    assert "changed=0" in proc.stdout, proc.stdout
