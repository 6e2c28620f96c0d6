"""An HTTPS client for the API endpoint stand-in: real TLS (the cluster CA, client
certificates or bearer tokens), JSON in and out, errors turned into the messages Go clients
print."""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import ssl
import urllib.parse
from typing import Any

from k8s_stand_in.kubeconfig import Credentials
from k8s_stand_in.util import pem_files

DEFAULT_TIMEOUT_S = 30.0


class ApiError(Exception):
    """The server answered with a Status (code >= 400)."""

    def __init__(self, code: int, status: dict[str, Any]) -> None:
        self.code = code
        self.status = status
        self.reason = str(status.get("reason") or _REASONS.get(code, "Unknown"))
        self.message = str(status.get("message") or f"the server responded with code {code}")
        super().__init__(self.message)


class ConnectError(Exception):
    """No answer: refused, unreachable, TLS failure, timeout."""

    def __init__(self, url: str, host_port: str, detail: str, refused: bool = False) -> None:
        self.url = url
        self.host_port = host_port
        self.detail = detail
        self.refused = refused
        super().__init__(self.go_error())

    def go_error(self) -> str:
        """As Go's net/http prints it: Get "https://h:p/path": dial tcp h:p: ..."""
        return f'Get "{self.url}": {self.detail}'

    def kubectl_message(self) -> str:
        if self.refused:
            return (
                f"The connection to the server {self.host_port} was refused - did you specify "
                "the right host or port?"
            )
        return f"Unable to connect to the server: {self.detail}"


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}


def split_server(server: str) -> tuple[str, str, int]:
    url = urllib.parse.urlsplit(server if "://" in server else "https://" + server)
    if url.scheme != "https":
        raise ValueError(f"the stand-in talks HTTPS only, not {server!r}")
    host = url.hostname or ""
    port = url.port or 443
    return url.scheme, host, port


class Client:
    """One keep-alive connection to the API endpoint."""

    def __init__(
        self,
        creds: Credentials,
        timeout: float = DEFAULT_TIMEOUT_S,
        user_agent: str = "kubectl-stand-in",
    ) -> None:
        self.creds = creds
        self.timeout = timeout
        self.user_agent = user_agent
        _, self.host, self.port = split_server(creds.server)
        self.host_port = (
            f"{self.host}:{self.port}" if ":" not in self.host else f"[{self.host}]:{self.port}"
        )
        self._ctx = self._context()
        self._conn: http.client.HTTPSConnection | None = None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.creds.insecure or self.creds.ca_pem is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx.load_verify_locations(cadata=self.creds.ca_pem.decode())
        if self.creds.cert_pem and self.creds.key_pem:
            with pem_files(self.creds.cert_pem, self.creds.key_pem) as (cert, key):
                ctx.load_cert_chain(cert, key)
        return ctx

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def url(self, path: str) -> str:
        return f"https://{self.host_port}{path}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        accept: str = "application/json",
    ) -> tuple[int, dict[str, str], Any]:
        if query:
            path = path + "?" + urllib.parse.urlencode(query)
        raw: bytes | None = None
        if body is not None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Accept": accept, "User-Agent": self.user_agent}
        if raw is not None:
            headers["Content-Type"] = content_type
        if self.creds.token:
            headers["Authorization"] = f"Bearer {self.creds.token}"
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, context=self._ctx, timeout=self.timeout
                )
            try:
                self._conn.request(method, path, body=raw, headers=headers)
                resp = self._conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise ConnectError(self.url(path), self.host_port, "EOF") from None
            except ssl.SSLCertVerificationError as exc:
                self.close()
                raise ConnectError(
                    self.url(path),
                    self.host_port,
                    "tls: failed to verify certificate: x509: " + _x509_reason(exc),
                ) from None
            except TimeoutError:
                self.close()
                raise ConnectError(
                    self.url(path), self.host_port, f"dial tcp {self.host_port}: i/o timeout"
                ) from None
            except OSError as exc:
                self.close()
                refused = exc.errno == errno.ECONNREFUSED
                why = (
                    "connect: connection refused" if refused else f"connect: {exc.strerror or exc}"
                )
                raise ConnectError(
                    self.url(path), self.host_port, f"dial tcp {self.host_port}: {why}", refused
                ) from None
        ctype = resp.getheader("Content-Type", "")
        parsed: Any = data.decode(errors="replace")
        if "json" in ctype and data:
            with contextlib.suppress(ValueError):
                parsed = json.loads(data)
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        code, _, data = self.request(method, path, body, **kwargs)
        if code >= 400:
            raise ApiError(code, data if isinstance(data, dict) else {"message": str(data)})
        return data

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)


def _x509_reason(exc: ssl.SSLCertVerificationError) -> str:
    message = exc.verify_message or str(exc)
    if (
        "unable to get local issuer" in message
        or "self-signed" in message
        or "self signed" in message
    ):
        return "certificate signed by unknown authority"
    if "mismatch" in message or "Hostname" in message:
        return f"certificate is not valid for the requested name ({message})"
    if "expired" in message:
        return "certificate has expired or is not yet valid"
    return message
