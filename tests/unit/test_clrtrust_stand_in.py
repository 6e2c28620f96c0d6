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


def _ca_pem(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
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
    assert "already trusted" in again.stdout
    assert host.updates() == 1
    assert (
        len([line for line in host.run("list").stdout.splitlines() if line.startswith("id: ")]) == 1
    )


def test_add_refuses_what_is_not_a_certificate(host: Host, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.crt", tmp_path / "bad.crt"
    good.write_text(_ca_pem("good"))
    bad.write_text("not a certificate\n")
    result = host.run("add", str(good), str(bad))
    assert result.returncode == 1
    assert "not a PEM certificate" in result.stderr
    assert not (host.root / "etc").exists()
    assert host.updates() == 0


@pytest.mark.parametrize("args", [(), ("add",), ("generate",), ("list", "extra")])
def test_other_usage_exits_1_and_says_it_is_a_stand_in(host: Host, args: tuple[str, ...]) -> None:
    result = host.run(*args)
    assert result.returncode == 1
    assert "usage: clrtrust" in result.stderr
    assert "stand-in for tests" in result.stderr


def test_the_script_is_executable_python() -> None:
    assert SCRIPT.read_text().splitlines()[0] == "#!/usr/bin/env python3"
    assert os.access(SCRIPT, os.X_OK)
