"""What the toolkit downloads is pinned: the benchmark code by commit, the git image by digest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dlrs_provision import benchmark_defaults, catalog, cli, tfjob

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
    assert "--benchmark-ref '-oProxyCommand=x' is neither a full commit id" in err
    assert "Traceback" not in err
