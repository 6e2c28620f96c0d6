"""The sandbox's images: recipes under tests/sandbox/, built locally, cached by content hash.

No registry is reachable, so nothing is pulled: `base` is a Debian 12 root file system made by
debootstrap and imported; every other image is a `docker build` FROM a local image. Each image is
tagged dlrs-sandbox/<name>:<hash12>, where the hash covers the image's recipe directory, the files
copied into its build context from elsewhere in the checkout, its build arguments and its parent's
hash. An image whose tag exists is reused (`docker image inspect`); a changed recipe gets a new
tag and is built once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from dlrs_harness.docker_engine import docker_cli, run_docker
from dlrs_harness.sandbox import k8s_repo
from dlrs_harness.sandbox.paths import cache_dir
from dlrs_provision.errors import EnvironmentProblem

log = logging.getLogger(__name__)

Echo = Callable[[str], None]

REPOSITORY = "dlrs-sandbox"
# Bump when the way images are built changes in this file (not in the recipes): new tags.
BUILD_LOGIC_VERSION = "1"
BUILD_TIMEOUT_S = 1200

# The swupd stand-in's update server on the mirror host (tests/standins/make_swupd_mirror.py).
SWUPD_VERSIONS = (26000, 26240, 26300)
SWUPD_BUNDLES = ("os-core", "containers-basic", "cloud-native-basic")
SWUPD_LATEST = 26300
SWUPD_MIRROR_PATH = "clearlinux/update"  # under /srv/mirror, served on :8080
# What stands in for the bundles' content on the Clear-Linux-like host (Debian underneath): the
# stand-in's bundle-add installs these Debian packages through the mirror's apt proxy, and the
# Kubernetes stand-in packages from the mirror's own repository (srv-mirror/k8s). The mirror knows
# its name on the sandbox network (cluster.MIRROR_HOSTNAME, files.mirror_urls).
SWUPD_PAYLOAD_APT_PROXY = "http://mirror:3142"
SWUPD_PAYLOAD_K8S_REPO = "http://mirror:8080/k8s/core:/stable:/v1.32/deb/"
# The stand-in release binaries on the mirror (k8s_repo.build_release_tree), as dl.k8s.io's
# /release: the inventory's dlrs_kubernetes_binary_url, and where the stand-in bundle takes the
# Kubernetes of an OS version that pkgs.k8s.io never had.
RELEASE_MIRROR_PATH = "dl/release"  # under /srv/mirror, served on :8080
SWUPD_PAYLOAD_RELEASE_URL = f"http://mirror:8080/{RELEASE_MIRROR_PATH}"
# The Kubernetes that cloud-native-basic carries at each OS version of the stand-in mirror is
# the product's table (dlrs_provision.clearlinux_kubernetes.bundle_kubernetes, issue #12); this
# copy of its values for the mirror's versions is used only where that module is absent (a
# checkout without it): clearlinux-pkgs/kubernetes carried 1.11.0 until OS 26500 (1.12.2).
SWUPD_BUNDLE_KUBERNETES = {26000: "1.11.0", 26240: "1.11.0", 26300: "1.11.0"}


def bundle_kubernetes_version(os_version: int) -> str:
    """The Kubernetes version of cloud-native-basic at `os_version` in the stand-in mirror."""
    try:
        from dlrs_provision.clearlinux_kubernetes import bundle_kubernetes
    except ImportError:
        found = SWUPD_BUNDLE_KUBERNETES.get(os_version)
    else:
        found = bundle_kubernetes(os_version)
    if not found:
        raise EnvironmentProblem(
            f"the swupd stand-in mirror has OS version {os_version}, whose cloud-native-basic "
            "carries no known Kubernetes version",
            "give it one in dlrs_provision/clearlinux_kubernetes.py (BUNDLE_KUBERNETES) or "
            "drop it from images.SWUPD_VERSIONS",
        )
    return found


def swupd_version_payloads(
    module: ModuleType, checksums: dict[str, dict[str, str]], deb_versions: list[str]
) -> dict[int, dict[str, dict[str, object]]]:
    """cloud-native-basic per OS version, carrying that version's Kubernetes: the stand-in
    packages from the mirror's apt repository when it has that version, else the stand-in
    release binaries of that version installed into /usr/bin (checked by their sha256)."""
    out: dict[int, dict[str, dict[str, object]]] = {}
    for os_version in SWUPD_VERSIONS:
        wanted = bundle_kubernetes_version(os_version)
        package = next((v for v in deb_versions if v.split("-")[0] == wanted), None)
        if package is not None:
            minor = k8s_repo.minor_of(package)
            repo = SWUPD_PAYLOAD_K8S_REPO.replace("v1.32", f"v{minor}")
            payload = module.debian_payloads(SWUPD_PAYLOAD_APT_PROXY, repo, package)
            out[os_version] = {"cloud-native-basic": payload["cloud-native-basic"]}
            continue
        if wanted not in checksums:
            raise EnvironmentProblem(
                f"cloud-native-basic at OS {os_version} carries Kubernetes {wanted}, which the "
                "sandbox builds neither as a stand-in package nor as a release binary",
                f'add "{wanted}" to release_binaries.extra_versions in '
                f"{k8s_repo.RECIPE_DIR}/repos.yaml",
            )
        out[os_version] = {
            "cloud-native-basic": module.release_files_payload(
                SWUPD_PAYLOAD_APT_PROXY, SWUPD_PAYLOAD_RELEASE_URL, wanted, checksums[wanted]
            )
        }
    return out


@dataclass(frozen=True)
class ImageSpec:
    name: str
    recipe: str  # directory under tests/sandbox/
    parent: str | None = None  # the spec this one is built FROM (as build argument BASE)
    copies: tuple[tuple[str, str], ...] = ()  # (path in build context, path in the checkout)
    hashed: tuple[str, ...] = ()  # further checkout files that shape the image
    build_args: tuple[tuple[str, str], ...] = ()
    swupd_tree: bool = False  # write the swupd mirror tree into the context (srv-mirror/)
    k8s_repo: bool = False  # write the Kubernetes stand-ins apt repositories (srv-mirror/k8s)


SPECS: dict[str, ImageSpec] = {
    spec.name: spec
    for spec in (
        ImageSpec("base", "base"),
        ImageSpec("host-debian", "host-debian", parent="base"),
        ImageSpec(
            "host-clearlinux",
            "host-clearlinux",
            parent="host-debian",
            copies=(
                ("swupd-stand-in", "tests/standins/swupd-stand-in"),
                ("clrtrust-stand-in", "tests/standins/clrtrust-stand-in"),
            ),
        ),
        ImageSpec(
            "mirror",
            "mirror",
            parent="base",
            hashed=("tests/standins/make_swupd_mirror.py",),
            swupd_tree=True,
            k8s_repo=True,
        ),
        ImageSpec("registry", "registry-image", parent="base"),
        ImageSpec("stack-dlaas-mkl", "stack-test", parent="base", build_args=(("FLAVOR", "mkl"),)),
        ImageSpec("stack-dlaas-oss", "stack-test", parent="base", build_args=(("FLAVOR", "oss"),)),
    )
}

# What the test stack images are pushed as, in the mirror's registry.
STACK_IMAGES = {
    "clearlinux/stacks-dlaas-mkl:latest": "stack-dlaas-mkl",
    "clearlinux/stacks-dlaas-oss:latest": "stack-dlaas-oss",
}

# What the registry image is pushed as (Docker Hub's name; registry_cache's default image), for
# a Clear Linux master, where the registry runs as a container.
REGISTRY_IMAGE = ("library/registry:2.8.3", "registry")


# kubeadm's control-plane images, played by one tiny STAND-IN image (a note, no program) pushed
# into the mirror's registry under every name the kubeadm stand-in's ImagePull check asks for:
# <registry>/registry.k8s.io/<name>:<tag> for each Kubernetes version the stand-in repo serves.
CONTROL_PLANE_STAND_IN = f"{REPOSITORY}/k8s-control-plane-stand-in"
CONTROL_PLANE_NOTE = (
    b"STAND-IN: not a Kubernetes image. dlrs-provision's sandbox tags this note with the names of\n"
    b"kubeadm's control-plane images so that the kubeadm stand-in's ImagePull preflight finds\n"
    b"them in the mirror's registry. Nothing runs it.\n"
)


def control_plane_image_paths(root: Path, path: str) -> list[str]:
    """<path>/<name>:<tag> of every control-plane image of the stand-in repo's versions, where
    kubeadm looks with imageRepository <registry>/<path> (CoreDNS at coredns)."""
    from dlrs_provision import k8s_images
    from dlrs_provision.registry import Reference

    wanted = set()
    for version in k8s_repo.load_recipe(root).versions:
        upstream = version.split("-")[0]
        if k8s_repo.minor_of(version) not in k8s_images.RELEASES:
            continue
        for image in k8s_images.control_plane_images(upstream):
            ref = Reference.parse(image)
            wanted.add(f"{path}/{k8s_images.load_path(ref.repository)}:{ref.tag}")
    return sorted(wanted)


def control_plane_stand_in_archive() -> bytes:
    """The stand-in image's file system: one file, fixed owner and time (a stable image ID)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("STAND-IN")
        info.size, info.mode, info.mtime = len(CONTROL_PLANE_NOTE), 0o644, 0
        tar.addfile(info, io.BytesIO(CONTROL_PLANE_NOTE))
    return buf.getvalue()


def ensure_control_plane_stand_in(say: Echo) -> str:
    """The tag of the tiny stand-in image, imported once (`docker import` of one file)."""
    data = control_plane_stand_in_archive()
    tag = f"{CONTROL_PLANE_STAND_IN}:{hashlib.sha256(data).hexdigest()[:12]}"
    if not image_exists(tag):
        say(f"importing {tag} (the control-plane images' stand-in)")
        run_docker(["import", "-", tag], input=data)
    return tag


class ImageBuilder:
    """Computes tags and builds missing images (each at most once per builder)."""

    def __init__(
        self, root: Path, echo: Echo | None = None, extra_specs: tuple[ImageSpec, ...] = ()
    ):
        self.root = root
        self.say = echo or log.info
        # images that are not the sandbox's own (e.g. tests/tf's TensorFlow image); a recipe
        # path is relative to tests/sandbox/ (so "../tf/image" for tests/tf/image)
        self.specs: dict[str, ImageSpec] = {**SPECS, **{s.name: s for s in extra_specs}}
        self._hashes: dict[str, str] = {}
        self._ready: set[str] = set()
        self.built: list[str] = []  # tags built by this builder

    # -- cache keys -----------------------------------------------------------------------------

    def recipe_hash(self, name: str) -> str:
        if name in self._hashes:
            return self._hashes[name]
        spec = self.specs[name]
        digest = hashlib.sha256()

        def feed(*parts: str | bytes) -> None:
            for part in parts:
                digest.update(part if isinstance(part, bytes) else part.encode())
                digest.update(b"\0")

        feed("dlrs-sandbox-image", BUILD_LOGIC_VERSION, spec.name)
        if spec.parent:
            feed("parent", self.recipe_hash(spec.parent))
        recipe_dir = self.recipe_dir(spec)
        for path in sorted(p for p in recipe_dir.rglob("*") if p.is_file()):
            rel = path.relative_to(recipe_dir).as_posix()
            if "__pycache__" in rel or any(part.startswith(".") for part in rel.split("/")):
                continue
            feed("recipe", rel, _mode(path), _file_digest(path))
        for dest, source in spec.copies:
            feed("copy", dest, _mode(self._source(source)), _file_digest(self._source(source)))
        for source in spec.hashed:
            feed("hashed", source, _file_digest(self._source(source)))
        for key, value in spec.build_args:
            feed("arg", key, value)
        if spec.swupd_tree:
            feed(
                "swupd",
                repr((SWUPD_VERSIONS, SWUPD_BUNDLES, SWUPD_LATEST, SWUPD_MIRROR_PATH)),
                repr((SWUPD_PAYLOAD_APT_PROXY, SWUPD_PAYLOAD_K8S_REPO)),
                repr(
                    (
                        SWUPD_PAYLOAD_RELEASE_URL,
                        [(v, bundle_kubernetes_version(v)) for v in SWUPD_VERSIONS],
                    )
                ),
            )
        if spec.k8s_repo:
            feed("k8s-repo", k8s_repo.recipe_digest(self.root))
        self._hashes[name] = digest.hexdigest()
        return self._hashes[name]

    def tag(self, name: str) -> str:
        return f"{REPOSITORY}/{name}:{self.recipe_hash(name)[:12]}"

    def recipe_dir(self, spec: ImageSpec) -> Path:
        path = self.root / "tests" / "sandbox" / spec.recipe
        if not path.is_dir():
            raise EnvironmentProblem(
                f"the sandbox recipe directory {path} is missing",
                "restore tests/sandbox/ from the repository (git checkout -- tests/sandbox)",
            )
        return path

    def _source(self, rel: str) -> Path:
        path = self.root / rel
        if not path.is_file():
            raise EnvironmentProblem(
                f"{rel}, which the sandbox's images are built with, is missing from {self.root}",
                f"restore it from the repository (git checkout -- {rel})",
            )
        return path

    # -- building -------------------------------------------------------------------------------

    def ensure(self, name: str) -> str:
        """The tag of image `name`, built first (with its parents) when it does not exist."""
        tag = self.tag(name)
        if name in self._ready:
            return tag
        spec = self.specs[name]
        if spec.parent:
            self.ensure(spec.parent)
        if not image_exists(tag):
            self.say(f"building image {tag} (recipe tests/sandbox/{spec.recipe})")
            started = time.monotonic()
            if name == "base":
                self._build_base(tag)
            else:
                self._build(spec, tag)
            self.built.append(tag)
            self.say(f"built {tag} in {time.monotonic() - started:.0f} s")
            self._drop_old_tags(name, tag)
        self._ready.add(name)
        return tag

    def _log_path(self, name: str) -> Path:
        logs = cache_dir(self.root)
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"build-{name}.log"

    def _build_base(self, tag: str) -> None:
        _ensure_debootstrap(self.say)
        script = self.recipe_dir(SPECS["base"]) / "build-base.sh"
        self._run_logged(["bash", str(script), tag], "base", cwd=self.root)

    def _build(self, spec: ImageSpec, tag: str) -> None:
        with tempfile.TemporaryDirectory(prefix=f"dlrs-sandbox-{spec.name}-") as tmp:
            context = Path(tmp) / "context"
            shutil.copytree(self.recipe_dir(spec), context)
            for dest, source in spec.copies:
                shutil.copy2(self._source(source), context / dest)
            checksums: dict[str, dict[str, str]] = {}
            if spec.k8s_repo:
                k8s_repo.build_k8s_repo(self.root, context / "srv-mirror" / "k8s", echo=self.say)
                checksums = k8s_repo.build_release_tree(
                    self.root, context / "srv-mirror" / RELEASE_MIRROR_PATH, echo=self.say
                )
                self._checksums_path(spec.name, tag).write_text(
                    json.dumps(checksums, indent=2, sort_keys=True) + "\n"
                )
                self._fingerprints_path(spec.name, tag).write_text(
                    json.dumps(k8s_repo.cached_key_fingerprints(self.root)) + "\n"
                )
            if spec.swupd_tree:
                self._write_swupd_tree(context / "srv-mirror" / SWUPD_MIRROR_PATH, checksums)
            cmd = [docker_cli(), "build", "--rm", "--force-rm", "-t", tag]
            cmd += ["--label", f"dlrs-provision.sandbox.recipe-hash={self.recipe_hash(spec.name)}"]
            if spec.parent:
                cmd += ["--build-arg", f"BASE={self.tag(spec.parent)}"]
            for key, value in spec.build_args:
                cmd += ["--build-arg", f"{key}={value}"]
            cmd.append(str(context))
            # The classic builder: this machine's CLI has no buildx plugin, and the classic
            # builder builds FROM local images without looking for a registry.
            self._run_logged(cmd, spec.name, env={"DOCKER_BUILDKIT": "0"})

    def _checksums_path(self, name: str, tag: str) -> Path:
        directory = cache_dir(self.root)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"release-sha256-{name}-{tag.rsplit(':', 1)[-1]}.json"

    def _fingerprints_path(self, name: str, tag: str) -> Path:
        directory = cache_dir(self.root)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"k8s-repo-key-{name}-{tag.rsplit(':', 1)[-1]}.json"

    def k8s_repo_key_fingerprints(self, name: str = "mirror") -> list[str]:
        """The fingerprints of the key that signs the Kubernetes stand-in repositories in image
        `name` (dlrs_kubernetes_repo_key_fingerprints), read from the image's own Release.key:
        the signing key is made per checkout while an image is reused by its recipe hash, so
        an image built by another checkout carries that checkout's key. Without the image,
        those recorded at its build, else those of this checkout's cached key."""
        served = self._served_key_fingerprints(self.tag(name))
        if served:
            return served
        path = self._fingerprints_path(name, self.tag(name))
        try:
            data = json.loads(path.read_text())
            if isinstance(data, list) and data and all(isinstance(f, str) for f in data):
                return data
        except (OSError, ValueError):
            pass
        return k8s_repo.cached_key_fingerprints(self.root)

    def _served_key_fingerprints(self, tag: str) -> list[str]:
        script = (
            f'key=$(find /srv/mirror/k8s -name {k8s_repo.PUBLIC_KEY_FILE} | head -n 1); cat "$key"'
        )
        try:
            proc = subprocess.run(
                [docker_cli(), "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh",
                 tag, "-c", script],
                capture_output=True, timeout=120, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return []
        if proc.returncode != 0 or not proc.stdout.strip():
            return []
        with tempfile.TemporaryDirectory(prefix="dlrs-sandbox-key-") as tmp:
            key = Path(tmp) / k8s_repo.PUBLIC_KEY_FILE
            key.write_bytes(proc.stdout)
            return k8s_repo.public_key_fingerprints(key)

    def release_checksums(self, name: str = "mirror") -> dict[str, dict[str, str]]:
        """version -> binary -> "sha256:<hex>" of the stand-in release binaries in image
        `name` (dlrs_kubernetes_binary_checksums): as recorded when the image was built; if
        that record is gone, computed again (the binaries are built reproducibly, so the same
        checkout gives the same bytes as the image's)."""
        path = self._checksums_path(name, self.tag(name))
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and data:
                return {str(v): {str(k): str(h) for k, h in n.items()} for v, n in data.items()}
        except (OSError, ValueError, AttributeError):
            pass
        return k8s_repo.checksums_of(k8s_repo.release_binaries(self.root))

    def _write_swupd_tree(self, target: Path, checksums: dict[str, dict[str, str]]) -> None:
        source = self._source("tests/standins/make_swupd_mirror.py")
        module_spec = importlib.util.spec_from_file_location("_dlrs_make_swupd_mirror", source)
        if module_spec is None or module_spec.loader is None:
            raise EnvironmentProblem(f"cannot load {source}", "check the file is Python")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        payloads = module.debian_payloads(SWUPD_PAYLOAD_APT_PROXY, SWUPD_PAYLOAD_K8S_REPO)
        deb_versions = list(k8s_repo.load_recipe(self.root).versions)
        module.write_mirror(
            target,
            list(SWUPD_VERSIONS),
            list(SWUPD_BUNDLES),
            latest=SWUPD_LATEST,
            payloads=payloads,
            version_payloads=swupd_version_payloads(module, checksums, deb_versions),
        )

    def _run_logged(
        self, cmd: list[str], name: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        log_path = self._log_path(name)
        with open(log_path, "w") as out:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            try:
                proc = subprocess.run(
                    cmd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=cwd,
                    env={**os.environ, **(env or {})},
                    timeout=BUILD_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise EnvironmentProblem(
                    f"building the sandbox image {name} took longer than {BUILD_TIMEOUT_S} s",
                    f"see {log_path}",
                ) from None
        if proc.returncode != 0:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-12:]
            raise EnvironmentProblem(
                f"building the sandbox image {name} failed (exit {proc.returncode}):\n"
                + "\n".join("    " + line for line in tail),
                f"full log: {log_path}; Debian's archive must be reachable for base and mirror",
            )

    def _drop_old_tags(self, name: str, keep: str) -> None:
        """Untag earlier builds of the same image (their recipe changed); images that a
        container still uses stay until `sandbox down --images`."""
        listed = run_docker(
            ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"{REPOSITORY}/{name}"],
            check=False,
        )
        for ref in listed.stdout.split():
            if ref != keep and ref.startswith(f"{REPOSITORY}/{name}:"):
                run_docker(["image", "rm", ref], check=False)


def image_exists(ref: str) -> bool:
    return run_docker(["image", "inspect", "--format", "{{.Id}}", ref], check=False).returncode == 0


def image_id(ref: str) -> str:
    return run_docker(["image", "inspect", "--format", "{{.Id}}", ref]).stdout.strip()


def sandbox_image_refs() -> list[str]:
    """Every image of the sandbox on this machine (dlrs-sandbox/*), as repository:tag."""
    listed = run_docker(
        [
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            f"reference={REPOSITORY}/*",
        ],
        check=False,
    )
    return sorted({ref for ref in listed.stdout.split() if ref.startswith(f"{REPOSITORY}/")})


def _ensure_debootstrap(say: Echo) -> None:
    if shutil.which("debootstrap"):
        return
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "debootstrap is needed to build the sandbox's base image and is not installed",
            "as root: apt-get install -y debootstrap",
        )
    say("debootstrap is missing: installing it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "debootstrap"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise EnvironmentProblem(
                f"`{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout).strip()[-500:]}",
                "as root: apt-get install -y debootstrap (wait for another apt run to finish)",
            )


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mode(path: Path) -> str:
    return "x" if os.access(path, os.X_OK) else "-"
