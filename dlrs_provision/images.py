"""Images for air-gapped sites: one archive of the stack's images, made where a registry can be
reached, pushed into the cluster's own registry where none can.

    dlrs-provision images save -o FILE [--image REF ...] [--inventory INV]   (connected machine)
    dlrs-provision images load FILE INVENTORY [--registry HOST:PORT]        (beside the cluster)

`save` takes the images named, else those of the inventory's hosts (dlrs_image or the variant's),
else every variant's default image. An inventory with `dlrs_registry_mode: local` (air-gapped)
adds the Kubernetes images the cluster pulls: the control plane of the pinned
dlrs_kubernetes_version (an exact release: the tags carry it) and the pod network's images,
as dlrs_provision/k8s_images.py lists them. Credentials for the source registry come from the
environment (DLRS_REGISTRY_USERNAME, DLRS_REGISTRY_PASSWORD), never from the command line.

The archive is an OCI image layout in a tar file: `oci-layout`, `index.json` (one entry per
image: its manifest's digest and size, the platform, and the name in the annotations
`io.containerd.image.name` and `org.opencontainers.image.ref.name`) and `blobs/sha256/<hex>`
(manifests, configs and layers exactly as the registry served them, so every digest and image ID
stays what it was). `docker load` does not read it; `ctr images import`, skopeo and the registry
(through `load`) do. One platform per image (linux/amd64 unless asked otherwise): when a tag
stands for a multi-platform index, the archive keeps that platform's manifest and notes the
index's digest in the annotation `dlrs-provision.index-digest`.

`load` pushes into the registry of the inventory's master, which must run as a plain registry
(`dlrs_registry_mode: local`; a pull-through cache refuses pushes). docker.io images keep their
path (clearlinux/stacks-dlaas-mkl), so that the nodes' pulls through the cluster registry find
them as they would through the cache. registry.k8s.io images go where kubeadm looks with the
cluster registry as imageRepository: `<registry>[/<path>]/<name>`, CoreDNS at `coredns`.

Both write nothing half-done: `save` writes a temporary file beside FILE (made by mkstemp:
an unpredictable name, created exclusively, no symlink followed) and renames it onto FILE
when every blob has been checked; `load` pushes blobs first and a tag last, so a tag never
names an incomplete image.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrs_provision import catalog, cluster_registry, k8s_images, paths
from dlrs_provision.errors import EnvironmentProblem, UsageError
from dlrs_provision.registry import (
    DOCKER_HUB,
    OCI_INDEX,
    Descriptor,
    Manifest,
    Reference,
    RegistryClient,
    RegistryError,
    api_host,
    ca_bundle_problem,
    registry_url,
    sha256_digest,
)
from dlrs_provision.report import table

log = logging.getLogger(__name__)
Echo = Callable[[str], None]

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
_HOST_PORT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:\d{1,5}$")
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
INDEX_ANNOTATION = "dlrs-provision.index-digest"
ID_ANNOTATION = "dlrs-provision.image-id"
DEFAULT_PORT = cluster_registry.DEFAULT_PORT  # declared in settings.py alone
USERNAME_ENV = "DLRS_REGISTRY_USERNAME"
PASSWORD_ENV = "DLRS_REGISTRY_PASSWORD"


def default_images() -> list[str]:
    """The images `save` takes when none are named: every variant's default image."""
    return sorted({v.image for v in catalog.VARIANTS.values()})


@dataclass(frozen=True)
class SaveSource:
    """What `save` takes and where from, as an inventory describes it."""

    images: list[str]
    registry: str | None  # dlrs_upstream_registry: where docker.io images come from
    insecure_registries: list[str]


def source_from_inventory(inventory_path: Path) -> SaveSource:
    """The images of the inventory's hosts (each host's dlrs_image or its variant's image), the
    master's upstream registry and its list of plain-HTTP registries."""
    from dlrs_provision import inventory as inventory_mod

    inv = inventory_mod.load(inventory_path)
    hosts = [*inv.masters, *[w for w in inv.workers if w not in inv.masters]]
    found = sorted({inv.image(h) for h in hosts}) or default_images()
    master = inv.masters[0]
    if inv.setting(master, "dlrs_registry_mode") == "local":
        found += cluster_images(inventory_path, inv, master)
    return SaveSource(
        found,
        inv.setting(master, "dlrs_upstream_registry"),
        list(inv.setting(master, "dlrs_insecure_registries") or []),
    )


def cluster_images(inventory_path: Path, inv: Any, master: str) -> list[str]:
    """An air-gapped site's Kubernetes images: the control plane of the pinned version (as
    `kubeadm config images list` names them on registry.k8s.io) and the pod network's."""
    version = inv.setting(master, "dlrs_kubernetes_version")
    network = str(inv.setting(master, "dlrs_pod_network") or "flannel")
    try:
        wanted = k8s_images.control_plane_images(str(version or ""))
        wanted += k8s_images.pod_network_images(network)
    except UsageError as exc:
        raise UsageError(
            f"{inventory_path}: dlrs_registry_mode is local, so the archive must carry the "
            f"control plane's images, and {exc.message}",
            exc.hint,
        ) from None
    return wanted


def credentials_from_env(environ: dict[str, str] | None = None) -> tuple[str | None, str | None]:
    """(user name, password) for the source registry, from the environment (never argv, where
    every user of the machine can read them)."""
    env = os.environ if environ is None else environ
    username = env.get(USERNAME_ENV) or None
    password = env.get(PASSWORD_ENV) or None
    if password and not username:
        raise UsageError(
            f"{PASSWORD_ENV} is set without {USERNAME_ENV}",
            f"export {USERNAME_ENV} as well, or unset {PASSWORD_ENV}",
        )
    return username, password


@dataclass(frozen=True)
class SavedImage:
    ref: str  # as named in the archive: docker.io/clearlinux/stacks-dlaas-mkl:latest
    digest: str  # the manifest's digest in the archive
    image_id: str  # the config digest (what Docker and containerd call the image ID)
    size: int  # config + layers, compressed
    index_digest: str | None = None  # the multi-platform index the tag stood for, if any


@dataclass
class SaveResult:
    path: Path
    images: list[SavedImage]
    blobs: int
    bytes: int  # the archive's size


@dataclass
class LoadResult:
    registry: str
    images: list[SavedImage]
    pushed_blobs: int = 0
    present_blobs: int = 0
    pushed_bytes: int = 0
    tags: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- save


def _source_client(
    ref: Reference,
    clients: dict[str, RegistryClient],
    *,
    registry: str | None,
    insecure: list[str],
    ca_file: str | None,
    username: str | None,
    password: str | None,
) -> RegistryClient:
    """docker.io images come from `registry` when given (a mirror of Docker Hub), others from
    their own registry; plain HTTP only for registries listed as insecure."""
    host = registry if (registry and ref.registry == DOCKER_HUB) else api_host(ref.registry)
    url = registry_url(host, insecure)
    if url not in clients:
        clients[url] = RegistryClient(
            url,
            ca_file=ca_file,
            username=username,
            password=password,
            timeout=300,
            use_env_proxy=True,  # a connected machine may reach registries through a proxy
        )
    return clients[url]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def save(
    images: list[str] | None,
    out: Path,
    *,
    registry: str | None = None,
    insecure_registries: list[str] | None = None,
    ca_file: str | None = None,
    platform: str = "linux/amd64",
    username: str | None = None,
    password: str | None = None,
    echo: Echo | None = None,
) -> SaveResult:
    """Pull the images (by digest, each blob checked) into one OCI layout archive at `out`."""
    say = echo or log.info
    refs = [Reference.parse(r) for r in (images or default_images())]
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{out} is a folder", "give a file name, e.g. -o dlrs-images.tar")
    if not out.parent.is_dir():
        raise UsageError(
            f"{out}: the folder {out.parent} does not exist", "create it, or write elsewhere"
        )
    if out.exists() and not out.is_file():
        raise UsageError(
            f"{out} is not a regular file (a device or FIFO)",
            "give a file name, e.g. -o dlrs-images.tar",
        )
    # the partial archive: an unpredictable name in the target folder, created with O_EXCL
    # (mkstemp), so no other user's link or file can be written through; renamed when complete
    fd, part_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    part = Path(part_name)
    clients: dict[str, RegistryClient] = {}
    written: set[str] = set()
    saved: list[SavedImage] = []
    entries: list[dict[str, Any]] = []
    current = refs[0] if refs else None
    try:
        with (
            os.fdopen(fd, "wb") as handle,
            tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            _add_bytes(tar, "oci-layout", json.dumps(LAYOUT_VERSION).encode())
            for ref in refs:
                current = ref
                client = _source_client(
                    ref,
                    clients,
                    registry=registry,
                    insecure=insecure_registries or [],
                    ca_file=ca_file,
                    username=username,
                    password=password,
                )
                resolved = client.resolve(ref, platform)
                manifest = resolved.image
                config_bytes = client.get_blob(ref.repository, manifest.config)
                say(
                    f"{ref.familiar}: {manifest.digest} from {client.base_url}, "
                    f"{len(manifest.layers)} layer(s), {manifest.download_size:,} bytes"
                )
                for desc in manifest.blobs:
                    name = f"blobs/sha256/{desc.digest.split(':', 1)[1]}"
                    if desc.digest in written:
                        continue
                    if desc.digest == manifest.config.digest:
                        _add_bytes(tar, name, config_bytes)
                    else:
                        info = tarfile.TarInfo(name)
                        info.size = desc.size
                        info.mode = 0o644
                        reader = client.open_blob(ref.repository, desc)
                        try:
                            tar.addfile(info, reader)
                        finally:
                            reader.close()
                    written.add(desc.digest)
                if manifest.digest not in written:
                    _add_bytes(
                        tar, f"blobs/sha256/{manifest.digest.split(':', 1)[1]}", manifest.raw
                    )
                    written.add(manifest.digest)
                index_digest = resolved.top.digest if resolved.top.is_index else None
                full = f"{ref.name}:{ref.tag}" if ref.tag else f"{ref.name}@{manifest.digest}"
                annotations = {NAME_ANNOTATION: full, ID_ANNOTATION: manifest.config.digest}
                if ref.tag:
                    annotations[REF_ANNOTATION] = ref.tag
                if index_digest:
                    annotations[INDEX_ANNOTATION] = index_digest
                config = json.loads(config_bytes)
                plat = {"os": config.get("os", "linux"), "architecture": config.get("architecture")}
                if config.get("variant"):
                    plat["variant"] = config["variant"]
                entries.append(
                    Descriptor(
                        manifest.media_type,
                        manifest.digest,
                        len(manifest.raw),
                        platform={k: v for k, v in plat.items() if v},
                        annotations=annotations,
                    ).to_json()
                )
                saved.append(
                    SavedImage(
                        full,
                        manifest.digest,
                        manifest.config.digest,
                        manifest.download_size,
                        index_digest,
                    )
                )
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
            _add_bytes(tar, "index.json", json.dumps(index, indent=2).encode())
        umask = os.umask(0)
        os.umask(umask)
        part.chmod(0o666 & ~umask)  # an archive of public images: the mode a new file gets
        os.replace(part, out)
    except RegistryError as exc:
        part.unlink(missing_ok=True)
        name = current.familiar if current else "the images"
        raise type(exc)(
            f"{name}: {exc.message}; no archive was written", exc.hint, exc.status
        ) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return SaveResult(out, saved, len(written), out.stat().st_size)


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Archive:
    """An OCI layout tar made by `save` (or any tool writing the same layout)."""

    path: Path
    entries: list[dict[str, Any]]

    @classmethod
    def open(cls, path: Path) -> Archive:
        if not Path(path).is_file():
            raise UsageError(
                f"{path}: no such archive file",
                "give the file written by `dlrs-provision images save -o FILE`",
            )
        try:
            with tarfile.open(path, "r:*") as tar:
                layout = json.loads(_member(tar, "oci-layout", path))
                index = json.loads(_member(tar, "index.json", path))
        except (OSError, EOFError, tarfile.TarError, zlib.error, ValueError) as exc:
            reason = " ".join(str(exc).split())
            if isinstance(exc, tarfile.ReadError):
                reason = (
                    "cut short: the file ends inside the archive"
                    if "unexpected end" in reason
                    else "not a readable tar file"
                )
            raise UsageError(
                f"{path}: not an OCI image layout archive ({reason})",
                "make one with `dlrs-provision images save -o FILE`",
            ) from None
        if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != "1.0.0":
            raise UsageError(f"{path}: unknown OCI layout version {layout!r}")
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
            raise UsageError(f"{path}: index.json does not list the images (no `manifests`)")
        return cls(Path(path), manifests)

    def names(self) -> list[str]:
        """The images' names, as `save` wrote them."""
        return [
            str((m.get("annotations") or {}).get(NAME_ANNOTATION) or m.get("digest"))
            for m in self.entries
        ]


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    for candidate in (name, f"./{name}"):
        try:
            member = tar.getmember(candidate)
        except KeyError:
            continue
        handle = tar.extractfile(member)
        if handle is None:
            break
        return handle.read()
    raise UsageError(f"{path}: {name} is missing from the archive")


def _blob_member(tar: tarfile.TarFile, digest: str, path: Path) -> tarfile.TarInfo:
    name = f"blobs/sha256/{digest.split(':', 1)[1]}"
    for candidate in (name, f"./{name}"):
        try:
            return tar.getmember(candidate)
        except KeyError:
            continue
    raise UsageError(f"{path}: blob {digest} is missing from the archive")


def target_repository(name: str, kubernetes_path: str = "") -> tuple[str, str | None]:
    """Repository path and tag in the cluster registry for an archive's image name. Images of
    registry.k8s.io go where kubeadm, given the cluster registry as imageRepository, looks for
    them (CoreDNS at coredns, not coredns/coredns)."""
    ref = Reference.parse(name)
    if ref.registry == k8s_images.DEFAULT_REPOSITORY:
        return k8s_images.load_path(ref.repository, kubernetes_path), ref.tag
    return ref.repository, ref.tag


@dataclass(frozen=True)
class Target:
    url: str
    ca_file: str | None
    mode: str
    # where images of registry.k8s.io go: the path of dlrs_kubernetes_image_repository under
    # the cluster registry ("" for the derived default, the registry's root)
    kubernetes_path: str = ""
    # the cluster's account on its registry (role registry_cache): every push needs it; the
    # password is read from its file (mode 0600, in the state folder) when load() pushes, and
    # never kept here
    username: str | None = None
    password_file: str | None = field(default=None, repr=False)

    def password(self) -> str | None:
        """The account's password (None: this target has no account); a missing, unreadable or
        empty file is refused with what to do."""
        if not self.password_file:
            return None
        path = Path(self.password_file)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise UsageError(
                f"the cluster registry's password is not at {path}: nothing was pushed "
                f"to {self.url}",
                "run the images phase first (it makes the registry's account), with this "
                "inventory's state folder",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{path}: the cluster registry's password cannot be read "
                f"({exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc})",
                "run dlrs-provision as the user that ran the images phase, or run that phase "
                "again (it writes this file, mode 0600)",
            ) from None
        if not text:
            raise UsageError(
                f"{path}: the cluster registry's password file is empty",
                "remove it and run the images phase again (it makes a new one and tells the "
                "registry and the nodes)",
            )
        return text


def target_from_inventory(inventory_path: Path, registry: str | None = None) -> Target:
    """The cluster registry of an inventory: its master, port and CA (from the state folder).

    `registry` (host:port) overrides the address, for a controller that reaches the master by
    another name or address (the server certificate must carry it: registry_cache_extra_names).
    """
    from dlrs_provision import inventory as inventory_mod

    if registry is not None and not _HOST_PORT.match(registry):
        raise UsageError(
            f"--registry {registry!r} is not host:port",
            "give the address this machine reaches the master's registry by, e.g. 10.0.0.1:5443",
        )
    inv = inventory_mod.load(inventory_path)
    if not inv.masters:
        raise UsageError(f"{inventory_path}: no host in the masters group")
    master = inv.masters[0]
    if inv.setting(master, "dlrs_registry_cache") is False:
        raise UsageError(
            f"{inventory_path}: dlrs_registry_cache is false: the cluster has no registry to "
            "load images into",
            "set dlrs_registry_cache: true and dlrs_registry_mode: local, run "
            "`dlrs-provision cluster`, then load again",
        )
    host = inv.setting(master, "dlrs_registry_cache_host") or master
    port = inv.setting(master, "dlrs_registry_cache_port") or DEFAULT_PORT
    insecure = list(inv.setting(master, "dlrs_insecure_registries") or [])
    mode = str(inv.setting(master, "dlrs_registry_mode") or "proxy")
    # the registry serves plain HTTP only when its own host:port is listed as insecure (as role
    # registry_cache decides); the address this machine uses does not change that
    plain = f"{host}:{port}" in insecure or (registry is not None and registry in insecure)
    url = ("http://" if plain else "https://") + (registry or f"{host}:{port}")
    ca = paths.state_dir(Path(inventory_path)) / "pki" / "ca.crt"
    if url.startswith("https://") and not ca.is_file() and mode == "local":
        raise UsageError(  # (a cache in proxy mode is refused by load(), with the reason)
            f"the cluster's CA is not at {ca}",
            "run the images phase first (it makes the CA), from this inventory's state folder",
        )
    if url.startswith("https://") and (ca.exists() or ca.is_symlink()):
        _check_state_ca(ca)
    secret = cluster_registry.password_path(paths.state_dir(Path(inventory_path)))
    explicit = str(inv.setting(master, "dlrs_kubernetes_image_repository") or "")
    kubernetes_path = explicit.split("/", 1)[1] if explicit.startswith(f"{host}:{port}/") else ""
    return Target(
        url,
        str(ca) if url.startswith("https://") else None,
        mode,
        kubernetes_path,
        username=cluster_registry.REGISTRY_USER,
        password_file=str(secret),
    )


def _check_state_ca(ca: Path) -> None:
    """The cluster's CA in the state folder must be a file of PEM certificates that ssl takes:
    a damaged one is named here, not in an ssl error in the middle of a push."""
    problem = (
        ca_bundle_problem(ca) if ca.is_file() else "is not a file (a folder, a FIFO or a device)"
    )
    if problem:
        raise EnvironmentProblem(
            f"the cluster's CA {ca} {problem}",
            f"restore {ca} from a backup, or copy the registry host's CA there",
        )


def load(
    archive_path: Path,
    target: Target,
    *,
    echo: Echo | None = None,
) -> LoadResult:
    """Push every image of the archive into the cluster's registry: blobs first, tag last.

    Every error names the image and the registry, and what was already loaded: an image whose
    push failed has no tag in the registry (its tag is written last), so nothing half-written
    is ever pulled; running `load` again pushes only what is missing.
    """
    say = echo or log.info
    if target.mode != "local":
        raise UsageError(
            f"the cluster's registry at {target.url} runs as a pull-through cache "
            f"(dlrs_registry_mode: {target.mode}), which refuses pushes",
            "set dlrs_registry_mode: local in the inventory, run the images phase "
            "(dlrs-provision cluster), then load again",
        )
    password = target.password()
    archive = Archive.open(Path(archive_path))
    client = RegistryClient(
        target.url,
        ca_file=target.ca_file,
        username=target.username if password is not None else None,
        password=password,
        timeout=600,
        retries=2,
    )
    names = ", ".join(archive.names()) or "no image"
    try:
        client.ping()
    except RegistryError as exc:
        raise RegistryError(
            f"nothing was pushed: {names} cannot go to the cluster's registry {target.url}: "
            f"{exc.message}",
            exc.hint,
        ) from None
    result = LoadResult(target.url, [])
    try:
        with tarfile.open(archive.path, "r:*") as tar:
            for entry in archive.entries:
                _load_one(archive, tar, entry, client, result, say, target.kubernetes_path)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise UsageError(
            f"{archive.path}: the archive is damaged ({exc.__class__.__name__}: {exc})"
            + _loaded_note(result),
            "make it again with `dlrs-provision images save`, then load again",
        ) from None
    return result


def _loaded_note(result: LoadResult) -> str:
    done = [img.ref for img in result.images]
    return f"; loaded before this: {', '.join(done)}" if done else ""


def _load_one(
    archive: Archive,
    tar: tarfile.TarFile,
    entry: dict[str, Any],
    client: RegistryClient,
    result: LoadResult,
    say: Echo,
    kubernetes_path: str = "",
) -> None:
    desc = Descriptor.from_json(entry)
    annotations = desc.annotations or {}
    name = annotations.get(NAME_ANNOTATION)
    if not name:
        tag = annotations.get(REF_ANNOTATION)
        raise UsageError(
            f"{archive.path}: image {desc.digest} has no {NAME_ANNOTATION} annotation"
            + (f" (only the tag {tag!r})" if tag else ""),
            "archives made by `dlrs-provision images save` name every image",
        )
    repository, tag = target_repository(name, kubernetes_path)
    raw = _read(tar, _blob_member(tar, desc.digest, archive.path))
    if sha256_digest(raw) != desc.digest:
        raise UsageError(
            f"{archive.path}: the manifest of {name} ({desc.digest}) is damaged"
            + _loaded_note(result),
            "make the archive again with `dlrs-provision images save`",
        )
    manifest = Manifest.from_bytes(raw, desc.media_type)
    if manifest.is_index:
        raise UsageError(f"{archive.path}: {name} is an index; one platform per image")
    try:
        for blob in manifest.blobs:
            member = _blob_member(tar, blob.digest, archive.path)
            if member.size != blob.size:
                raise UsageError(
                    f"{archive.path}: blob {blob.digest} of {name} has {member.size} bytes, "
                    f"the manifest says {blob.size}" + _loaded_note(result),
                    "make the archive again with `dlrs-provision images save`",
                )
            handle = tar.extractfile(member)
            if handle is None:
                raise UsageError(f"{archive.path}: blob {blob.digest} is not a file")
            if client.push_blob(repository, blob, handle):
                result.pushed_blobs += 1
                result.pushed_bytes += blob.size
            else:
                result.present_blobs += 1
        client.put_manifest(repository, manifest.digest, manifest)
        if tag:
            client.put_manifest(repository, tag, manifest)
    except RegistryError as exc:
        raise type(exc)(
            f"{name} into the cluster's registry {client.base_url}: {exc.message}; "
            f"{name} was not tagged" + _loaded_note(result),
            exc.hint,
            exc.status,
        ) from None
    if tag:
        result.tags.append(f"{repository}:{tag}")
    say(f"{name}: pushed as {client.host}/{repository}:{tag or manifest.digest}")
    result.images.append(
        SavedImage(
            name,
            manifest.digest,
            manifest.config.digest,
            manifest.download_size,
            annotations.get(INDEX_ANNOTATION),
        )
    )


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise UsageError(f"{member.name} in the archive is not a file")
    return handle.read()


def render_saved(images: list[SavedImage]) -> str:
    """A small table of images: name, manifest digest, image ID, size."""
    rows = [[img.ref, img.digest[:19], img.image_id[:19], f"{img.size:,}"] for img in images]
    return table(rows, ["image", "manifest digest", "image ID", "size"], right={3}, rule=False)
