"""Tests of the clrtrust stand-in (tests/standins/clrtrust-stand-in), which the sandbox's
Clear-Linux-like host has as /usr/bin/clrtrust. It runs as a subprocess against a temporary root
($CLRTRUST_STAND_IN_ROOT) with a recording fake of update-ca-certificates first on PATH."""

from __future__ import annotations

import datetime
import hashlib
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCRIPT = Path(__file__).resolve().parents[1] / "standins" / "clrtrust-stand-in"
RECORDING_FAKE_UPDATE = """\
#!/bin/sh
# recording fake of update-ca-certificates (unit test)
echo "$*" >> "$FAKE_UPDATE_RECORD"
"""


def _ca_pem(name: str, ca: bool = True) -> str:
    return _signed_pem(name, name, ca)


def _signed_pem(subject_cn: str, issuer_cn: str, ca: bool = True) -> str:
    """A certificate for subject_cn signed in the name of issuer_cn (self-signed when equal)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Host:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        self.root.mkdir()
        bin_dir = tmp_path / "recording-fake-bin"
        bin_dir.mkdir()
        fake = bin_dir / "update-ca-certificates"
        fake.write_text(RECORDING_FAKE_UPDATE)
        fake.chmod(0o755)
        self.record = tmp_path / "update-calls"
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "CLRTRUST_STAND_IN_ROOT": str(self.root),
            "FAKE_UPDATE_RECORD": str(self.record),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def updates(self) -> int:
        return len(self.record.read_text().splitlines()) if self.record.exists() else 0


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_add_keeps_the_ca_in_clear_linux_s_store_and_debian_s(host: Host, tmp_path: Path) -> None:
    pem = _ca_pem("dlrs test CA")
    ca = tmp_path / "registry-ca.crt"
    ca.write_text(pem)
    result = host.run("add", str(ca))
    assert result.returncode == 0, result.stderr
    cert_id = hashlib.sha1(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    kept = host.root / f"etc/ca-certs/trusted/{cert_id}.pem"
    anchor = host.root / f"usr/local/share/ca-certificates/clrtrust-{cert_id}.crt"
    assert ssl.PEM_cert_to_DER_cert(kept.read_text()) == ssl.PEM_cert_to_DER_cert(pem)
    assert anchor.read_text() == kept.read_text()
    assert host.updates() == 1
    listed = host.run("list")
    assert listed.returncode == 0
    assert listed.stdout == f"id: {cert_id}\n  File: /etc/ca-certs/trusted/{cert_id}.pem\n"


def test_adding_the_same_ca_again_changes_nothing(host: Host, tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text(_ca_pem("again"))
    assert host.run("add", str(ca)).returncode == 0
    again = host.run("add", str(ca))
    assert again.returncode == 0
    assert again.stdout == f"Certificate {ca} is already trusted. Not adding duplicates.\n"
    assert host.updates() == 1
    assert (
        len([line for line in host.run("list").stdout.splitlines() if line.startswith("id: ")]) == 1
    )


def test_add_skips_what_is_not_a_certificate_and_adds_the_rest(host: Host, tmp_path: Path) -> None:
    """clrtrust's cmd_add: each file is checked on its own, a bad one is skipped with its
    message and makes the exit code 255 (EERR); the good one is still added."""
    good, bad, two = tmp_path / "good.crt", tmp_path / "bad.crt", tmp_path / "two.crt"
    good.write_text(_ca_pem("good"))
    bad.write_text("not a certificate\n")
    two.write_text(_ca_pem("one") + _ca_pem("two"))
    missing = tmp_path / "missing.crt"
    result = host.run("add", str(good), str(bad), str(two), str(missing))
    assert result.returncode == 255
    assert f"{bad} must contain single certificate. Skipping..." in result.stderr
    assert f"{two} must contain single certificate. Skipping..." in result.stderr
    assert f"No such file {missing}. Skipping..." in result.stderr
    assert len(list((host.root / "etc/ca-certs/trusted").glob("*.pem"))) == 1
    assert host.updates() == 1


def test_add_refuses_a_block_that_is_not_x509(host: Host, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = host.run("add", str(garbage))
    assert result.returncode == 255
    assert f"{garbage} is not a PEM-encoded X.509 certificate. Skipping..." in result.stderr
    assert not (host.root / "etc").exists()


def test_add_accepts_text_around_the_certificate(host: Host, tmp_path: Path) -> None:
    ca = tmp_path / "commented.crt"
    ca.write_text("# the site's CA\n" + _ca_pem("commented"))
    result = host.run("add", str(ca))
    assert result.returncode == 0, result.stderr


def test_add_refuses_a_certificate_that_is_not_a_root_ca(host: Host, tmp_path: Path) -> None:
    """is_root_ca in clrtrust: issuer and subject must be the same; a CA signed by another
    (here an intermediate with CA:TRUE) is refused unless --force is given."""
    leaf = tmp_path / "intermediate.crt"
    leaf.write_text(_signed_pem("dlrs intermediate", "dlrs root"))
    result = host.run("add", str(leaf))
    assert result.returncode == 255
    assert result.stderr == (
        f"Certificate {leaf} is not a Root CA. Use --force and proper judgement to enforce.\n"
    )
    assert not (host.root / "etc").exists()
    assert host.updates() == 0
    forced = host.run("add", "--force", str(leaf))
    assert forced.returncode == 0, forced.stderr
    assert len(list((host.root / "etc/ca-certs/trusted").glob("*.pem"))) == 1
    assert host.updates() == 1
    assert host.run("add", "-f", str(leaf)).returncode == 0
    assert host.updates() == 1


def test_a_self_signed_certificate_without_ca_true_is_a_root_ca_for_clrtrust(
    host: Host, tmp_path: Path
) -> None:
    """clrtrust looks at issuer and subject only, not at basicConstraints."""
    cert = tmp_path / "selfsigned.crt"
    cert.write_text(_ca_pem("no basic constraints", ca=False))
    assert host.run("add", str(cert)).returncode == 0


def test_add_without_a_file_is_einval_with_its_help(host: Host) -> None:
    result = host.run("add")
    assert result.returncode == 22
    assert result.stderr == "Specify certificate(s) to add.\n"
    assert result.stdout.startswith("Usage: clrtrust add [-h|--help] <filename>...")
    assert host.run("add", "--force").returncode == 22


@pytest.mark.parametrize("args", [(), ("generate",), ("list", "extra"), ("bogus",)])
def test_other_usage_exits_22_and_says_it_is_a_stand_in(host: Host, args: tuple[str, ...]) -> None:
    result = host.run(*args)
    assert result.returncode == 22
    assert "usage: clrtrust" in result.stderr
    assert "stand-in for tests" in result.stderr
    assert ("Command not understood: bogus" in result.stderr) == (args == ("bogus",))


def test_the_script_is_executable_python() -> None:
    assert SCRIPT.read_text().splitlines()[0] == "#!/usr/bin/env python3"
    assert os.access(SCRIPT, os.X_OK)
