"""The sandbox mirror's apt repositories of Kubernetes stand-in packages.

kubeadm, kubelet and kubectl cannot be obtained on the machines that test dlrs-provision, so the
mirror host serves stand-in packages of those names (tests/standins/k8s/), with empty stand-in
cri-tools and kubernetes-cni that satisfy their Depends as on pkgs.k8s.io, laid out like
pkgs.k8s.io: one flat, signed repository per minor version,

    <out>/core:/stable:/v1.32/deb/{InRelease,Release,Release.gpg,Release.key,Packages,Packages.gz}
    <out>/core:/stable:/v1.32/deb/amd64/kubeadm_1.32.3-1.1_amd64.deb ...

which a host adds as `deb [signed-by=KEYRING] http://mirror:8080/k8s/core:/stable:/v1.32/deb/ /`
after `gpg --dearmor` of Release.key, exactly as it would with pkgs.k8s.io. The recipe is
tests/sandbox/k8s-repo/repos.yaml (versions, layout, key) and
tests/standins/k8s/packaging/packages.yaml (what each package installs).

Debs are built with dpkg-deb; Packages and Release are written here; Release is signed with a
gpg key generated once and cached (default .cache/k8s-repo/ of the checkout), whose public half
is exported as Release.key. The built-in kinds' JSON schemas come from the kubernetes-validate
package of the running interpreter (a dev dependency), bundled per minor into the kubeadm deb.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dlrs_harness.sandbox.scripts import load_script
from dlrs_provision.errors import EnvironmentProblem

log = logging.getLogger(__name__)

Echo = Callable[[str], None]

RECIPE_DIR = "tests/sandbox/k8s-repo"
STANDINS_DIR = "tests/standins/k8s"
KEY_CACHE_DIR = ".cache/k8s-repo"
SECRET_KEY_FILE = "signing-key.asc"
PUBLIC_KEY_FILE = "Release.key"
CRD_NAME = "kubeflow.org_tfjobs.v1.9.0.yaml"
# Bump when the way this module builds the repositories changes (not the recipe files).
BUILD_LOGIC_VERSION = "3"  # 3: release binaries (build_release_tree)
# File times inside the debs (reproducible builds: the same recipe gives the same debs).
SOURCE_DATE_EPOCH = 1704067200
DPKG_TIMEOUT_S = 120
RELEASE_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
RELEASE_ARCH_DIR = "bin/linux/amd64"
RELEASE_BINARIES = ("kubeadm", "kubelet", "kubectl")
# Where a release binary unpacks itself on first run (see release_launcher()).
RELEASE_UNPACK_DIR = "/var/lib/k8s-stand-in"

GPG_TIMEOUT_S = 300


@dataclass(frozen=True)
class Recipe:
    path: str
    versions: tuple[str, ...]
    key_uid: str
    key_algorithm: str
    release: dict[str, str]
    tfjob_crd: str
    packages: dict[str, Any]
    # minor -> {companion package: its package version} (cri-tools, kubernetes-cni)
    companions: dict[str, dict[str, str]]
    # the release binaries' tree under the mirror's root (dl.k8s.io's /release), and the
    # versions built only as release binaries (no apt repository)
    release_path: str = "dl/release"
    release_extra_versions: tuple[str, ...] = ()

    def minors(self) -> list[str]:
        return sorted(
            {minor_of(v) for v in self.versions}, key=lambda m: tuple(int(x) for x in m.split("."))
        )

    def release_versions(self) -> list[str]:
        """Upstream versions published as release binaries: every package version's, and the
        extra ones, oldest first."""
        found = {v.split("-")[0] for v in self.versions} | set(self.release_extra_versions)
        return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def minor_of(package_version: str) -> str:
    return ".".join(package_version.split("-")[0].split(".")[:2])


def load_recipe(root: Path) -> Recipe:
    repos = _yaml(root / RECIPE_DIR / "repos.yaml")
    packages = _yaml(root / STANDINS_DIR / "packaging" / "packages.yaml")
    release = repos.get("release_binaries") or {}
    extra = tuple(str(v) for v in release.get("extra_versions") or [])
    bad = [v for v in extra if not RELEASE_VERSION_RE.match(v)]
    if bad:
        raise EnvironmentProblem(
            f"{RECIPE_DIR}/repos.yaml: release_binaries.extra_versions holds {', '.join(bad)}, "
            "which is not an X.Y.Z version",
            'write each as "1.12.3" (no v, no package revision)',
        )
    return Recipe(
        release_path=str(release.get("path") or "dl/release").strip("/"),
        release_extra_versions=extra,
        path=str(repos["path"]),
        versions=tuple(str(v) for v in repos["versions"]),
        key_uid=str(repos["key"]["uid"]),
        key_algorithm=str(repos["key"].get("algorithm", "rsa3072")),
        release={k: str(v) for k, v in (repos.get("release") or {}).items()},
        tfjob_crd=str(repos.get("tfjob_crd") or ""),
        packages=packages,
        companions={
            str(minor): {str(k): str(v) for k, v in (names or {}).items()}
            for minor, names in (repos.get("companions") or {}).items()
        },
    )


def is_companion(spec: dict[str, Any]) -> bool:
    """A package that kubeadm or kubelet depends on, with no command of its own."""
    return bool(spec.get("companion"))


def companion_versions(recipe: Recipe, minor: str) -> dict[str, str]:
    """The companion packages of a minor's repository at their versions; every companion must
    have one, or the repository would not satisfy kubeadm's and kubelet's Depends."""
    wanted = sorted(n for n, spec in recipe.packages["packages"].items() if is_companion(spec))
    given = recipe.companions.get(minor, {})
    missing = [n for n in wanted if n not in given]
    if missing:
        raise EnvironmentProblem(
            f"{RECIPE_DIR}/repos.yaml gives no version of {', '.join(missing)} for the v{minor} "
            "repository (kubeadm and kubelet depend on them)",
            f'add them under companions: "{minor}": {{NAME: VERSION-1.1}}',
        )
    return {n: given[n] for n in wanted}


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise EnvironmentProblem(
            f"{path} is missing ({exc.strerror})",
            f"restore it from the repository (git checkout -- {path.name})",
        ) from None


def find_tfjob_crd(root: Path) -> Path | None:
    """The reference copy of the training operator's TFJob CRD, by the search of the stand-in
    manifest's builder (tests/standins/k8s/training_operator_manifest.py), which the unit tests
    use too."""
    helper = load_script(root / STANDINS_DIR / "training_operator_manifest.py")
    return helper.find_tfjob_crd(root) if helper else None


def recipe_files(root: Path) -> list[Path]:
    """Every file whose content shapes the repositories (for a cache key)."""
    files: list[Path] = []
    for base in (root / RECIPE_DIR, root / STANDINS_DIR):
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base).as_posix()
            if path.is_file() and "__pycache__" not in rel and not rel.endswith(".pyc"):
                files.append(path)
    crd = find_tfjob_crd(root)
    if crd is not None:
        files.append(crd)
    return files


def recipe_digest(root: Path) -> str:
    """sha256 over the recipe, the stand-ins' code, the CRD, the kubernetes-validate version and
    this module's build logic: equal digests build equal repositories (bar signatures)."""
    digest = hashlib.sha256()
    digest.update(
        f"dlrs-k8s-repo\0{BUILD_LOGIC_VERSION}\0{_kubernetes_validate_version()}\0".encode()
    )
    for path in recipe_files(root):
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        digest.update(rel.encode() + b"\0" + ("x" if os.access(path, os.X_OK) else "-").encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _kubernetes_validate_version() -> str:
    try:
        from importlib.metadata import version

        return version("kubernetes-validate")
    except Exception:
        return "absent"


# --------------------------------------------------------------------------------------------
# the stand-ins' own module (schema bundles)


@contextmanager
def _standins_module(root: Path) -> Iterator[Any]:
    """k8s_stand_in.validation of the checkout, imported without leaving traces in sys.path."""
    path = str(root / STANDINS_DIR)
    saved = {
        k: v for k, v in sys.modules.items() if k == "k8s_stand_in" or k.startswith("k8s_stand_in.")
    }
    for key in saved:
        del sys.modules[key]
    sys.path.insert(0, path)
    try:
        yield importlib.import_module("k8s_stand_in.validation")
    finally:
        sys.path.remove(path)
        for key in [k for k in sys.modules if k == "k8s_stand_in" or k.startswith("k8s_stand_in.")]:
            del sys.modules[key]
        sys.modules.update(saved)


def schema_bundle(root: Path, minor: str) -> bytes:
    with _standins_module(root) as validation:
        directory = validation.kubernetes_validate_dir(minor)
        if directory is None:
            raise EnvironmentProblem(
                f"the JSON schemas of Kubernetes {minor} are needed for the stand-in packages, and "
                "the kubernetes-validate package is not installed in this Python",
                "install the development dependencies (`make venv`; pyproject.toml pins "
                "kubernetes-validate)",
            )
        data = validation.bundle(directory)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------
# tools


def _require(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise EnvironmentProblem(
            f"{tool} is needed to build the sandbox's Kubernetes stand-in repository and is "
            "not installed",
            f"as root: apt-get install -y {package}",
        )
    return found


def _run(
    cmd: list[str], timeout: float, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> bytes:
    try:
        proc = subprocess.run(
            cmd,
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(
            f"`{' '.join(cmd[:3])} ...` took longer than {timeout} s",
            "retry; is the machine overloaded?",
        ) from None
    if proc.returncode != 0:
        raise EnvironmentProblem(
            f"`{' '.join(cmd[:4])} ...` failed (exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()[-600:]}",
            "see the message above",
        )
    return proc.stdout


# --------------------------------------------------------------------------------------------
# debs


def _write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)


def build_deb(
    root: Path,
    recipe: Recipe,
    name: str,
    package_version: str,
    work: Path,
    dest_dir: Path,
    schemas: bytes | None,
    crd: Path | None,
) -> Path:
    spec = recipe.packages["packages"][name]
    standins = root / STANDINS_DIR
    stage = work / f"{name}_{package_version}"
    if stage.exists():
        shutil.rmtree(stage)
    lib = stage / "usr" / "lib" / name / "stand-in"
    upstream = package_version.split("-")[0]
    companion = is_companion(spec)
    for script in [] if companion else [spec["script"], *spec.get("extra_scripts", [])]:
        _write(lib / script, (standins / script).read_bytes(), 0o755)
    if not companion:
        for module in sorted((standins / "k8s_stand_in").glob("*.py")):
            _write(lib / "k8s_stand_in" / module.name, module.read_bytes())
        build_info = {
            "package": name,
            "version": upstream,
            "package_version": package_version,
            "standIn": "dlrs-provision",
        }
        _write(
            lib / "k8s_stand_in" / "build_info.json",
            json.dumps(build_info, indent=2, sort_keys=True) + "\n",
        )
    if spec.get("schemas") and schemas is not None:
        _write(
            lib / "k8s_stand_in" / "schemas" / f"kubernetes-{minor_of(package_version)}.json",
            schemas,
        )
    if spec.get("crds") and crd is not None:
        _write(lib / "crds" / CRD_NAME, crd.read_bytes())
    for item in spec.get("files") or []:
        _write(stage / item["dest"].lstrip("/"), (standins / item["src"]).read_bytes())
    if not companion:
        bin_dir = stage / "usr" / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        (bin_dir / spec["command"]).symlink_to(f"../lib/{name}/stand-in/{spec['script']}")
    notice_name = "STAND-IN-companion.in" if companion else "STAND-IN.in"
    notice = (standins / "packaging" / notice_name).read_text()
    notice = (
        notice.replace("@PACKAGE@", name)
        .replace("@VERSION@", package_version)
        .replace("@COMMAND@", str(spec.get("command", name)))
    )
    doc = stage / "usr" / "share" / "doc" / name
    _write(doc / "STAND-IN", notice)
    _write(
        doc / "copyright",
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {name} (dlrs-provision stand-in, not Kubernetes)\n"
        "Comment: a stand-in for tests; see STAND-IN next to this file.\n\n"
        "Files: *\nCopyright: dlrs-provision authors\nLicense: Apache-2.0\n",
    )

    # control files
    control_dir = stage / "DEBIAN"
    control_dir.mkdir(parents=True)
    sums = []
    size_kib = 0
    for path in sorted(p for p in stage.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(stage).as_posix()
        if rel.startswith("DEBIAN/"):
            continue
        sums.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {rel}\n")
        size_kib += (path.stat().st_size + 1023) // 1024
    _write(control_dir / "md5sums", "".join(sums))
    python = [] if companion else recipe.packages["python_depends"]
    depends = ", ".join([*python, *spec.get("depends", [])])
    if companion:
        description = (
            f"{spec['summary']}\n"
            " This is NOT the real package: an empty stand-in for the tests of dlrs-provision,\n"
            " there to satisfy the Depends of the stand-in kubeadm and kubelet; see\n"
            f" /usr/share/doc/{name}/STAND-IN.\n"
        )
    else:
        description = (
            f"{spec['summary']}\n"
            " This is NOT Kubernetes: it is a stand-in for the tests of dlrs-provision, built\n"
            f" because {spec['command']} cannot be obtained where they run. It follows the real\n"
            " command-line contract for the subset the toolkit uses; see\n"
            f" /usr/share/doc/{name}/STAND-IN.\n"
        )
    control = (
        f"Package: {name}\n"
        f"Version: {package_version}\n"
        f"Architecture: {recipe.packages.get('architecture', 'amd64')}\n"
        f"Maintainer: {recipe.packages['maintainer']}\n"
        f"Installed-Size: {size_kib}\n"
        + (f"Depends: {depends}\n" if depends else "")
        + "Section: admin\n"
        "Priority: optional\n"
        f"Description: {description}"
    )
    _write(control_dir / "control", control)
    for script in spec.get("maintainer_scripts") or []:
        _write(control_dir / script, (standins / "packaging" / script).read_bytes(), 0o755)

    for path in [stage, *stage.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            os.chmod(path, 0o755)
        os.utime(path, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
    dest_dir.mkdir(parents=True, exist_ok=True)
    deb = dest_dir / f"{name}_{package_version}_{recipe.packages.get('architecture', 'amd64')}.deb"
    _run(
        [
            _require("dpkg-deb", "dpkg"),
            "--root-owner-group",
            "-Zgzip",
            "--build",
            str(stage),
            str(deb),
        ],
        DPKG_TIMEOUT_S,
        env={"SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)},
    )
    return deb


def _control_fields(deb: Path) -> str:
    return _run([_require("dpkg-deb", "dpkg"), "--field", str(deb)], DPKG_TIMEOUT_S).decode()


def packages_index(repo_dir: Path, debs: list[Path]) -> str:
    """The Packages file: each deb's control fields plus Filename, Size and hashes."""
    stanzas = []
    for deb in debs:
        fields = _control_fields(deb).rstrip("\n")
        data = deb.read_bytes()
        head, _, tail = fields.partition("\nDescription:")
        stanzas.append(
            f"{head}\n"
            f"Filename: {deb.relative_to(repo_dir).as_posix()}\n"
            f"Size: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\n"
            f"SHA1: {hashlib.sha1(data).hexdigest()}\n"
            f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
            f"SHA512: {hashlib.sha512(data).hexdigest()}\n"
            f"Description:{tail}\n"
        )
    return "\n".join(stanzas)


def release_file(repo_dir: Path, files: list[str], fields: dict[str, str]) -> str:
    lines = [f"{k}: {v}" for k, v in fields.items()]
    lines.append(f"Date: {email.utils.formatdate(usegmt=True).replace('GMT', 'UTC')}")
    lines.append("Acquire-By-Hash: no")
    for title, algo in (
        ("MD5Sum", hashlib.md5),
        ("SHA1", hashlib.sha1),
        ("SHA256", hashlib.sha256),
        ("SHA512", hashlib.sha512),
    ):
        lines.append(f"{title}:")
        for name in files:
            data = (repo_dir / name).read_bytes()
            lines.append(f" {algo(data).hexdigest()} {len(data):>16} {name}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# signing


@contextmanager
def _gnupg_home() -> Iterator[Path]:
    """A throw-away GNUPGHOME with a short path (gpg-agent's socket must fit in 108 bytes)."""
    home = Path(tempfile.mkdtemp(prefix="dlrs-gpg-", dir="/tmp"))
    os.chmod(home, 0o700)
    try:
        yield home
    finally:
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            subprocess.run(
                [gpgconf, "--homedir", str(home), "--kill", "all"],
                capture_output=True,
                check=False,
                timeout=30,
            )
        shutil.rmtree(home, ignore_errors=True)


def _gpg(home: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return _run(
        [_require("gpg", "gnupg"), "--homedir", str(home), "--batch", "--no-tty", "--quiet", *args],
        GPG_TIMEOUT_S,
        stdin=stdin,
    )


def signing_key(key_dir: Path, uid: str, algorithm: str, echo: Echo) -> tuple[Path, Path]:
    """The cached key pair (armored secret key, armored public key), made on first use."""
    secret, public = key_dir / SECRET_KEY_FILE, key_dir / PUBLIC_KEY_FILE
    if secret.is_file() and public.is_file():
        return secret, public
    echo(f"generating the signing key of the Kubernetes stand-in repository in {key_dir}")
    key_dir.mkdir(parents=True, exist_ok=True)
    with _gnupg_home() as home:
        _gpg(
            home,
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-generate-key",
            uid,
            algorithm,
            "sign",
            "never",
        )
        secret_data = _gpg(
            home,
            "--armor",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--export-secret-keys",
            uid,
        )
        public_data = _gpg(home, "--armor", "--export", uid)
    tmp = secret.with_suffix(".tmp")
    tmp.write_bytes(secret_data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, secret)
    public.write_bytes(public_data)
    return secret, public


def public_key_fingerprints(public_key: Path) -> list[str]:
    """The primary-key fingerprints of the repository's public key, as gpg reads them: what an
    inventory pins (dlrs_kubernetes_repo_key_fingerprints) to trust this repository's key."""
    with _gnupg_home() as home:
        listing = _gpg(home, "--show-keys", "--with-colons", str(public_key)).decode()
    found, primary = [], False
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub"):
            primary = fields[0] == "pub"
        elif fields[0] == "fpr" and primary and len(fields) > 9:
            found.append(fields[9].upper())
            primary = False
    if not found:
        raise EnvironmentProblem(
            f"{public_key} holds no public key", f"remove {public_key.parent} to make a new one"
        )
    return found


def cached_key_fingerprints(root: Path, key_dir: Path | None = None) -> list[str]:
    """The fingerprints of the key build_k8s_repo signs with (made on first use)."""
    recipe = load_recipe(root)
    _, public = signing_key(
        key_dir or root / KEY_CACHE_DIR, recipe.key_uid, recipe.key_algorithm, log.info
    )
    return public_key_fingerprints(public)


def sign_release(repo_dir: Path, secret_key: Path) -> None:
    """InRelease (clear-signed) and Release.gpg (detached, armored), as apt reads them."""
    with _gnupg_home() as home:
        _gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--import", str(secret_key))
        listing = _gpg(home, "--with-colons", "--list-secret-keys").decode()
        fpr = next(
            (line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")), ""
        )
        if not fpr:
            raise EnvironmentProblem(
                f"the signing key {secret_key} holds no secret key",
                f"delete {secret_key.parent} to make a new one",
            )
        common = [
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--local-user",
            fpr,
            "--digest-algo",
            "SHA256",
        ]
        release = repo_dir / "Release"
        for target in (repo_dir / "InRelease", repo_dir / "Release.gpg"):
            target.unlink(missing_ok=True)
        _gpg(home, *common, "--clearsign", "--output", str(repo_dir / "InRelease"), str(release))
        _gpg(
            home,
            *common,
            "--armor",
            "--detach-sign",
            "--output",
            str(repo_dir / "Release.gpg"),
            str(release),
        )


# --------------------------------------------------------------------------------------------
# release binaries (dl.k8s.io's layout)


def release_launcher(name: str, version: str, script: str, digest: str) -> str:
    """__main__.py of a release binary: unpack the archive once into
    RELEASE_UNPACK_DIR/<name>-<version>-<digest> (a cache dir of the user when that is not
    writable), then run the stand-in script from there. The stand-ins read their files
    (build_info.json, schemas, the API endpoint script) next to their code, which a zip import
    cannot give; unpacked, the tree is the one the deb installs under /usr/lib/<package>/."""
    return f"""\
# {name} {version}: dlrs-provision STAND-IN release binary (tests only, not Kubernetes)
import os
import shutil
import sys
import tempfile
import zipfile

NAME, VERSION, SCRIPT, DIGEST = {name!r}, {version!r}, {script!r}, {digest!r}


def unpacked():
    archive = os.path.dirname(os.path.abspath(__file__))
    leaf = NAME + "-" + VERSION + "-" + DIGEST
    bases = [os.environ.get("K8S_STAND_IN_UNPACK_DIR") or {RELEASE_UNPACK_DIR!r}]
    bases.append(os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "k8s-stand-in"))
    for base in bases:
        target = os.path.join(base, leaf)
        if os.path.isfile(os.path.join(target, SCRIPT)):
            return target
        try:
            os.makedirs(base, mode=0o755, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix="." + leaf + "-", dir=base)
        except OSError:
            continue
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.filename.startswith("stand-in/") and not info.is_dir():
                    path = zf.extract(info, tmp)
                    os.chmod(path, (info.external_attr >> 16) & 0o777 or 0o644)
        os.chmod(os.path.join(tmp, "stand-in"), 0o755)
        try:
            os.rename(os.path.join(tmp, "stand-in"), target)
        except OSError:
            pass  # another run unpacked it first
        shutil.rmtree(tmp, ignore_errors=True)
        return target
    sys.exit(NAME + ": stand-in: cannot unpack into " + " or ".join(bases))


here = unpacked()
sys.argv[0] = os.path.join(here, SCRIPT)
sys.path.insert(0, here)
with open(sys.argv[0], encoding="utf-8") as source:
    code = compile(source.read(), sys.argv[0], "exec")
exec(code, {{"__name__": "__main__", "__file__": sys.argv[0]}})
"""


def _release_entries(
    root: Path, recipe: Recipe, name: str, version: str, schemas: bytes | None, crd: Path | None
) -> list[tuple[str, bytes, int]]:
    """(path in the archive, content, mode) of a release binary's payload, as the deb lays out
    /usr/lib/<package>/stand-in/ (release binaries carry no unit files: the real ones do not)."""
    spec = recipe.packages["packages"][name]
    standins = root / STANDINS_DIR
    entries: list[tuple[str, bytes, int]] = []
    for script in [spec["script"], *spec.get("extra_scripts", [])]:
        entries.append((f"stand-in/{script}", (standins / script).read_bytes(), 0o755))
    for module in sorted((standins / "k8s_stand_in").glob("*.py")):
        entries.append((f"stand-in/k8s_stand_in/{module.name}", module.read_bytes(), 0o644))
    build_info = {
        "package": name,
        "version": version,
        "package_version": "",
        "distribution": "release binary",
        "standIn": "dlrs-provision",
    }
    entries.append(
        (
            "stand-in/k8s_stand_in/build_info.json",
            (json.dumps(build_info, indent=2, sort_keys=True) + "\n").encode(),
            0o644,
        )
    )
    if spec.get("schemas") and schemas is not None:
        entries.append(
            (
                f"stand-in/k8s_stand_in/schemas/kubernetes-{minor_of(version)}.json",
                schemas,
                0o644,
            )
        )
    if spec.get("crds") and crd is not None:
        entries.append((f"stand-in/crds/{CRD_NAME}", crd.read_bytes(), 0o644))
    return entries


def build_release_binary(
    root: Path, recipe: Recipe, name: str, version: str, schemas: bytes | None, crd: Path | None
) -> bytes:
    """One release binary: `#!/usr/bin/env python3` and a zip archive (a Python zipapp), the
    same bytes for the same inputs (fixed times, sorted entries)."""
    entries = _release_entries(root, recipe, name, version, schemas, crd)
    digest = hashlib.sha256()
    for path, data, mode in entries:
        digest.update(f"{path}\0{mode:o}\0".encode() + hashlib.sha256(data).digest())
    spec = recipe.packages["packages"][name]
    launcher = release_launcher(name, version, spec["script"], digest.hexdigest()[:16])
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    stamp = time.gmtime(SOURCE_DATE_EPOCH)[:6]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data, mode in [("__main__.py", launcher.encode(), 0o644), *entries]:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def _schemas_if_known(root: Path, minor: str) -> bytes | None:
    """The schema bundle of a minor, or None for a minor older than every schema set that
    kubernetes-validate has (1.12: its API endpoint then validates no built-in kinds)."""
    with _standins_module(root) as validation:
        if validation.kubernetes_validate_dir(minor) is None and importlib.util.find_spec(
            "kubernetes_validate"
        ):
            return None
    return schema_bundle(root, minor)


def release_binaries(root: Path) -> dict[str, dict[str, bytes]]:
    """version -> binary name -> its bytes, for every release version of the recipe."""
    recipe = load_recipe(root)
    crd = find_tfjob_crd(root)
    built: dict[str, dict[str, bytes]] = {}
    for version in recipe.release_versions():
        schemas = _schemas_if_known(root, minor_of(version))
        built[version] = {
            name: build_release_binary(root, recipe, name, version, schemas, crd)
            for name in RELEASE_BINARIES
        }
    return built


def checksums_of(binaries: dict[str, dict[str, bytes]]) -> dict[str, dict[str, str]]:
    """version -> name -> "sha256:<hex>", the shape of dlrs_kubernetes_binary_checksums."""
    return {
        version: {
            name: "sha256:" + hashlib.sha256(data).hexdigest() for name, data in names.items()
        }
        for version, names in binaries.items()
    }


def build_release_tree(
    root: Path, out_dir: Path, echo: Echo | None = None
) -> dict[str, dict[str, str]]:
    """Write <out_dir>/v<X.Y.Z>/bin/linux/amd64/<name> and <name>.sha256 (the bare hex digest,
    as dl.k8s.io serves it) for every release version, plus SHA256SUMS.json (the checksums
    returned, in the shape of dlrs_kubernetes_binary_checksums). out_dir is replaced."""
    say = echo or log.info
    binaries = release_binaries(root)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    for version, names in binaries.items():
        arch_dir = out_dir / f"v{version}" / RELEASE_ARCH_DIR
        for name, data in names.items():
            _write(arch_dir / name, data, 0o755)
            _write(arch_dir / f"{name}.sha256", hashlib.sha256(data).hexdigest())
    sums = checksums_of(binaries)
    _write(out_dir / "SHA256SUMS.json", json.dumps(sums, indent=2, sort_keys=True) + "\n")
    say(f"built the Kubernetes stand-in release binaries {', '.join(binaries)}")
    return sums


# --------------------------------------------------------------------------------------------
# the whole build


def build_k8s_repo(
    root: Path, out_dir: Path, key_dir: Path | None = None, echo: Echo | None = None
) -> list[Path]:
    """Build the repositories into out_dir (e.g. the mirror image's srv-mirror/k8s, served as
    http://mirror:8080/k8s); returns the repository directories. out_dir is replaced."""
    say = echo or log.info
    recipe = load_recipe(root)
    key_dir = key_dir or root / KEY_CACHE_DIR
    _require("dpkg-deb", "dpkg")
    _require("gpg", "gnupg")
    for minor in recipe.minors():  # refuse an incomplete recipe before building anything
        companion_versions(recipe, minor)
    secret, public = signing_key(key_dir, recipe.key_uid, recipe.key_algorithm, say)
    crd = find_tfjob_crd(root)
    if crd is None:
        say(
            f"the reference TFJob CRD ({CRD_NAME}) was not found: the kubeadm stand-in "
            "package is built without it"
        )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    repos = []
    with tempfile.TemporaryDirectory(prefix="dlrs-k8s-repo-") as tmp:
        work = Path(tmp)
        for minor in recipe.minors():
            repo_dir = out_dir / recipe.path.format(minor=minor)
            schemas = schema_bundle(root, minor)
            debs = []
            for package_version in recipe.versions:
                if minor_of(package_version) != minor:
                    continue
                for name in sorted(recipe.packages["packages"]):
                    if is_companion(recipe.packages["packages"][name]):
                        continue
                    debs.append(
                        build_deb(
                            root,
                            recipe,
                            name,
                            package_version,
                            work,
                            repo_dir / "amd64",
                            schemas,
                            crd,
                        )
                    )
            for name, package_version in companion_versions(recipe, minor).items():
                debs.append(
                    build_deb(
                        root, recipe, name, package_version, work, repo_dir / "amd64", None, None
                    )
                )
            (repo_dir / "Packages").write_text(packages_index(repo_dir, debs))
            with (
                open(repo_dir / "Packages", "rb") as src,
                gzip.GzipFile(repo_dir / "Packages.gz", "wb", mtime=0) as dst,
            ):
                shutil.copyfileobj(src, dst)
            fields = {
                "Origin": recipe.release.get("origin", "dlrs-provision stand-in"),
                "Label": recipe.release.get("label", "").format(minor=minor),
                "Architectures": recipe.packages.get("architecture", "amd64"),
                "Description": recipe.release.get("description", "").format(minor=minor),
            }
            (repo_dir / "Release").write_text(
                release_file(repo_dir, ["Packages", "Packages.gz"], fields)
            )
            sign_release(repo_dir, secret)
            shutil.copyfile(public, repo_dir / PUBLIC_KEY_FILE)
            say(
                f"built the Kubernetes stand-in repository v{minor}: "
                f"{', '.join(d.name for d in debs)}"
            )
            repos.append(repo_dir)
    if crd is not None and recipe.tfjob_crd:
        target = out_dir / recipe.tfjob_crd
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(crd, target)
    return repos
