"""A registry's manifest endpoint on 127.0.0.1, for the kubeadm stand-in's ImagePull check
(tests only: the unit tests import it, molecule scenarios run it on a test host).

    python3 manifest_registry.py --port 5555 --images FILE   (FILE: one image name a line)

It answers HEAD and GET of /v2/<name>/manifests/<reference> with 200 for the images it holds and
the distribution registry's 404 for the rest; with `token` set it asks for a bearer token the
way Docker Hub and registry.k8s.io do (401 with a WWW-Authenticate challenge, a /token realm).
"""

from __future__ import annotations

import argparse
import http.server
import json
import threading
from pathlib import Path

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"})


class FakeRegistry:
    def __init__(
        self, images: list[str] | None = None, token: str | None = None, port: int = 0
    ) -> None:
        self.held: set[tuple[str, str]] = set()
        self.token = token
        self.requests: list[tuple[str, str]] = []
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, body: bool) -> None:
                registry.requests.append((self.command, self.path))
                if self.path.startswith("/token"):
                    self._send(200, json.dumps({"token": registry.token}), body)
                    return
                if registry.token and self.headers.get("Authorization") != (
                    f"Bearer {registry.token}"
                ):
                    realm = f"http://{self.headers.get('Host')}/token"
                    self.send_response(401)
                    self.send_header(
                        "WWW-Authenticate",
                        f'Bearer realm="{realm}",service="fake",scope="repository:x:pull"',
                    )
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = self.path.split("?", 1)[0]
                if path.startswith("/v2/") and "/manifests/" in path:
                    name, ref = path[4:].split("/manifests/", 1)
                    if (name, ref) in registry.held:
                        self._send(200, MANIFEST, body)
                        return
                    error = {
                        "errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]
                    }
                    self._send(404, json.dumps(error), body)
                    return
                self._send(404, "{}", body)

            def _send(self, code: int, text: str, body: bool) -> None:
                data = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:
                self._answer(False)

            def do_GET(self) -> None:
                self._answer(True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        for image in images or []:
            self.add(image)

    def add(self, image: str) -> None:
        """Hold an image named <this host>/<name>:<tag> (or any host: only the path counts)."""
        name, tag = image.rsplit(":", 1)
        self.held.add((name.split("/", 1)[1], tag))

    def remove(self, image: str) -> None:
        name, tag = image.rsplit(":", 1)
        self.held.discard((name.split("/", 1)[1], tag))

    def trust_from(self, root: Path) -> None:
        """containerd's view of this registry on a test host: plain HTTP, as hosts.toml says."""
        folder = root / "etc/containerd/certs.d" / self.host
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hosts.toml").write_text(
            f'server = "http://{self.host}"\n\n'
            f'[host."http://{self.host}"]\n  capabilities = ["pull", "resolve"]\n'
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--images", type=Path, required=True, help="one image name a line")
    args = parser.parse_args()
    names = [line.strip() for line in args.images.read_text().splitlines() if line.strip()]
    registry = FakeRegistry(names, port=args.port)
    registry.thread.join()


if __name__ == "__main__":
    main()
