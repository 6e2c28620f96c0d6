"""Write the update-server tree that the swupd stand-in reads (stand-in for tests).

The tree is served as is by any static HTTP server; the URL that maps to `root_dir` is both the
content URL and the version URL (`swupd mirror -s URL`):

    root_dir/version/format<FMT>/latest     latest version, one integer (as swupd reads it)
    root_dir/version/latest_version         the same integer (swupd's absolute latest)
    root_dir/<N>/Manifest.MoM               JSON: the bundles available in version N

The real Manifest.MoM is a signed, tar-wrapped manifest of manifests with file hashes; the
stand-in's is a small JSON document (see tests/standins/README.md). Standard library only.

    python3 tests/standins/make_swupd_mirror.py --out DIR --versions 26000,26240,26300 \
        --bundles os-core,containers-basic,cloud-native-basic
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

MOM_FORMAT = "swupd-stand-in-mom/1"
DEFAULT_FORMAT = "staging"
REQUIRED_BUNDLE = "os-core"
BUNDLE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
FORMAT_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def render_mom(version: int, bundles: Sequence[str], previous: int = 0, fmt: str = "") -> str:
    """The text of the stand-in's Manifest.MoM for `version`."""
    document = {
        "format": MOM_FORMAT,
        "version": version,
        "previous": previous,
        "os_format": fmt or DEFAULT_FORMAT,
        "bundles": sorted({REQUIRED_BUNDLE, *bundles}),
    }
    return json.dumps(document, indent=2) + "\n"


def write_mirror(
    root_dir: str | Path,
    versions: Sequence[int],
    bundles: Mapping[int, Sequence[str]] | Sequence[str],
    latest: int | None = None,
    *,
    fmt: str = DEFAULT_FORMAT,
) -> Path:
    """Write the mirror tree for `versions` under `root_dir` and return its path.

    `bundles` is one list for every version, or a mapping version -> list (every version must
    have an entry). os-core is always added. `latest` (default: the highest version) is what the
    version URL announces; it may name a version without content, to model a broken mirror.
    """
    wanted = sorted({_positive_int(v, "version") for v in versions})
    if not wanted:
        raise ValueError("at least one version is needed")
    if not FORMAT_RE.match(fmt):
        raise ValueError(f"invalid format string {fmt!r}")
    per_version: dict[int, list[str]] = {}
    for version in wanted:
        if isinstance(bundles, Mapping):
            if version not in bundles:
                raise ValueError(f"no bundle list for version {version}")
            names = bundles[version]
        else:
            names = bundles
        if isinstance(names, str):
            raise TypeError("bundle lists must be sequences of names, not a string")
        for name in names:
            if not BUNDLE_NAME_RE.match(name):
                raise ValueError(f"invalid bundle name {name!r}")
        per_version[version] = list(names)
    announced = max(wanted) if latest is None else _positive_int(latest, "latest")

    root = Path(root_dir)
    previous = 0
    for version in wanted:
        version_dir = root / str(version)
        version_dir.mkdir(parents=True, exist_ok=True)
        mom = render_mom(version, per_version[version], previous, fmt)
        (version_dir / "Manifest.MoM").write_text(mom, encoding="utf-8")
        previous = version
    format_dir = root / "version" / f"format{fmt}"
    format_dir.mkdir(parents=True, exist_ok=True)
    (format_dir / "latest").write_text(f"{announced}\n", encoding="utf-8")
    (root / "version" / "latest_version").write_text(f"{announced}\n", encoding="utf-8")
    return root


def _positive_int(value: object, what: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ValueError(f"{what} must be a positive integer, not {value!r}") from None
    if number <= 0:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")
    return number


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the update-server tree read by the swupd stand-in (for tests)."
    )
    parser.add_argument("--out", required=True, help="directory served at the mirror URL")
    parser.add_argument("--versions", required=True, help="comma-separated, e.g. 26000,26240")
    parser.add_argument(
        "--bundles",
        default=REQUIRED_BUNDLE,
        help="comma-separated bundles available in every version (os-core is always added)",
    )
    parser.add_argument(
        "--version-bundles",
        action="append",
        default=[],
        metavar="N=B1,B2",
        help="bundles of one version, replacing --bundles for it (repeatable)",
    )
    parser.add_argument("--latest", type=int, help="version announced as latest (default: max)")
    parser.add_argument("--format", default=DEFAULT_FORMAT, help="swupd format string")
    args = parser.parse_args(argv)
    try:
        versions = [_positive_int(v, "version") for v in _split(args.versions)]
        common = _split(args.bundles)
        bundles: dict[int, list[str]] = {v: common for v in versions}
        for item in args.version_bundles:
            number, has_eq, names = item.partition("=")
            if not has_eq:
                raise ValueError(f"--version-bundles wants N=B1,B2, not {item!r}")
            version = _positive_int(number, "version")
            if version not in bundles:
                raise ValueError(f"--version-bundles names {version}, which is not in --versions")
            bundles[version] = _split(names)
        root = write_mirror(args.out, versions, bundles, args.latest, fmt=args.format)
    except (ValueError, TypeError, OSError) as exc:
        print(f"make_swupd_mirror: {exc}", file=sys.stderr)
        return 2
    print(f"swupd stand-in mirror written to {root} (versions {', '.join(map(str, versions))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
