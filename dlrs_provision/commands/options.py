"""argparse types for every option of `dlrs-provision`: each checks its value before any host
is touched, and a bad one ends in argparse's own error (exit 2, `argument --OPTION: ...`) with
the fix in the message.

    p.add_argument("--ps", type=options.int_range(1, 64), default=1)
    p.add_argument("-o", "--out", type=options.output_file)

Each type returns the value in the form the command uses (a str for paths, so that messages
show what the operator typed).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from dlrs_provision.benchmark import synthetic

# tf_cnn_benchmarks' model names (models/model_config.py of tensorflow/benchmarks), and the
# synthetic benchmark's own: --model is one of these, nothing a shell or YAML could read as more
TF_CNN_MODELS = (
    "alexnet",
    "densenet100_k12",
    "densenet100_k24",
    "densenet40_k12",
    "googlenet",
    "inception3",
    "inception4",
    "lenet",
    "mobilenet",
    "nasnet",
    "nasnetlarge",
    "official_resnet18",
    "official_resnet34",
    "official_resnet50",
    "official_resnet101",
    "official_resnet152",
    "overfeat",
    "resnet101",
    "resnet101_v2",
    "resnet152",
    "resnet152_v2",
    "resnet50",
    "resnet50_v1.5",
    "resnet50_v2",
    "trivial",
    "vgg11",
    "vgg16",
    "vgg19",
)
MODELS = tuple(sorted({*TF_CNN_MODELS, *synthetic.MODELS}))
MAX_HOSTS = 1024  # --workers: more names than any cluster of this toolkit has

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_GIT_SCP = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
# what no host or group name holds, nor a ~regex pattern that Ansible reads
_NOT_IN_PATTERN = set(";|$`<>\"'\\")


def _bad(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def _plain_text(value: str, what: str) -> str:
    if not value:
        raise _bad(f"{what} is empty")
    if _CONTROL.search(value):
        raise _bad(f"{what} {value!r} holds a control character (a newline, a tab): remove it")
    return value


# --------------------------------------------------------------------------- numbers


def int_range(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise _bad(f"{text!r} is not a whole number: give {low} to {high}") from None
        if not low <= value <= high:
            raise _bad(f"{value} is out of range: give {low} to {high}")
        return value

    parse.__name__ = f"whole number {low}..{high}"
    return parse


def int_list(low: int, high: int) -> Callable[[str], list[int]]:
    """Comma-separated whole numbers, each `low` to `high` (a sweep's grid)."""
    one = int_range(low, high)

    def parse(text: str) -> list[int]:
        items = [t for t in text.split(",")]
        if not text.strip() or any(not t.strip() for t in items):
            raise _bad(f"{text!r}: give comma-separated numbers such as 1,2,4")
        return [one(t) for t in items]

    return parse


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|m|s)")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def duration(low: float = 1, high: float = 86400) -> Callable[[str], str]:
    """A duration as kubectl reads one (Go's time.ParseDuration, in h, m and s: 5m, 90s,
    1h30m), from `low` to `high` seconds; returned as typed, for the tool's own flag."""

    def parse(text: str) -> str:
        _plain_text(text, "the duration")
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise _bad(f"{text!r} is not a duration: give e.g. 5m, 90s or 1h30m")
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
        if not low <= seconds <= high:
            raise _bad(f"{text} is out of range: give {low:g} s to {high / 3600:g} h")
        return text

    parse.__name__ = "duration"
    return parse


def kubernetes_release(text: str) -> str:
    """An exact Kubernetes release X.Y.Z (a leading v is accepted), from the first minor the
    roles can write a kubeadm configuration for; returned without the v ("1.32.3")."""
    from dlrs_provision import kubeadm_api, upgrade_skew

    _plain_text(text, "the version")
    try:
        major, minor, patch = upgrade_skew.exact(text)
    except ValueError:
        raise _bad(
            f"{text!r} is not an exact Kubernetes release: give X.Y.Z, e.g. 1.32.3 (a minor "
            "alone, 1.32, is whatever a repository holds that day)"
        ) from None
    value = f"{major}.{minor}.{patch}"
    reason = kubeadm_api.unsupported(value)
    if reason:
        fix = "give a newer release" if major == 1 else "give a 1.x release, e.g. 1.32.3"
        raise _bad(f"{value}: {reason}: {fix}")
    return value


# --------------------------------------------------------------------------- files


def output_file(text: str) -> str:
    """A file to write: its folder exists, and it is not a folder, a device or a FIFO."""
    _plain_text(text, "the output path")
    path = Path(text).expanduser()
    if path.is_dir():
        raise _bad(f"{text} is a folder: give a file name inside it, e.g. {path / 'out.yaml'}")
    if path.exists() or path.is_symlink():
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise _bad(f"{text}: {exc.strerror}: give a file you can write") from None
        if not stat.S_ISREG(mode):
            raise _bad(f"{text} is not a regular file (a device or FIFO): give a file name")
        if not os.access(path, os.W_OK, effective_ids=True):
            raise _bad(f"{text} is not writable: give a file you can write")
        return text
    parent = path.parent
    if not parent.is_dir():
        raise _bad(f"{text}: the folder {parent} does not exist: create it, or write elsewhere")
    if not os.access(parent, os.W_OK | os.X_OK, effective_ids=True):
        raise _bad(f"{text}: the folder {parent} is not writable: write elsewhere")
    return text


def output_folder(text: str) -> str:
    """A folder to write into: it exists, or its parent does (it is created)."""
    _plain_text(text, "the output folder")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise _bad(f"{text} exists and is not a folder: give a folder")
    if not path.exists() and not path.parent.is_dir():
        raise _bad(f"{text}: the folder {path.parent} does not exist: create it first")
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK | os.X_OK, effective_ids=True):
        raise _bad(f"{text}: {target} is not writable: give a folder you can write")
    return text


def input_file(text: str) -> str:
    """A regular file this user can read."""
    _plain_text(text, "the file name")
    path = Path(text).expanduser()
    if not path.exists():
        raise _bad(f"{text} does not exist: give the path of an existing file")
    if path.is_dir():
        raise _bad(f"{text} is a folder: give a file")
    if not path.is_file():
        raise _bad(f"{text} is not a regular file (a device or FIFO): give a file")
    if not os.access(path, os.R_OK, effective_ids=True):
        raise _bad(f"{text} is not readable: check its permissions")
    return text


def input_folder(what: str = "folder") -> Callable[[str], str]:
    """A folder this user can read; `what` names it in messages ("facts folder")."""

    def parse(text: str) -> str:
        _plain_text(text, f"the {what}")
        path = Path(text).expanduser()
        if not path.exists():
            raise _bad(f"no such {what} {text}: give an existing folder")
        if not path.is_dir():
            raise _bad(f"{text} is not a folder: give the {what}")
        if not os.access(path, os.R_OK | os.X_OK, effective_ids=True):
            raise _bad(f"{text} is not readable: check its permissions")
        return text

    return parse


def ca_file(text: str) -> str:
    """A readable file of PEM certificates that Python's ssl module accepts as a CA bundle."""
    from dlrs_provision.registry import ca_bundle_problem

    input_file(text)
    problem = ca_bundle_problem(Path(text).expanduser())
    if problem:
        raise _bad(f"{text} {problem}")
    return text


def executable(text: str) -> str:
    """A program file this user can run."""
    input_file(text)
    if not os.access(Path(text).expanduser(), os.X_OK):
        raise _bad(f"{text} is not executable: give the path of a Python interpreter")
    return text


# --------------------------------------------------------------------------- names


def host_name(text: str) -> str:
    """A DNS name or an IP address (no port)."""
    if not text:
        raise _bad("the host is empty")
    if text.startswith("[") and text.endswith("]"):
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise _bad(f"{text} is not an IPv6 address") from None
        return text
    try:
        ipaddress.IPv4Address(text)
        return text
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _bad(
            f"{text!r} is not a host name: letters, digits and '-' in dot-separated labels "
            "(or an IP address)"
        )
    if all(label.isdigit() for label in labels):
        raise _bad(f"{text!r} is not a valid IPv4 address")
    return text


def host_port(text: str) -> str:
    """host:port, the port 1 to 65535 (an IPv6 address in brackets: [::1]:5000)."""
    _plain_text(text, "HOST:PORT")
    host, sep, port = text.rpartition(":")
    if not sep or not host or "/" in text:
        raise _bad(f"{text!r} is not host:port: give e.g. 10.0.0.1:5443 (no scheme, no path)")
    try:
        host_name(host)
    except argparse.ArgumentTypeError as exc:
        raise _bad(f"{text!r}: {exc}") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise _bad(f"{text!r}: port {port!r} is out of range: give 1 to 65535")
    return text


def registry_host(text: str) -> str:
    """A registry as `host` or `host:port` (not a URL)."""
    if "://" in text:
        raise _bad(f"{text!r} is a URL: give host or host:port, without the scheme")
    if ":" in text.rsplit("]", 1)[-1]:
        return host_port(text)
    _plain_text(text, "the registry")
    host_name(text)
    return text


def host_list(text: str) -> list[str]:
    """Comma-separated inventory host names (no spaces, quotes or ';')."""
    _plain_text(text, "the host list")
    items = text.split(",")
    if any(not i for i in items):
        raise _bad(f"{text!r}: an empty name between commas: give host1,host2")
    if len(items) > MAX_HOSTS:
        raise _bad(f"{len(items)} hosts: give at most {MAX_HOSTS}")
    if len(set(items)) != len(items):
        raise _bad(f"{text!r} names a host twice: give each once")
    for item in items:
        if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", item):
            raise _bad(f"{item!r} is not an inventory host name: letters, digits, '.', '_' and '-'")
    return items


def limit_pattern(text: str) -> str:
    """An Ansible --limit: no spaces, quotes, control characters, and not option-like; what it
    names is inventory.select's to decide (the same rule in every command)."""
    _plain_text(text, "the --limit pattern")
    if text.startswith("-") or text.startswith("@"):
        raise _bad(f"{text!r} is not a host pattern: name hosts or groups, e.g. node1,workers")
    odd = sorted({c for c in text if c.isspace() or c in _NOT_IN_PATTERN})
    if odd:
        raise _bad(
            f"{text!r} is not a host or group pattern ({' '.join(map(repr, odd))} cannot be in "
            "one): name hosts or groups, comma-separated, e.g. node1,workers"
        )
    return text


def image_ref(text: str) -> str:
    """An image reference (name[:tag][@sha256:...])."""
    from dlrs_provision.errors import UsageError
    from dlrs_provision.registry import Reference

    _plain_text(text, "the image")
    if text.startswith("-"):
        raise _bad(f"{text!r} is not an image reference: e.g. intel/dlrs:tag")
    try:
        Reference.parse(text)
    except UsageError as exc:
        raise _bad(exc.message + (f": {exc.hint}" if exc.hint else "")) from None
    return text


def model(text: str) -> str:
    if text not in MODELS:
        raise _bad(f"{text!r} is not a model of the benchmarks: choose one of {', '.join(MODELS)}")
    return text


def platform(text: str) -> str:
    if not _PLATFORM.match(text):
        raise _bad(f"{text!r} is not os/architecture[/variant]: e.g. linux/amd64, linux/arm64/v8")
    return text


# --------------------------------------------------------------------------- git


def git_repo(text: str) -> str:
    """A git repository: an https://, ssh:// or file:// URL, user@host:path, or a local path.

    Never option-like (a leading '-' would be read by git as an option) and never with
    whitespace, quotes or control characters.
    """
    _plain_text(text, "the repository")
    if text.startswith("-"):
        raise _bad(f"{text!r} starts with '-' (git would read it as an option): give a URL")
    if any(c.isspace() or c in "'\"`;\\" for c in text):
        raise _bad(f"{text!r} holds whitespace, a quote, ';' or '\\': give a plain URL")
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme not in ("https", "ssh", "file", "git+ssh", "ssh+git"):
            raise _bad(
                f"{text!r}: scheme {scheme!r} is not accepted: use https://, ssh:// or file://"
            )
        if scheme != "file" and (not rest or rest.startswith(("/", "-"))):
            raise _bad(f"{text!r} names no host: e.g. https://github.com/tensorflow/benchmarks")
        return text
    if _GIT_SCP.match(text):
        return text
    if text.startswith(("/", "./", "../", "~")):
        return text
    raise _bad(
        f"{text!r} is neither a URL (https://, ssh://, file://), user@host:path nor a path: "
        "e.g. https://github.com/tensorflow/benchmarks.git"
    )


def git_ref(text: str) -> str:
    """A branch or tag name valid for `git check-ref-format --allow-onelevel`, or a commit
    (40 hexadecimal digits); never option-like."""
    _plain_text(text, "the ref")
    if _HEX40.match(text):
        return text
    why = ""
    if text.startswith("-"):
        why = "starts with '-' (git would read it as an option)"
    elif any(c.isspace() or c in "~^:?*[\\'\"`;" for c in text):
        why = "holds whitespace or one of ~ ^ : ? * [ \\ quotes ;"
    elif ".." in text or "@{" in text or text == "@":
        why = "holds '..' or '@{'"
    elif text.startswith("/") or text.endswith(("/", ".", ".lock")) or "//" in text:
        why = "starts or ends with '/', ends with '.' or '.lock', or holds '//'"
    elif any(part.startswith(".") for part in text.split("/")):
        why = "has a part that starts with '.'"
    if why:
        raise _bad(
            f"{text!r} is not a git branch, tag or commit: it {why}; give e.g. master, "
            "cnn_tf_v1.12_compatible or a 40-digit commit"
        )
    return text
