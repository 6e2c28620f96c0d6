"""Ansible filters for the cluster registry's account (role registry_cache).

    {{ 'dlrs-cluster' | dlrs_htpasswd(password) }}  -> "dlrs-cluster:$2b$12$..." (one htpasswd line)

The distribution registry's htpasswd authentication accepts bcrypt alone. The salt is derived
from the user and the password, so the same account gives the same line at every run (the file
changes, and the registry restarts, only when the password does). The password itself is 32
random characters, so a salt known from it adds nothing an attacker could use without it.
"""

from __future__ import annotations

import base64
import hashlib

from ansible.errors import AnsibleFilterError

# bcrypt's own base64 alphabet (not the standard one).
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TO_BCRYPT = str.maketrans(_STANDARD_ALPHABET, _BCRYPT_ALPHABET)
COST = 12


def _salt(user: str, password: str) -> bytes:
    digest = hashlib.sha256(f"dlrs-provision htpasswd\0{user}\0{password}".encode()).digest()[:16]
    encoded = base64.b64encode(digest).decode().rstrip("=").translate(_TO_BCRYPT)[:22]
    return f"$2b${COST:02d}${encoded}".encode()


def dlrs_htpasswd(user, password):
    user, password = str(user or ""), str(password or "")
    if not user or ":" in user or any(c in user for c in "\r\n"):
        raise AnsibleFilterError(
            "dlrs_htpasswd: the user name must be non-empty, without ':' or newlines"
        )
    if not password:
        raise AnsibleFilterError("dlrs_htpasswd: the password is empty")
    if len(password.encode()) > 72:
        raise AnsibleFilterError("dlrs_htpasswd: bcrypt reads 72 bytes of a password at most")
    try:
        import bcrypt
    except ImportError:
        raise AnsibleFilterError(
            "dlrs_htpasswd: the Python package bcrypt is missing on the controller "
            "(a dependency of dlrs-provision: pip install bcrypt)"
        ) from None
    hashed = bcrypt.hashpw(password.encode(), _salt(user, password)).decode()
    return f"{user}:{hashed}"


class FilterModule:
    def filters(self):
        return {"dlrs_htpasswd": dlrs_htpasswd}
