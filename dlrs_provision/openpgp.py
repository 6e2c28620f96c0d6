"""Repository signing keys, checked against the fingerprints the toolkit pins.

An apt or dnf repository is trusted through its signing key; the key is downloaded, so whoever
can change what that address serves could hand the nodes a key of their own. The roles check
each key they download against a pinned list of fingerprints before it is written anywhere.

The fingerprints are read here, by a small OpenPGP packet reader (RFC 4880 section 4: packet
framing; section 12.2: a version 4 key's fingerprint is the SHA-1 of 0x99, the two-byte length
and the body of its public-key packet), so the check needs no gpg on the node or the controller.
Only the primary keys (public-key packets, tag 6) count; subkeys belong to their primary key.
A module of its own, free of package imports, so that the collection can carry it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from urllib.parse import urlparse

ARMOR_BEGIN = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"
ARMOR_END = b"-----END PGP PUBLIC KEY BLOCK-----"
PUBLIC_KEY = 6
MAX_KEY_BYTES = 1 << 20  # a key file larger than 1 MiB is no repository key
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")
_CRC24_INIT, _CRC24_POLY = 0xB704CE, 0x1864CFB


def normalize_fingerprint(text: object) -> str:
    """'9DC8 5822 ...' or '9dc85822...' -> '9DC85822...'; ValueError when it is no v4 one."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is no fingerprint (give 40 hex digits)")
    value = re.sub(r"\s+", "", text).upper()
    if value.startswith("0X"):
        value = value[2:]
    if not _FINGERPRINT.match(value):
        raise ValueError(f"{text!r} is no key fingerprint: give the 40 hex digits gpg shows")
    return value


def _crc24(data: bytes) -> int:
    crc = _CRC24_INIT
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc & 0xFFFFFF


def dearmor(data: bytes) -> bytes:
    """The binary packets of a key file: ASCII-armoured (RFC 4880 section 6.2) or already binary."""
    stripped = data.lstrip()
    if not stripped.startswith(b"-----BEGIN PGP"):
        if stripped[:1] and not stripped[0] & 0x80:
            raise ValueError("it is neither an OpenPGP key nor an ASCII-armoured one")
        return data
    if not stripped.startswith(ARMOR_BEGIN):
        raise ValueError("its armour is no PUBLIC KEY BLOCK")
    lines = stripped.decode("ascii", errors="replace").splitlines()
    try:
        end = next(i for i, line in enumerate(lines) if line.strip() == ARMOR_END.decode())
    except StopIteration:
        raise ValueError("its armour has no END line: the file is cut short") from None
    body = lines[1:end]
    if "" in (line.strip() for line in body):  # armour headers end at the first empty line
        body = body[[line.strip() for line in body].index("") + 1 :]
    checksum = None
    if body and body[-1].strip().startswith("="):
        checksum = body.pop().strip()[1:]
    try:
        packets = base64.b64decode("".join(line.strip() for line in body), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("its armour is not valid base64") from None
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum, validate=True), "big")
        except (binascii.Error, ValueError):
            raise ValueError("its armour checksum is not valid base64") from None
        if _crc24(packets) != expected:
            raise ValueError("its armour checksum does not match: the file is damaged")
    return packets


def packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each packet, old and new framing; ValueError on a cut or odd packet."""
    out, pos = [], 0
    while pos < len(data):
        head = data[pos]
        if not head & 0x80:
            raise ValueError(f"byte {pos} starts no OpenPGP packet")
        if head & 0x40:  # new format
            tag, pos = head & 0x3F, pos + 1
            if pos >= len(data):
                raise ValueError("a packet header is cut short")
            first = data[pos]
            if first < 192:
                length, pos = first, pos + 1
            elif first < 224:
                if pos + 1 >= len(data):
                    raise ValueError("a packet header is cut short")
                length, pos = ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
            elif first == 255:
                if pos + 5 > len(data):
                    raise ValueError("a packet header is cut short")
                length, pos = int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
            else:
                raise ValueError("a partial-length packet, which a key file does not hold")
        else:  # old format
            tag, kind, pos = (head >> 2) & 0x0F, head & 0x03, pos + 1
            if kind == 3:
                length = len(data) - pos
            else:
                size = (1, 2, 4)[kind]
                if pos + size > len(data):
                    raise ValueError("a packet header is cut short")
                length, pos = int.from_bytes(data[pos : pos + size], "big"), pos + size
        if pos + length > len(data):
            raise ValueError("a packet is cut short: the file is incomplete")
        out.append((tag, data[pos : pos + length]))
        pos += length
    return out


def fingerprints(data: bytes | str) -> list[str]:
    """The fingerprints of the primary keys in a key file (armoured or binary)."""
    raw = data.encode("latin-1", errors="replace") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_KEY_BYTES:
        raise ValueError(f"it is {len(raw)} bytes, too large for a repository key")
    found = []
    for tag, body in packets(dearmor(raw)):
        if tag != PUBLIC_KEY:
            continue
        if not body or body[0] != 4:
            version = body[0] if body else "no"
            raise ValueError(f"it holds a version {version} key; only version 4 keys are read")
        framed = b"\x99" + len(body).to_bytes(2, "big") + body
        found.append(hashlib.sha1(framed, usedforsecurity=False).hexdigest().upper())
    if not found:
        raise ValueError("it holds no public key")
    return found


def url_problem(url: object, allow_http: bool = False, what: str = "the signing key") -> str:
    """Why a key may not be fetched from url ('' when it may): https://, or file:// on the
    node; plain http:// only when allowed (the fingerprint check still applies)."""
    if not isinstance(url, str) or not url.strip():
        return f"{what} has no address"
    scheme = urlparse(url).scheme.lower()
    if scheme == "https" or (scheme == "file" and url.startswith("file:///")):
        return ""
    if scheme == "http":
        if allow_http:
            return ""
        return (
            f"{what} would be fetched over plain HTTP ({url}), where anyone on the way can "
            "replace it"
        )
    return f"{what} address {url!r} is no https:// (or file:///) URL"


URL_FIX = (
    "serve the key over https:// (or put it on the node and give a file:/// URL), or set "
    "dlrs_repo_keys_allow_http: true (its fingerprint is still checked)"
)


def fingerprint_problem(content: bytes | str, pinned: object, what: str = "the key") -> str:
    """Why the key file is not one of the pinned keys ('' when every key in it is pinned)."""
    try:
        wanted = {normalize_fingerprint(f) for f in (pinned or [])}
    except ValueError as exc:
        return f"the pinned fingerprints are wrong: {exc}"
    if not wanted:
        return f"no fingerprint is pinned for {what}: set its *_key_fingerprints setting"
    try:
        found = fingerprints(content)
    except ValueError as exc:
        return f"{what} is no OpenPGP public key file: {exc}"
    strangers = [f for f in found if f not in wanted]
    if strangers:
        return (
            f"{what} has the fingerprint(s) {', '.join(strangers)}, which are not pinned "
            f"({', '.join(sorted(wanted))}): the key was replaced, or the repository moved to "
            "a new key. Check the new key with its publisher before adding its fingerprint"
        )
    return ""
