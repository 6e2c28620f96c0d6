"""The cluster registry's account (role registry_cache): its htpasswd line, and how
`images load` finds and uses it."""

from __future__ import annotations

import sys
from pathlib import Path

import bcrypt
import pytest

from dlrs_provision import cluster_registry, images, paths
from dlrs_provision.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "dlrs_provision" / "ansible_plugins" / "filter"))
import dlrs_registry  # noqa: E402
from ansible.errors import AnsibleFilterError  # noqa: E402


def test_htpasswd_line_is_bcrypt_of_the_password_and_the_same_at_every_run():
    line = dlrs_registry.dlrs_htpasswd("dlrs-cluster", "s3cretPassw0rd")
    user, hashed = line.split(":", 1)
    assert user == "dlrs-cluster"
    assert hashed.startswith("$2b$12$")
    assert bcrypt.checkpw(b"s3cretPassw0rd", hashed.encode())
    assert not bcrypt.checkpw(b"s3cretPassw0rD", hashed.encode())
    # the same account gives the same file (no change, no restart on a second run)
    assert dlrs_registry.dlrs_htpasswd("dlrs-cluster", "s3cretPassw0rd") == line
    # another password (or user) gives another salt and hash
    other = dlrs_registry.dlrs_htpasswd("dlrs-cluster", "s3cretPassw0rd2")
    assert other.split("$")[3][:22] != hashed.split("$")[3][:22]
    assert "s3cretPassw0rd" not in line


@pytest.mark.parametrize(
    ("user", "password", "match"),
    [
        ("", "x", "user name"),
        ("a:b", "x", "user name"),
        ("a\nb", "x", "user name"),
        ("dlrs-cluster", "", "empty"),
        ("dlrs-cluster", "x" * 73, "72 bytes"),
    ],
)
def test_htpasswd_refuses_what_htpasswd_cannot_hold(user, password, match):
    with pytest.raises(AnsibleFilterError, match=match):
        dlrs_registry.dlrs_htpasswd(user, password)


def _inventory(tmp_path: Path, mode: str = "local") -> Path:
    path = tmp_path / "inv" / "hosts.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"all:\n  vars:\n    dlrs_registry_mode: {mode}\n"
        '    dlrs_insecure_registries: ["m1:5443"]\n'
        "  children:\n    masters:\n      hosts:\n        m1: {ansible_host: 10.0.0.1}\n"
    )
    return path


def test_target_carries_the_account_and_reads_the_password_from_the_state_folder(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(paths.STATE_ENV, raising=False)
    inv = _inventory(tmp_path)
    target = images.target_from_inventory(inv)
    assert target.username == cluster_registry.REGISTRY_USER
    secret = cluster_registry.password_path(paths.state_dir(inv))
    assert target.password_file == str(secret)
    # no file yet: the push is refused, saying what to run
    with pytest.raises(UsageError, match="password is not at") as err:
        target.password()
    assert "images phase" in (err.value.hint or "")
    secret.parent.mkdir(parents=True)
    secret.write_text("")
    with pytest.raises(UsageError, match="empty"):
        target.password()
    secret.write_text("Abc123\n")
    assert target.password() == "Abc123"
    # the password is never in the target's repr (logs, tracebacks)
    assert "Abc123" not in repr(target) and str(secret) not in repr(target)


def test_load_without_the_password_file_pushes_nothing_and_says_why(tmp_path):
    target = images.Target(
        "https://m1:5443", None, "local", username="dlrs-cluster",
        password_file=str(tmp_path / "missing"),
    )  # fmt: skip
    with pytest.raises(UsageError, match="nothing was pushed"):
        images.load(tmp_path / "x.tar", target)
