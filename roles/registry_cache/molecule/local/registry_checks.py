#!/usr/bin/python3
"""Try a registry_cache registry in local mode as a stranger and with the cluster's account.

    registry_checks.py URL CA_FILE ADDRESS   (DLRS_TEST_REGISTRY_USER and _PASSWORD: environment)

Prints one JSON object of what the registry answered: HTTP status codes of anonymous requests
(/v2/, a push, a manifest), of a wrong password, and with the account: /v2/, a pushed test
image (one tiny layer: blobs then manifest, 201), its manifest pulled back (status and digest),
a DELETE of that manifest (status and body), the manifest once more; and whether 127.0.0.1 on
the registry's port refuses connections ("refused") or not. Standard library only: it runs on
the test host. Molecule's verify (local scenario) asserts on the result.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import socket
import ssl
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request

REPO = "dlrs/molecule-local"


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Client:
    def __init__(self, base, ca, auth=None):
        self.base = base
        self.context = ssl.create_default_context(cafile=ca)
        self.auth = auth

    def request(self, method, path_or_url, data=None, headers=None):
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        headers = dict(headers or {})
        if self.auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self.context)
        )
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def push_blob(self, data):
        status, headers, _ = self.request("POST", f"/v2/{REPO}/blobs/uploads/", b"")
        if status != 202:
            return status
        location = urllib.parse.urljoin(self.base + "/", headers["Location"])
        sep = "&" if "?" in location else "?"
        status, _, _ = self.request(
            "PUT",
            f"{location}{sep}digest={digest(data)}",
            data,
            {"Content-Type": "application/octet-stream"},
        )
        return status


def test_image():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        text = b"dlrs-provision molecule test image (local mode), not TensorFlow\n"
        info = tarfile.TarInfo("dlrs-test-image.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [digest(raw.getvalue())]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": digest(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": digest(layer),
                }
            ],
        },
        sort_keys=True,
    ).encode()
    return layer, config, manifest


def loopback(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError as err:
        return f"error: {err}"


def main(base, ca, _address):
    user = os.environ["DLRS_TEST_REGISTRY_USER"]
    password = os.environ["DLRS_TEST_REGISTRY_PASSWORD"]
    stranger = Client(base, ca)
    wrong = Client(base, ca, (user, password + "x"))
    account = Client(base, ca, (user, password))
    mtype = "application/vnd.docker.distribution.manifest.v2+json"
    layer, config, manifest = test_image()
    found = {
        "anonymous_ping": stranger.request("GET", "/v2/")[0],
        "anonymous_push": stranger.request("POST", f"/v2/{REPO}/blobs/uploads/", b"")[0],
        "wrong_password_ping": wrong.request("GET", "/v2/")[0],
        "account_ping": account.request("GET", "/v2/")[0],
    }
    blobs = [account.push_blob(layer), account.push_blob(config)]
    status, _, _ = account.request(
        "PUT", f"/v2/{REPO}/manifests/latest", manifest, {"Content-Type": mtype}
    )
    found["account_push"] = status if all(b == 201 for b in blobs) else blobs
    found["pushed_digest"] = digest(manifest)
    found["anonymous_manifest"] = stranger.request(
        "GET", f"/v2/{REPO}/manifests/latest", headers={"Accept": mtype}
    )[0]
    status, _, body = account.request(
        "GET", f"/v2/{REPO}/manifests/latest", headers={"Accept": mtype}
    )
    found["account_pull"] = status
    found["account_pull_digest"] = digest(body) if status == 200 else ""
    status, _, body = account.request("DELETE", f"/v2/{REPO}/manifests/{digest(manifest)}")
    found["account_delete"] = status
    found["account_delete_body"] = body.decode(errors="replace")[:300]
    found["still_there"] = account.request(
        "GET", f"/v2/{REPO}/manifests/{digest(manifest)}", headers={"Accept": mtype}
    )[0]
    found["loopback"] = loopback(urllib.parse.urlsplit(base).port or 443)
    print(json.dumps(found, sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:4])
