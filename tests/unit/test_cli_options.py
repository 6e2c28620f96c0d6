"""Every option of every command is checked before anything runs: a bad value ends in exit 2
with a message naming the option and the fix, never a traceback; a broken pipe and Ctrl-C end
quietly."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from dlrs_provision import cli
from dlrs_provision.commands import options

REPO = Path(__file__).resolve().parents[2]
PEM = """-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUQk6u7nE9Y8bYbkz3bR6CwO2kZ0kwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""


def run_main(capsys, *argv: str) -> tuple[int, str]:
    """main() in-process; argparse's SystemExit counts as its exit code."""
    try:
        rc = cli.main(list(argv))
    except SystemExit as stop:
        rc = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


@pytest.fixture
def inv(tmp_path) -> str:
    """An inventory path that does not exist: an option check must fire before it is read."""
    return str(tmp_path / "no-such-inventory.yml")


def bad_cases(tmp_path: Path, inv: str) -> list[tuple[list[str], str, str]]:
    """(argv, the option the message must name, a word of the reason)."""
    folder = tmp_path / "folder"
    folder.mkdir()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is no certificate\n")
    broken_pem = tmp_path / "broken.pem"
    broken_pem.write_text(PEM)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    missing = str(tmp_path / "missing" / "out.tar")
    archive = str(tmp_path / "a.tar")
    Path(archive).write_bytes(b"")
    return [
        # render tfjob
        (["render", "tfjob", inv, "--ps", "1000000"], "--ps", "1 to 64"),
        (["render", "tfjob", inv, "--ps", "0"], "--ps", "1 to 64"),
        (["render", "tfjob", inv, "--ps", "two"], "--ps", "whole number"),
        (["render", "tfjob", inv, "--model", "resnet50;rm"], "--model", "choose one of"),
        (["render", "tfjob", inv, "--workers", "a;b"], "--workers", "host name"),
        (["render", "tfjob", inv, "--workers", "a,,b"], "--workers", "empty"),
        (["render", "tfjob", inv, "--workers", "a,a"], "--workers", "twice"),
        (
            ["render", "tfjob", inv, "--workers", ",".join(f"w{i}" for i in range(2000))],
            "--workers",
            "at most 1024",
        ),
        (["render", "tfjob", inv, "--batch-size", "-1"], "--batch-size", "out of range"),
        (["render", "tfjob", inv, "--num-batches", "0"], "--num-batches", "out of range"),
        (["render", "tfjob", inv, "--out", missing], "--out", "does not exist"),
        (["render", "tfjob", inv, "--out", str(folder)], "--out", "is a folder"),
        (["render", "tfjob", inv, "--out", "/dev/null"], "--out", "regular file"),
        (["render", "tfjob", inv, "--out", str(fifo)], "--out", "regular file"),
        (["render", "tfjob", inv, "--facts-dir", str(garbage)], "--facts-dir", "not a folder"),
        (
            ["plan", inv, "--facts-dir", str(tmp_path / "nope")],
            "--facts-dir",
            "no such facts folder",
        ),
        # benchmark
        (["benchmark", inv, "--model", "x;id"], "--model", "choose one of"),
        (
            ["benchmark", inv, "--benchmark-repo", "--upload-pack=touch /tmp/x"],
            "--benchmark-repo",
            "option",
        ),
        (["benchmark", inv, "--benchmark-repo=-oProxyCommand=id"], "--benchmark-repo", "'-'"),
        (["benchmark", inv, "--benchmark-repo", "https://x/a b"], "--benchmark-repo", "whitespace"),
        (["benchmark", inv, "--benchmark-repo", "ext::sh -c id"], "--benchmark-repo", "whitespace"),
        (["benchmark", inv, "--benchmark-repo", "ext::id"], "--benchmark-repo", "neither"),
        (
            ["benchmark", inv, "--benchmark-repo", "http://github.com/x"],
            "--benchmark-repo",
            "scheme",
        ),
        (["benchmark", inv, "--benchmark-ref=-b"], "--benchmark-ref", "option"),
        (["benchmark", inv, "--benchmark-ref", "a..b"], "--benchmark-ref", "'..'"),
        (["benchmark", inv, "--benchmark-ref", "main\nx"], "--benchmark-ref", "control"),
        (["benchmark", inv, "--benchmark-ref", "v1 ; id"], "--benchmark-ref", "whitespace"),
        (["benchmark", inv, "--benchmark-ref", "x.lock"], "--benchmark-ref", ".lock"),
        (["benchmark", inv, "--timeout", "0"], "--timeout", "out of range"),
        (["benchmark", inv, "--batch-size", "1e9"], "--batch-size", "whole number"),
        (["benchmark", inv, "--image", "Bad Image"], "--image", "image reference"),
        (["benchmark", inv, "--limit", "a b"], "--limit", "host or group"),
        (["benchmark", inv, "--limit=-x"], "--limit", "host pattern"),
        (["cluster", inv, "--limit", "node1;id"], "--limit", "host or group"),
        (["preflight", inv, "--limit", "@retry"], "--limit", "host pattern"),
        # images
        (["images", "save", "-o", missing], "--out", "does not exist"),
        (["images", "save", "-o", str(folder)], "--out", "is a folder"),
        (["images", "save", "-o", "/dev/null"], "--out", "regular file"),
        (
            ["images", "save", "-o", archive, "--ca-file", str(tmp_path / "none.pem")],
            "--ca-file",
            "does not exist",
        ),
        (
            ["images", "save", "-o", archive, "--ca-file", str(garbage)],
            "--ca-file",
            "no PEM certificate",
        ),
        (
            ["images", "save", "-o", archive, "--ca-file", str(broken_pem)],
            "--ca-file",
            "no usable CA bundle",
        ),
        (["images", "save", "-o", archive, "--ca-file", str(folder)], "--ca-file", "folder"),
        (
            ["images", "save", "-o", archive, "--registry", "https://mirror:5000"],
            "--registry",
            "URL",
        ),
        (["images", "save", "-o", archive, "--registry", "mirror:0"], "--registry", "1 to 65535"),
        (
            ["images", "save", "-o", archive, "--insecure-registry", "a b:5000"],
            "--insecure-registry",
            "host name",
        ),
        (["images", "save", "-o", archive, "--image", "UPPER/case"], "--image", "image"),
        (
            ["images", "save", "-o", archive, "--platform", "linux amd64"],
            "--platform",
            "os/architecture",
        ),
        (
            ["images", "load", archive, inv, "--registry", "master:70000"],
            "--registry",
            "1 to 65535",
        ),
        (["images", "load", archive, inv, "--registry", "master:-1"], "--registry", "1 to 65535"),
        (["images", "load", archive, inv, "--registry", "master"], "--registry", "host:port"),
        (["images", "load", archive, inv, "--registry", "ma_ster:5000"], "--registry", "host name"),
        (["images", "load", archive, inv, "--registry", "999.1.1.1:5000"], "--registry", "IPv4"),
        # tune
        (["tune", "--sweep", "--inter", "1,x"], "--inter", "whole number"),
        (["tune", "--sweep", "--intra", "0"], "--intra", "out of range"),
        (["tune", "--sweep", "--repeats", "1000"], "--repeats", "out of range"),
        (["tune", "--sweep", "--python", str(garbage)], "--python", "not executable"),
        (["tune", "--sweep", "--out", str(garbage)], "--out", "not a folder"),
        (["tune", "--sweep", "--out", str(tmp_path / "a" / "b")], "--out", "does not exist"),
    ]


def test_every_bad_option_is_exit_2_naming_the_option_before_anything_runs(tmp_path, inv, capsys):
    failures = []
    for argv, option, reason in bad_cases(tmp_path, inv):
        rc, text = run_main(capsys, *argv)
        named = any(
            f"argument {spelling}:" in text for spelling in (option, f"-o/{option}", f"{option}/-o")
        )
        if rc != 2 or not named or reason not in text or "Traceback" in text:
            failures.append(f"{argv}: rc {rc}: {text.strip().splitlines()[-1:]}")
    assert not failures, "\n".join(failures)


def test_the_option_types_accept_what_is_valid(tmp_path):
    assert options.int_range(1, 64)("64") == 64
    assert options.int_list(1, 8)("1,2,4") == [1, 2, 4]
    assert options.model("resnet50_v1.5") == "resnet50_v1.5"
    for repo in (
        "https://github.com/tensorflow/benchmarks.git",
        "ssh://git@example.com/x.git",
        "git@github.com:tensorflow/benchmarks.git",
        "file:///srv/git/benchmarks",
        "/srv/git/benchmarks",
    ):
        assert options.git_repo(repo) == repo
    for ref in ("master", "cnn_tf_v1.12_compatible", "release/v2.0", "a" * 40):
        assert options.git_ref(ref) == ref
    for hp in ("10.0.0.1:5443", "node1.lab:1", "[::1]:5000", "master:65535"):
        assert options.host_port(hp) == hp
    assert options.registry_host("mirror.example.com") == "mirror.example.com"
    assert options.limit_pattern("workers:!node3,&gpu,node[1:3],web*") == (
        "workers:!node3,&gpu,node[1:3],web*"
    )
    assert options.host_list("node1,node-2") == ["node1", "node-2"]
    out = tmp_path / "x.yaml"
    assert options.output_file(str(out)) == str(out)
    out.write_text("old")
    assert options.output_file(str(out)) == str(out)
    assert options.platform("linux/arm64/v8") == "linux/arm64/v8"


def test_ca_file_accepts_a_real_pem_bundle(tmp_path):
    key, crt = tmp_path / "ca.key", tmp_path / "ca.crt"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-subj",
            "/CN=test",
            "-days",
            "1",
        ],
        capture_output=True,
    )
    if made.returncode:
        pytest.skip("openssl cannot make a certificate here")
    assert options.ca_file(str(crt)) == str(crt)


def test_render_out_writes_where_told(tmp_path, capsys):
    """A valid --out still works (the type returns the path the command writes)."""
    import json

    from conftest import FACTS

    facts = json.loads((FACTS / "xeon-gold-6140-2s-ht.json").read_text())["ansible_facts"]
    facts["ansible_memtotal_mb"] = 192000
    for host in ("xeon-m01", "xeon-w01", "xeon-w02", "xeon-w03", "xeon-w04"):
        (tmp_path / host).write_text(json.dumps(facts))
    target = tmp_path / "job.yaml"
    rc, text = run_main(
        capsys,
        "render",
        "tfjob",
        str(REPO / "inventory/sample/hosts.yml"),
        "--facts-dir",
        str(tmp_path),
        "--workers",
        "xeon-w01,xeon-w02",
        "-o",
        str(target),
    )
    assert rc == 0, text
    assert "kind: TFJob" in target.read_text()


def test_broken_pipe_exits_quietly(tmp_path):
    """Output into a pipe whose reader has gone (`| head` that quit): no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    proc = subprocess.run(
        [sys.executable, "-m", "dlrs_provision", "images", "list", "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    os.close(write_end)
    assert proc.returncode == 141
    assert proc.stderr == ""


def test_ctrl_c_is_exit_130_with_one_line(monkeypatch, capsys):
    from dlrs_provision.commands import images

    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(images, "run_list", interrupted)
    rc, text = run_main(capsys, "images", "list")
    assert rc == 130
    assert len(text.strip().splitlines()) == 1 and "interrupted" in text


def test_an_os_error_on_a_named_file_is_a_message_not_a_traceback(monkeypatch, capsys):
    from dlrs_provision.commands import images

    def full_disk(_args):
        raise OSError(28, "No space left on device", "/data/out.tar")

    monkeypatch.setattr(images, "run_list", full_disk)
    rc, text = run_main(capsys, "images", "list")
    assert rc == 3
    assert "No space left on device: /data/out.tar" in text
    assert "Traceback" not in text and not traceback.format_exc().count("full_disk")
