"""Write a one-layer OCI image archive holding a static busybox, for `ctr images import`.

No registry is reachable on the test machines and the containerd scenario has no Docker, so the
image that proves containerd runs containers is made here, on the test host, from Debian's
busybox-static: `python3 make_oci_image.py BUSYBOX NAME ARCHIVE`.
"""

import hashlib
import io
import json
import platform
import sys
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def _layer(busybox: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("bin")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        with open(busybox, "rb") as src:
            data = src.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _json(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def main(busybox: str, name: str, archive: str) -> None:
    layer = _layer(busybox)
    config = {
        "architecture": ARCH,
        "os": "linux",
        "config": {"Cmd": ["/bin/busybox", "true"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]},
    }
    with tarfile.open(archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": _blob(tar, _json(config), "application/vnd.oci.image.config.v1+json"),
            "layers": [_blob(tar, layer, "application/vnd.oci.image.layer.v1.tar")],
        }
        descriptor = _blob(tar, _json(manifest), manifest["mediaType"])
        descriptor["platform"] = {"architecture": ARCH, "os": "linux"}
        descriptor["annotations"] = {
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
        }
        for path, value in (
            ("oci-layout", {"imageLayoutVersion": "1.0.0"}),
            ("index.json", {"schemaVersion": 2, "manifests": [descriptor]}),
        ):
            data = _json(value)
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main(*sys.argv[1:4])
