"""Where the registry client sends credentials, and which URLs it follows: against small HTTP
servers on loopback (127.0.0.1 and `localhost` count as two hosts), no Docker needed."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dlrs_provision import images, registry
from dlrs_provision.registry import RegistryClient, RegistryError

USER, PASSWORD = "site-user", "s3cr3t-7f2a"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


class Server:
    """One HTTP server; `routes` maps a path to (status, headers, body); every request's
    Authorization header is recorded."""

    def __init__(self, host: str = "127.0.0.1"):
        self.routes: dict = {}
        self.seen: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                server.seen.append((path, self.headers.get("Authorization")))
                route = server.routes.get(path, (404, {}, b"{}"))
                if callable(route):  # answers by the request's headers
                    route = route(self.headers)
                status, headers, body = route
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def servers(n: int) -> Iterator[list[Server]]:
    made = [Server() for _ in range(n)]
    try:
        yield made
    finally:
        for s in made:
            s.close()


def challenge(realm: str) -> tuple[int, dict[str, str], bytes]:
    return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}, b"{}"


def client(url: str) -> RegistryClient:
    return RegistryClient(url, username=USER, password=PASSWORD, retries=0, timeout=5)


def test_credentials_go_to_a_token_realm_on_the_registry_s_own_host():
    with servers(2) as (reg, auth):
        realm = auth.url("127.0.0.1") + "/token"
        reg.routes["/v2/"] = lambda headers: (
            (200, {}, b"{}") if headers.get("Authorization") == "Bearer t1" else challenge(realm)
        )
        auth.routes["/token"] = (200, {}, b'{"token": "t1"}')
        client(reg.url()).ping()
    assert auth.seen == [("/token", BASIC)]
    assert reg.seen == [("/v2/", None), ("/v2/", "Bearer t1")]


def test_credentials_never_go_to_a_token_realm_on_another_host():
    with servers(2) as (reg, auth):
        # the registry is 127.0.0.1; its challenge names `localhost`, another host name
        reg.routes["/v2/"] = challenge(auth.url("localhost") + "/token")
        auth.routes["/token"] = (200, {}, b'{"token": "anonymous"}')
        with pytest.raises(RegistryError) as caught:
            client(reg.url()).ping()
    assert auth.seen and all(header is None for _, header in auth.seen)
    assert "not sent to the token service" in (caught.value.hint or "")
    assert PASSWORD not in caught.value.render()


@pytest.mark.parametrize(
    "realm", ["file:///etc/passwd", "ftp://127.0.0.1/token", "gopher://x/", "//no-scheme"]
)
def test_a_realm_that_is_no_http_url_is_refused(realm):
    with servers(1) as (reg,):
        reg.routes["/v2/"] = challenge(realm)
        with pytest.raises(RegistryError) as caught:
            client(reg.url()).ping()
    assert "no http(s) URL" in caught.value.message


def test_a_redirect_to_another_scheme_is_refused_and_one_to_another_host_has_no_credentials():
    with servers(2) as (reg, cdn):
        reg.routes["/v2/"] = (200, {}, b"{}")
        reg.routes["/v2/x/blobs/a"] = (307, {"Location": "file:///etc/shadow"}, b"")
        reg.routes["/v2/x/blobs/b"] = (307, {"Location": cdn.url("localhost") + "/b"}, b"")
        cdn.routes["/b"] = (200, {}, b"blob")
        c = client(reg.url())
        with pytest.raises(RegistryError) as caught:
            c.request("GET", "/v2/x/blobs/a", what="blob a")
        assert "no http(s) URL" in caught.value.message
        c._tokens["__basic__"] = "1"  # as after a basic challenge: the header is sent to reg
        c.request("GET", "/v2/x/blobs/b", what="blob b").close()
    assert ("/v2/x/blobs/b", BASIC) in reg.seen
    assert cdn.seen == [("/b", None)]


def test_no_credentials_over_plain_http_to_a_host_that_is_not_loopback():
    assert registry.credentials_may_go("http://10.0.0.5:5000", "http://10.0.0.5:5000")
    assert registry.credentials_may_go("https://reg.lab", "http://reg.lab/token")
    assert registry.credentials_may_go("http://127.0.0.1:5000", "http://127.0.0.1:5000") is None
    assert registry.credentials_may_go("https://reg.lab:5443", "https://reg.lab/token") is None
    assert (
        registry.credentials_may_go("https://registry-1.docker.io", "https://auth.docker.io/token")
        is None
    )
    assert registry.credentials_may_go("https://reg.lab", "https://evil.example/token")
    c = client("http://10.0.0.5:5000")
    with pytest.raises(RegistryError) as caught:
        c._fetch_token('Basic realm="reg"', None, "API check")
    assert "not sent" in caught.value.message and "https://" in (caught.value.hint or "")
    assert not c._tokens


def test_save_writes_no_predictable_partial_file_and_follows_no_link(tmp_path):
    """The old FILE.part name, planted as a link to a victim file, is neither followed nor
    truncated; a failed save leaves nothing of its own behind."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = tmp_path / "images.tar.part"
    planted.symlink_to(victim)
    with servers(1) as (reg,):
        reg.routes["/v2/"] = (200, {}, b"{}")  # every manifest: 404
        host = f"127.0.0.1:{reg.port}"
        with pytest.raises(RegistryError):
            images.save(
                [f"{host}/org/absent:v1"],
                tmp_path / "images.tar",
                insecure_registries=[host],
            )
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.tar.part", "victim"]
    assert Path(planted).is_symlink()
