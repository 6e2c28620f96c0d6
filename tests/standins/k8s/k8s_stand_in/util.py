"""Small helpers shared by the stand-ins: the file-system root, klog-style lines, Go durations,
times, cpusets, name validation, YAML in the style of the Go tools, merge patches."""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT_ENV = "K8S_STAND_IN_ROOT"
NO_SYSTEMD_ENV = "K8S_STAND_IN_NO_SYSTEMD"


class Root:
    """Every well-known path (/etc/kubernetes/..., /var/lib/kubelet/...) is taken under
    $K8S_STAND_IN_ROOT (default "/"), so that unit tests need neither root nor containers.

    A path given on the command line or written inside a file is resolved the same way: an
    absolute path that already lies under the root is used as it is, any other absolute path is
    taken under the root. Files always contain the real paths (/etc/kubernetes/pki/ca.crt)."""

    def __init__(self, base: str | None = None) -> None:
        self.base = Path(base or os.environ.get(ROOT_ENV) or "/").resolve()

    @property
    def is_real(self) -> bool:
        return self.base == Path("/")

    def path(self, path: str | Path) -> Path:
        p = Path(path)
        if self.is_real:
            return p
        if not p.is_absolute():
            return p
        try:
            p.relative_to(self.base)
            return p
        except ValueError:
            return self.base / str(p).lstrip("/")

    def uses_systemd(self) -> bool:
        """Services are started through systemd only on a real host (root "/") running it."""
        return (
            self.is_real
            and os.environ.get(NO_SYSTEMD_ENV) != "1"
            and Path("/run/systemd/system").is_dir()
            and shutil.which("systemctl") is not None
        )


# --------------------------------------------------------------------------------------------
# output


def klog(level: str, message: str, where: str = "stand-in") -> None:
    """One line in klog's format on stderr: Lmmdd hh:mm:ss.uuuuuu pid file:line] msg."""
    now = dt.datetime.now()
    stamp = now.strftime("%m%d %H:%M:%S.%f")
    print(f"{level[0].upper()}{stamp} {os.getpid():>7} {where}] {message}", file=sys.stderr)


def warn(message: str) -> None:
    klog("W", message)


# --------------------------------------------------------------------------------------------
# durations and times

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str | int | float) -> float:
    """A Go duration ("24h0m0s", "90s", "1.5h", "0") in seconds; ValueError otherwise."""
    if isinstance(text, int | float):
        return float(text)
    s = str(text).strip()
    if s in ("0", ""):
        return 0.0
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_RE.match(s, pos)
        if not m:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """Seconds as Go prints a time.Duration: 24h0m0s, 5m0s, 30s, 1.5s, 500ms."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s + frac:g}s" if frac else f"{s}s"
    if h:
        return f"{h}h{m}m{sec}"
    if m:
        return f"{m}m{sec}"
    return sec


def human_age(seconds: float) -> str:
    """kubectl's AGE column (duration.HumanDuration)."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def rfc3339(when: float | None = None) -> str:
    t = time.time() if when is None else when
    return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    return dt.datetime.fromisoformat(s).timestamp()


# --------------------------------------------------------------------------------------------
# cpusets ("0-1,18-19")


def parse_cpuset(text: str) -> list[int]:
    """The kernel's list format; ValueError when it is not one."""
    cpus: set[int] = set()
    s = str(text).strip()
    if not s:
        return []
    for part in s.split(","):
        part = part.strip()
        if re.fullmatch(r"\d+", part):
            cpus.add(int(part))
            continue
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        if not m or int(m.group(1)) > int(m.group(2)):
            raise ValueError(f'invalid cpuset "{text}"')
        cpus.update(range(int(m.group(1)), int(m.group(2)) + 1))
    return sorted(cpus)


def format_cpuset(cpus: list[int] | set[int]) -> str:
    ordered = sorted(set(cpus))
    ranges: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        ranges.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(ranges)


def online_cpus(root: Root) -> list[int]:
    """CPUs the kernel lists as online (<root>/sys/... first, so that tests can play a host)."""
    for path in (
        root.path("/sys/devices/system/cpu/online"),
        Path("/sys/devices/system/cpu/online"),
    ):
        try:
            return parse_cpuset(path.read_text())
        except (OSError, ValueError):
            continue
    return list(range(os.cpu_count() or 1))


# --------------------------------------------------------------------------------------------
# names


DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def is_dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and DNS1123_SUBDOMAIN.fullmatch(name) is not None


def label_key_errors(key: str) -> list[str]:
    prefix, _, name = key.rpartition("/")
    errors = []
    if prefix and not is_dns_subdomain(prefix):
        errors.append(f"prefix part {SUBDOMAIN_MSG}")
    if not name or len(name) > 63 or not QUALIFIED_NAME.fullmatch(name):
        errors.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return errors


def label_value_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not LABEL_VALUE.fullmatch(value):
        errors.append(LABEL_VALUE_MSG)
    return errors


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# files


def atomic_write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------
# YAML in the style of sigs.k8s.io/yaml (sorted keys, block style, lists not indented)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_load_all(text: str) -> list[Any]:
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


class _GoStyleDumper(yaml.SafeDumper):
    """Quotes like sigs.k8s.io/yaml: double quotes where a plain scalar will not do."""

    def choose_scalar_style(self) -> str:  # type: ignore[override]
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def yaml_dump(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_GoStyleDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 20,
    )


def json_dump(data: Any) -> str:
    """kubectl -o json: 4-space indentation, keys sorted (Go marshals maps sorted)."""
    return json.dumps(data, indent=4, sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null removes a key; lists are replaced)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def create_merge_patch(original: Any, modified: Any) -> dict[str, Any] | None:
    """The merge patch that turns `original` into `modified` (None when they are equal)."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return None if original == modified else modified
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(original[key], dict):
            sub = create_merge_patch(original[key], value)
            if sub:
                patch[key] = sub
        elif value != original[key]:
            patch[key] = copy.deepcopy(value)
    return patch or None


def three_way_patch(last_applied: dict, modified: dict, live: dict) -> dict[str, Any] | None:
    """kubectl apply's idea of a patch: set every field of `modified` that differs from `live`,
    delete the fields that `last_applied` had and `modified` dropped."""
    patch: dict[str, Any] = {}
    for key, value in modified.items():
        live_value = live.get(key)
        if isinstance(value, dict) and isinstance(live_value, dict):
            sub = three_way_patch(
                last_applied.get(key) if isinstance(last_applied.get(key), dict) else {},
                value,
                live_value,
            )
            if sub:
                patch[key] = sub
        elif value != live_value:
            patch[key] = copy.deepcopy(value)
    for key in last_applied:
        if key not in modified and key in live:
            patch[key] = None
    return patch or None


def json_patch(target: Any, operations: list[dict]) -> Any:
    """RFC 6902 (add, remove, replace, test; paths with ~0/~1 escapes)."""
    doc = copy.deepcopy(target)

    def split(pointer: str) -> list[str]:
        if pointer == "":
            return []
        if not pointer.startswith("/"):
            raise ValueError(f"invalid JSON pointer {pointer!r}")
        return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]

    for op in operations:
        parts = split(op.get("path", ""))
        parent: Any = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1] if parts else None
        kind = op.get("op")
        if kind in ("add", "replace"):
            if last is None:
                doc = copy.deepcopy(op["value"])
            elif isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(op["value"]))
                elif kind == "add":
                    parent.insert(int(last), copy.deepcopy(op["value"]))
                else:
                    parent[int(last)] = copy.deepcopy(op["value"])
            else:
                if kind == "replace" and last not in parent:
                    raise ValueError(
                        f"replace operation does not apply: doc is missing key: {op['path']}"
                    )
                parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))  # type: ignore[arg-type]
            else:
                if last not in parent:
                    raise ValueError(
                        f"remove operation does not apply: doc is missing path: {op['path']}"
                    )
                del parent[last]
        elif kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise ValueError(f"testing value {op['path']} failed")
        else:
            raise ValueError(f"unsupported JSON patch operation {kind!r}")
    return doc


@contextmanager
def pem_files(cert: bytes, key: bytes) -> Iterator[tuple[str, str]]:
    """Temporary files holding a certificate and its key (ssl wants paths), removed after."""
    tmp = tempfile.mkdtemp(prefix="k8s-stand-in-")
    try:
        cert_path, key_path = Path(tmp, "client.crt"), Path(tmp, "client.key")
        cert_path.write_bytes(cert)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        yield str(cert_path), str(key_path)
    finally:
        for name in ("client.crt", "client.key"):
            Path(tmp, name).unlink(missing_ok=True)
        os.rmdir(tmp)
