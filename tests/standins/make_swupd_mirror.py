"""Write the update-server tree that the swupd stand-in reads (stand-in for tests).

The tree is served as is by any static HTTP server; the URL that maps to `root_dir` is both the
content URL and the version URL (`swupd mirror -s URL`):

    root_dir/version/format<FMT>/latest     latest version of the format, one integer: what
                                            `swupd update` reads (get_latest_version)
    root_dir/version/latest_version         the same integer, the latest of any format: what
                                            `swupd check-update` reads
                                            (version_get_absolute_latest)
    root_dir/<N>/Manifest.MoM               JSON: the bundles available in version N (and
                                            the flags of those that are experimental)
    root_dir/<N>/Manifest.<bundle>          JSON: one bundle's payload (what stands in for its
                                            content: Debian packages, or nothing)

Both version files are there, as in swupd-client's own test mirrors (test/functional/
testlib.bash, create_version). The real Manifest.MoM is a signed, tar-wrapped manifest of
manifests with file hashes; the stand-in's is a small JSON document (see
tests/standins/README.md). A bundle's payload is this project's own idea: the test hosts are
Debian underneath, so Debian packages (installed with apt-get by the stand-in's bundle-add)
stand in for the files of a Clear Linux bundle. debian_payloads() gives the payloads of the
bundles that dlrs-provision's roles add. Standard library only.

    python3 tests/standins/make_swupd_mirror.py --out DIR --versions 26000,26240,26300 \
        --bundles os-core,containers-basic,cloud-native-basic [--payloads payloads.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

MOM_FORMAT = "swupd-stand-in-mom/1"
BUNDLE_FORMAT = "swupd-stand-in-bundle/1"
EXPERIMENTAL_FLAGS = "Me.."  # a manifest ("M") line, experimental ("e"): Manifest.MoM's flags
DEFAULT_FORMAT = "staging"
REQUIRED_BUNDLE = "os-core"
BUNDLE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
FORMAT_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# apt's names: a package (optionally =version), an apt source's name in file names. Neither may
# start with "-", so nothing in a payload can become an option of apt-get.
APT_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$")
APT_SOURCE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
PAYLOAD_KEYS = {"packages", "proxy", "sources", "files"}
SOURCE_KEYS = {"name", "uri", "suite", "components", "key"}
# A payload's "files": single files (e.g. release binaries) fetched from a URL, checked by
# sha256 and installed at an absolute path under /usr (a Clear Linux bundle's files are there).
FILE_KEYS = {"url", "path", "sha256", "mode"}
FILE_PATH_RE = re.compile(r"^/usr(/[A-Za-z0-9._+-]+)+$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
FILE_MODE_RE = re.compile(r"^0[0-7]{3}$")

# The Kubernetes stand-in packages that cloud-native-basic installs: the newest 1.32 patch
# release of the sandbox's repository (tests/sandbox/k8s-repo/repos.yaml).
KUBERNETES_PACKAGE_VERSION = "1.32.3-1.1"


def debian_payloads(
    apt_proxy: str, k8s_repo_url: str, k8s_version: str = KUBERNETES_PACKAGE_VERSION
) -> dict[str, dict[str, object]]:
    """The payloads of the bundles that dlrs-provision's roles add, for a Debian host dressed as
    Clear Linux: Debian packages through the site's apt proxy, the Kubernetes stand-in packages
    from the mirror's pkgs.k8s.io-like repository (`k8s_repo_url` ends in .../deb/).

    containers-basic: docker.io, which brings containerd and runc (Clear Linux's bundle carries
    Docker and its runtime). cloud-native-basic: kubeadm, kubelet, kubectl at `k8s_version`, plus
    containerd as the CRI runtime (Clear Linux's bundle carries CRI-O; the roles use containerd).
    """
    repo = k8s_repo_url.rstrip("/") + "/"
    minor = ".".join(k8s_version.split("-")[0].split(".")[:2])
    return {
        "containers-basic": {"proxy": apt_proxy, "packages": ["docker.io"]},
        "cloud-native-basic": {
            "proxy": apt_proxy,
            "sources": [
                {
                    "name": f"kubernetes-v{minor}",
                    "uri": repo,
                    "suite": "/",
                    "key": repo + "Release.key",
                }
            ],
            "packages": [
                f"kubeadm={k8s_version}",
                f"kubelet={k8s_version}",
                f"kubectl={k8s_version}",
                "containerd",
            ],
        },
    }


def release_files_payload(
    apt_proxy: str, release_url: str, k8s_version: str, sha256: Mapping[str, str]
) -> dict[str, object]:
    """cloud-native-basic carrying Kubernetes `k8s_version` as Clear Linux's `kubernetes`
    package does (kubeadm, kubelet, kubectl in /usr/bin): the stand-in release binaries of that
    version from `release_url` (dl.k8s.io's layout, .../release), checked by `sha256` (name ->
    hex or "sha256:hex"), plus containerd through the apt proxy. For OS versions whose bundle
    carries a Kubernetes that pkgs.k8s.io never had (1.12 around OS 26240)."""
    base = release_url.rstrip("/") + f"/v{k8s_version}/bin/linux/amd64/"
    files = []
    for name in ("kubeadm", "kubelet", "kubectl"):
        if name not in sha256:
            raise ValueError(f"no sha256 of the {name} release binary of {k8s_version}")
        files.append(
            {
                "url": base + name,
                "path": f"/usr/bin/{name}",
                "sha256": str(sha256[name]).removeprefix("sha256:"),
                "mode": "0755",
            }
        )
    return {"proxy": apt_proxy, "packages": ["containerd"], "files": files}


def check_files(where: str, files: object) -> None:
    if not isinstance(files, list) or not files:
        raise ValueError(f"{where}: files must be a non-empty list")
    paths = set()
    for item in files:
        if not isinstance(item, Mapping) or set(item) - FILE_KEYS:
            raise ValueError(f"{where}: each file is a mapping of {sorted(FILE_KEYS)}")
        url, path = item.get("url"), item.get("path")
        if (
            not isinstance(url, str)
            or not url.startswith("http://")
            or any(c.isspace() for c in url)
        ):
            raise ValueError(f"{where}: file url {url!r} must be an http:// URL")
        if (
            not isinstance(path, str)
            or not FILE_PATH_RE.match(path)
            or "/../" in path + "/"
            or "/./" in path + "/"
            or path in paths
        ):
            raise ValueError(f"{where}: file path {path!r} must be unique, absolute, under /usr")
        paths.add(path)
        if not isinstance(item.get("sha256"), str) or not SHA256_RE.match(item["sha256"]):
            raise ValueError(f"{where}: file {path}: sha256 must be 64 lowercase hex digits")
        mode = item.get("mode", "0644")
        if not isinstance(mode, str) or not FILE_MODE_RE.match(mode):
            raise ValueError(f"{where}: file {path}: mode must be octal text such as 0755")


def check_payload(bundle: str, payload: Mapping[str, object]) -> dict[str, object]:
    """A payload as the stand-in reads it, or ValueError naming what is wrong."""
    where = f"payload of {bundle}"
    if not isinstance(payload, Mapping):
        raise ValueError(f"{where}: must be a mapping, not {type(payload).__name__}")
    unknown = set(payload) - PAYLOAD_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(PAYLOAD_KEYS)})")
    packages = payload.get("packages")
    if "files" in payload and "packages" not in payload and set(payload) <= {"files", "proxy"}:
        packages = None  # a payload of files only: no apt part
    elif (
        not isinstance(packages, list)
        or not packages
        or not all(isinstance(p, str) and APT_PACKAGE_RE.match(p) for p in packages)
    ):
        raise ValueError(f"{where}: packages must be a non-empty list of apt names, e.g. docker.io")
    if "files" in payload:
        check_files(where, payload["files"])
    proxy = payload.get("proxy")
    if proxy is not None and not (isinstance(proxy, str) and proxy.startswith("http://")):
        raise ValueError(f"{where}: proxy must be an http:// URL, e.g. http://mirror:3142")
    sources = payload.get("sources", [])
    if not isinstance(sources, list):
        raise ValueError(f"{where}: sources must be a list")
    names = set()
    for source in sources:
        if not isinstance(source, Mapping) or set(source) - SOURCE_KEYS:
            raise ValueError(f"{where}: each source is a mapping of {sorted(SOURCE_KEYS)}")
        name = source.get("name")
        if not isinstance(name, str) or not APT_SOURCE_NAME_RE.match(name) or name in names:
            raise ValueError(f"{where}: source name {name!r} must be unique, [a-z0-9.-]")
        names.add(name)
        for key in ("uri", "key"):
            if not isinstance(source.get(key), str) or not source[key]:
                raise ValueError(f"{where}: source {name} needs {key} (a URL)")
        suite = source.get("suite", "/")
        components = source.get("components", [])
        if not isinstance(suite, str) or not isinstance(components, list):
            raise ValueError(f"{where}: source {name}: suite is a string, components a list")
        if suite.endswith("/") != (not components):
            raise ValueError(
                f"{where}: source {name}: a flat repository (suite ending in /) has no "
                "components; any other suite needs them"
            )
    return {k: payload[k] for k in sorted(payload)}


def render_bundle_manifest(version: int, bundle: str, payload: Mapping[str, object] | None) -> str:
    """The text of the stand-in's Manifest.<bundle> for `version` (payload None: nothing but
    the bundle's marker file is installed)."""
    checked = None if payload is None else check_payload(bundle, payload)
    files = None if checked is None else checked.pop("files", None)
    if checked is not None and "packages" not in checked:
        checked = None  # files only
    document = {
        "format": BUNDLE_FORMAT,
        "version": version,
        "bundle": bundle,
        "stand_in": "Debian packages stand in for this Clear Linux bundle's content (tests only)",
        "apt": checked,
    }
    if files is not None:
        document["files"] = files
    return json.dumps(document, indent=2) + "\n"


def render_mom(
    version: int,
    bundles: Sequence[str],
    previous: int = 0,
    fmt: str = "",
    experimental: Collection[str] = (),
) -> str:
    """The text of the stand-in's Manifest.MoM for `version`. A bundle in `experimental` gets
    the flags of an experimental bundle's line in a real Manifest.MoM, "Me.." (testlib.bash's
    create_manifest -e; manifest_parser.c reads line[1] == 'e'); the others have none."""
    names = sorted({REQUIRED_BUNDLE, *bundles})
    document: dict[str, object] = {
        "format": MOM_FORMAT,
        "version": version,
        "previous": previous,
        "os_format": fmt or DEFAULT_FORMAT,
        "bundles": names,
    }
    marked = sorted(set(experimental) & set(names))
    if marked:
        document["flags"] = {name: EXPERIMENTAL_FLAGS for name in marked}
    return json.dumps(document, indent=2) + "\n"


def write_mirror(
    root_dir: str | Path,
    versions: Sequence[int],
    bundles: Mapping[int, Sequence[str]] | Sequence[str],
    latest: int | None = None,
    *,
    fmt: str = DEFAULT_FORMAT,
    payloads: Mapping[str, Mapping[str, object]] | None = None,
    experimental: Collection[str] = (),
    version_payloads: Mapping[int, Mapping[str, Mapping[str, object]]] | None = None,
) -> Path:
    """Write the mirror tree for `versions` under `root_dir` and return its path.

    `bundles` is one list for every version, or a mapping version -> list (every version must
    have an entry). os-core is always added. `latest` (default: the highest version) is what the
    version URL announces; it may name a version without content, to model a broken mirror.
    `payloads` maps a bundle to what stands in for its content (see debian_payloads()); every
    bundle of every version gets its Manifest.<bundle>, with "apt": null when it has none.
    `experimental`: bundles that every MoM offering them marks experimental.
    `version_payloads` (version -> bundle -> payload) replaces a bundle's payload in one
    version (e.g. cloud-native-basic with the Kubernetes of that OS release).
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
    payloads = dict(payloads or {})
    offered = {name for names in per_version.values() for name in names}
    for name, payload in payloads.items():
        if name not in offered:
            raise ValueError(f"a payload is given for {name}, which no version offers")
        check_payload(name, payload)
    if isinstance(experimental, str):
        raise TypeError("experimental must be a collection of bundle names, not a string")
    for name in experimental:
        if name not in offered:
            raise ValueError(f"{name} is marked experimental, but no version offers it")
    per_version_payloads: dict[int, dict[str, Mapping[str, object]]] = {}
    for number, replaced in (version_payloads or {}).items():
        version = _positive_int(number, "version")
        if version not in per_version:
            raise ValueError(f"a payload is given for version {version}, which is not written")
        for name, payload in replaced.items():
            if name not in per_version[version]:
                raise ValueError(f"a payload is given for {name} in {version}, which lacks it")
            check_payload(name, payload)
        per_version_payloads[version] = {**payloads, **replaced}

    root = Path(root_dir)
    previous = 0
    for version in wanted:
        version_dir = root / str(version)
        version_dir.mkdir(parents=True, exist_ok=True)
        mom = render_mom(version, per_version[version], previous, fmt, experimental)
        (version_dir / "Manifest.MoM").write_text(mom, encoding="utf-8")
        for bundle in sorted({REQUIRED_BUNDLE, *per_version[version]}):
            manifest = render_bundle_manifest(
                version, bundle, per_version_payloads.get(version, payloads).get(bundle)
            )
            (version_dir / f"Manifest.{bundle}").write_text(manifest, encoding="utf-8")
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
    parser.add_argument(
        "--experimental",
        default="",
        help="comma-separated bundles the MoMs mark experimental (flags Me..)",
    )
    parser.add_argument("--latest", type=int, help="version announced as latest (default: max)")
    parser.add_argument("--format", default=DEFAULT_FORMAT, help="swupd format string")
    parser.add_argument(
        "--payloads",
        metavar="FILE",
        help="JSON file: bundle -> payload (Debian packages standing in for its content); "
        "without it every bundle installs only its marker file",
    )
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
        payloads = None
        if args.payloads:
            payloads = json.loads(Path(args.payloads).read_text(encoding="utf-8"))
            if not isinstance(payloads, dict):
                raise ValueError(f"{args.payloads}: must hold a JSON object (bundle -> payload)")
        root = write_mirror(
            args.out,
            versions,
            bundles,
            args.latest,
            fmt=args.format,
            payloads=payloads,
            experimental=_split(args.experimental),
        )
    except (ValueError, TypeError, OSError) as exc:
        print(f"make_swupd_mirror: {exc}", file=sys.stderr)
        return 2
    print(f"swupd stand-in mirror written to {root} (versions {', '.join(map(str, versions))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
