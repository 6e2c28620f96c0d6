"""Images for air-gapped sites: one archive of the stack's images, made where a registry can be
reached, pushed into the cluster's own registry where none can.

    dlrs-provision images save --out FILE [--image REF ...]     (on a connected machine)
    dlrs-provision images load FILE INVENTORY                   (beside the cluster)

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
them as they would through the cache.

Both write nothing half-done: `save` writes FILE.part and renames it when every blob has been
checked; `load` pushes blobs first and a tag last, so a tag never names an incomplete image.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrs_provision import catalog, paths
from dlrs_provision.errors import UsageError
from dlrs_provision.registry import (
    DOCKER_HUB,
    OCI_INDEX,
    Descriptor,
    Manifest,
    Reference,
    RegistryClient,
    RegistryError,
    api_host,
    registry_url,
    sha256_digest,
)

log = logging.getLogger(__name__)
Echo = Callable[[str], None]

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
INDEX_ANNOTATION = "dlrs-provision.index-digest"
ID_ANNOTATION = "dlrs-provision.image-id"
DEFAULT_PORT = 5443


def default_images() -> list[str]:
    """The images `save` takes when none are named: every variant's default image."""
    return sorted({v.image for v in catalog.VARIANTS.values()})


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
        raise UsageError(f"{out} is a folder", "give a file name, e.g. --out dlrs-images.tar")
    part = out.with_name(out.name + ".part")
    clients: dict[str, RegistryClient] = {}
    written: set[str] = set()
    saved: list[SavedImage] = []
    entries: list[dict[str, Any]] = []
    try:
        with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "oci-layout", json.dumps(LAYOUT_VERSION).encode())
            for ref in refs:
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
        os.replace(part, out)
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
        try:
            with tarfile.open(path, "r:*") as tar:
                layout = json.loads(_member(tar, "oci-layout", path))
                index = json.loads(_member(tar, "index.json", path))
        except (OSError, tarfile.TarError, ValueError) as exc:
            raise UsageError(
                f"{path}: not an OCI image layout archive ({exc})",
                "make one with `dlrs-provision images save --out FILE`",
            ) from None
        if layout.get("imageLayoutVersion") != "1.0.0":
            raise UsageError(f"{path}: unknown OCI layout version {layout!r}")
        return cls(Path(path), list(index.get("manifests") or []))


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


def target_repository(name: str) -> tuple[str, str | None]:
    """Repository path and tag in the cluster registry for an archive's image name."""
    ref = Reference.parse(name)
    return ref.repository, ref.tag


@dataclass(frozen=True)
class Target:
    url: str
    ca_file: str | None
    mode: str


def target_from_inventory(inventory_path: Path, registry: str | None = None) -> Target:
    """The cluster registry of an inventory: its master, port and CA (from the state folder).

    `registry` (host:port) overrides the address, for a controller that reaches the master by
    another name or address (the server certificate must carry it: registry_cache_extra_names).
    """
    from dlrs_provision import inventory as inventory_mod

    inv = inventory_mod.load(inventory_path)
    if not inv.masters:
        raise UsageError(f"{inventory_path}: no host in the masters group")
    master = inv.masters[0]
    values = inv.values(master)
    host = values.get("dlrs_registry_cache_host") or master
    port = values.get("dlrs_registry_cache_port") or DEFAULT_PORT
    hostport = registry or f"{host}:{port}"
    insecure = list(values.get("dlrs_insecure_registries") or [])
    mode = str(values.get("dlrs_registry_mode") or "proxy")
    ca = paths.state_dir(Path(inventory_path)) / "pki" / "ca.crt"
    url = registry_url(hostport, insecure)
    if url.startswith("https://") and not ca.is_file():
        raise UsageError(
            f"the cluster's CA is not at {ca}",
            "run the images phase first (it makes the CA), from this inventory's state folder",
        )
    return Target(url, str(ca) if url.startswith("https://") else None, mode)


def load(
    archive_path: Path,
    target: Target,
    *,
    echo: Echo | None = None,
) -> LoadResult:
    """Push every image of the archive into the cluster's registry: blobs first, tag last."""
    say = echo or log.info
    if target.mode != "local":
        raise UsageError(
            f"the cluster's registry at {target.url} runs as a pull-through cache "
            f"(dlrs_registry_mode: {target.mode}), which refuses pushes",
            "set dlrs_registry_mode: local in the inventory, run the images phase "
            "(dlrs-provision cluster), then load again",
        )
    archive = Archive.open(Path(archive_path))
    client = RegistryClient(target.url, ca_file=target.ca_file, timeout=600, retries=2)
    client.ping()
    result = LoadResult(target.url, [])
    with tarfile.open(archive.path, "r:*") as tar:
        for entry in archive.entries:
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
            repository, tag = target_repository(name)
            raw = _read(tar, _blob_member(tar, desc.digest, archive.path))
            if sha256_digest(raw) != desc.digest:
                raise RegistryError(f"{archive.path}: manifest {desc.digest} is damaged")
            manifest = Manifest.from_bytes(raw, desc.media_type)
            if manifest.is_index:
                raise UsageError(f"{archive.path}: {name} is an index; one platform per image")
            for blob in manifest.blobs:
                member = _blob_member(tar, blob.digest, archive.path)
                if member.size != blob.size:
                    raise RegistryError(
                        f"{archive.path}: blob {blob.digest} has {member.size} bytes, "
                        f"the manifest says {blob.size}"
                    )
                handle = tar.extractfile(member)
                assert handle is not None
                if client.push_blob(repository, blob, handle):
                    result.pushed_blobs += 1
                    result.pushed_bytes += blob.size
                else:
                    result.present_blobs += 1
            client.put_manifest(repository, manifest.digest, manifest)
            if tag:
                client.put_manifest(repository, tag, manifest)
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
    return result


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise UsageError(f"{member.name} in the archive is not a file")
    return handle.read()


def render_saved(images: list[SavedImage]) -> str:
    """A small table of images: name, manifest digest, image ID, size."""
    lines = [f"{'image':<52} {'manifest digest':<20} {'image ID':<20} {'size':>12}"]
    for img in images:
        lines.append(f"{img.ref:<52} {img.digest[:19]:<20} {img.image_id[:19]:<20} {img.size:>12,}")
    return "\n".join(lines)
