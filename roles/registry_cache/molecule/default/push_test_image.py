#!/usr/bin/python3
"""Push a small test image into a registry (molecule prepare of registry_cache, stack_images).

    push_test_image.py URL REPOSITORY TAG OUT_JSON

A real image (one gzipped tar layer with one file, a config whose rootfs names that layer), so
that Docker and containerd can pull it; nothing but the Python standard library, because it runs
on the test host. Writes {"digest", "config_digest", "size"} to OUT_JSON.
"""

import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.parse
import urllib.request


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=30) as resp:
        return resp.status, resp.headers


def push_blob(base, repo, data):
    _, headers = request("POST", f"{base}/v2/{repo}/blobs/uploads/", b"")
    location = urllib.parse.urljoin(base + "/", headers["Location"])
    sep = "&" if "?" in location else "?"
    request(
        "PUT",
        f"{location}{sep}digest={digest(data)}",
        data,
        {"Content-Type": "application/octet-stream"},
    )


def main(base, repo, tag, out):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        text = b"dlrs-provision molecule test image, not TensorFlow\n"
        info = tarfile.TarInfo("dlrs-test-image.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/true"], "Labels": {"dlrs-provision.test-image": "true"}},
            "rootfs": {"type": "layers", "diff_ids": [digest(raw.getvalue())]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    push_blob(base, repo, config)
    push_blob(base, repo, layer)
    request(
        "PUT",
        f"{base}/v2/{repo}/manifests/{tag}",
        manifest,
        {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with open(out, "w") as handle:
        json.dump(
            {
                "digest": digest(manifest),
                "config_digest": digest(config),
                "size": len(config) + len(layer),
            },
            handle,
        )


if __name__ == "__main__":
    main(*sys.argv[1:5])
