"""A small client of the registry HTTP API v2 (the OCI distribution API).

What the toolkit needs from a registry, and nothing more: read manifests (Docker schema 2, OCI
image manifests, and the lists above them: OCI image indexes, Docker manifest lists), pick one
platform's manifest from a list, stream blobs with their digest checked, push blobs and
manifests. `images save` / `images load` and the registry-cache benchmark use it.

Everything it reads is checked against the digest it was asked for: a manifest fetched by digest
must hash to that digest, a blob must hash to its descriptor's digest and have its size. A
mismatch is an error, never a warning.

Authentication: anonymous or basic credentials, and the bearer-token dance that Docker Hub and
most registries ask for (a 401 with `WWW-Authenticate: Bearer realm=...` is answered by fetching
a token from the realm for the repository's scope). Redirects (Docker Hub sends blob downloads
to a CDN) are followed by hand, so that credentials are never sent to another host.

Where credentials go: only over http(s) (a realm or redirect with another scheme is refused);
only to the registry's own host, or to a token realm on that host (Docker Hub's
auth.docker.io for registry-1.docker.io is the one known pair, KNOWN_REALMS); never over plain
HTTP except to a loopback address. A realm elsewhere gets the token request without them
(enough for public images), and an error then says why the credentials were withheld.

Proxies: none unless `use_env_proxy=True` (the registries of a sandbox or a site are local; a
connected machine behind a proxy that runs `images save` asks for it).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dlrs_provision import __version__
from dlrs_provision.errors import DlrsError, UsageError

# --------------------------------------------------------------------------- media types

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_LIST, OCI_INDEX)
MANIFEST_TYPES = (*INDEXES, *IMAGE_MANIFESTS)

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io's API answers
USER_AGENT = f"dlrs-provision/{__version__}"
CHUNK = 1 << 20
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# the reference grammar of the distribution registry (reference/regexp.go): path components,
# the domain (host[:port]) and the tag
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_REGISTRY_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_HEADER_PARAM = re.compile(r'(\w+)="([^"]*)"')
SCHEMES = ("http", "https")
# token services on another host than their registry that may be sent its credentials
KNOWN_REALMS = {DOCKER_HUB_API: ("auth.docker.io",)}


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (a host name without its port)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_url(url: str, what: str, came_from: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise RegistryError(
            f"{what}: {came_from} sent to {url!r}, which is no http(s) URL; refused",
            "the registry (or something between) is misconfigured: only http:// and "
            "https:// are followed",
        )
    return parts


def credentials_may_go(registry_url: str, target_url: str) -> str | None:
    """None when the registry's credentials may be sent to `target_url`, else the reason not."""
    reg = urllib.parse.urlsplit(registry_url)
    target = urllib.parse.urlsplit(target_url)
    host = (target.hostname or "").lower()
    reg_host = (reg.hostname or "").lower()
    if target.scheme != "https" and not is_loopback(host):
        return (
            f"{target.scheme}://{target.netloc} is plain HTTP (credentials would travel in clear)"
        )
    if host != reg_host and host not in KNOWN_REALMS.get(reg_host, ()):
        return f"{target.netloc} is another host than the registry {reg.netloc}"
    return None


class RegistryError(DlrsError):
    """A registry did not give what was asked for. The message names the registry and image."""

    def __init__(self, message: str, hint: str | None = None, status: int | None = None):
        super().__init__(message, hint)
        self.status = status


class DigestMismatch(RegistryError):
    """Content does not hash to the digest it was fetched by (or its size differs)."""


# --------------------------------------------------------------------------- references


def ca_bundle_problem(path: Path) -> str | None:
    """What makes `path` no CA bundle ssl can use (text that follows the path), or None."""
    try:
        head = path.read_bytes()[: 4 * 1024 * 1024]
    except OSError as exc:
        return f"cannot be read ({exc.strerror}): give a readable CA bundle"
    if b"-----BEGIN CERTIFICATE-----" not in head:
        return (
            "holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' line): give the CA "
            "bundle in PEM form, e.g. `openssl x509 -in ca.der -inform der -out ca.pem`"
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError, OSError) as exc:
        return f"is no usable CA bundle ({exc}): give PEM certificates"
    return None


@dataclass(frozen=True)
class Reference:
    """An image reference, normalised as Docker does (ubuntu: docker.io/library/ubuntu:latest)."""

    registry: str  # "docker.io" or host[:port]
    repository: str  # "library/ubuntu", "clearlinux/stacks-dlaas-mkl"
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        ref = text.strip()
        if not ref or any(c.isspace() for c in ref):
            raise UsageError(f"{text!r} is not an image reference", "e.g. org/name:tag")
        name, _, digest = ref.partition("@")
        if digest and not _DIGEST.match(digest):
            raise UsageError(f"{text!r}: {digest!r} is not a sha256 digest")
        tag = None
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = name.rsplit(":", 1)
        parts = name.split("/")
        if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
            registry, path = parts[0], "/".join(parts[1:])
        else:
            registry, path = DOCKER_HUB, name
        if registry in ("index.docker.io", DOCKER_HUB_API):
            registry = DOCKER_HUB
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if not path or not all(_PATH_COMPONENT.match(part) for part in path.split("/")):
            raise UsageError(
                f"{text!r} is not an image reference (repository {path!r})",
                "lowercase letters, digits and '.', '_', '-' between them, parts joined by '/'",
            )
        if not _REGISTRY_HOST.match(registry):
            raise UsageError(f"{text!r} is not an image reference (registry {registry!r})")
        if tag is not None and not _TAG.match(tag):
            raise UsageError(
                f"{text!r} is not an image reference (tag {tag!r})",
                "a tag is letters, digits, '_', '.' and '-' (at most 128), first not '.' or '-'",
            )
        if tag is None and not digest:
            tag = "latest"
        return cls(registry, path, tag, digest or None)

    @property
    def reference(self) -> str:
        """What goes after /manifests/: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """registry/repository, Docker's full name (docker.io/library/ubuntu)."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        """As people write it: clearlinux/stacks-dlaas-mkl:latest, ubuntu:22.04."""
        if self.registry == DOCKER_HUB:
            repo = self.repository.removeprefix("library/")
        else:
            repo = self.name
        text = repo + (f":{self.tag}" if self.tag else "")
        return text + (f"@{self.digest}" if self.digest else "")

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)


def api_host(registry: str) -> str:
    """Where a registry's API answers: docker.io's is registry-1.docker.io."""
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


def registry_url(host: str, insecure_registries: list[str] | tuple[str, ...] = ()) -> str:
    """https://host, or http://host when host is listed as insecure (plain HTTP only then)."""
    if "://" in host:
        return host.rstrip("/")
    scheme = "http" if host in insecure_registries else "https"
    return f"{scheme}://{host}"


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Descriptor:
        try:
            return cls(
                media_type=str(data.get("mediaType", "")),
                digest=str(data["digest"]),
                size=int(data["size"]),
                platform=data.get("platform"),
                annotations=data.get("annotations"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"malformed descriptor {data!r}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = self.annotations
        return out


@dataclass(frozen=True)
class Manifest:
    """A manifest as the registry sent it: raw bytes (what the digest is of), type, digest."""

    media_type: str
    digest: str
    raw: bytes
    data: dict[str, Any] = field(repr=False, compare=False, hash=False, default_factory=dict)

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: str | None = None) -> Manifest:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RegistryError(f"a manifest is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RegistryError("a manifest is not a JSON object")
        kind = data.get("mediaType") or media_type or ""
        if not kind:  # an OCI document may omit mediaType: tell them apart by their fields
            kind = OCI_INDEX if "manifests" in data else OCI_MANIFEST
        return cls(kind, sha256_digest(raw), raw, data)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))

    @property
    def config(self) -> Descriptor:
        if self.is_index:
            raise RegistryError(f"{self.digest} is an index: it has no config")
        return Descriptor.from_json(self.data["config"])

    @property
    def layers(self) -> list[Descriptor]:
        if self.is_index:
            raise RegistryError(f"{self.digest} is an index: it has no layers")
        return [Descriptor.from_json(d) for d in self.data.get("layers", [])]

    @property
    def manifests(self) -> list[Descriptor]:
        if not self.is_index:
            return []
        return [Descriptor.from_json(d) for d in self.data.get("manifests", [])]

    @property
    def blobs(self) -> list[Descriptor]:
        """The config, then the layers (an image manifest's blobs, in pull order)."""
        return [self.config, *self.layers]

    @property
    def download_size(self) -> int:
        """Bytes a pull of this image manifest moves: config plus compressed layers."""
        return sum(d.size for d in self.blobs)

    def platform_manifest(self, platform: str) -> Descriptor:
        """The descriptor of `platform` (os/arch[/variant]) in this index."""
        want = platform.split("/")
        for desc in self.manifests:
            p = desc.platform or {}
            have = [p.get("os", ""), p.get("architecture", ""), p.get("variant", "")]
            if have[: len(want)] == want or (len(want) == 2 and have[:2] == want):
                return desc
        offered = ", ".join(
            "/".join(x for x in (d.platform or {}).values() if isinstance(x, str))
            for d in self.manifests
        )
        raise RegistryError(
            f"index {self.digest} has no manifest for {platform} (it offers: {offered or 'none'})"
        )


@dataclass(frozen=True)
class ResolvedImage:
    """What a tag stands for: the top manifest (maybe an index) and the platform's manifest."""

    ref: Reference
    top: Manifest
    image: Manifest

    @property
    def config_digest(self) -> str:
        """The image ID as Docker and containerd report it."""
        return self.image.config.digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_of(architecture: str) -> str:
    """linux/<GOARCH> for a machine name as uname or Ansible says it (x86_64 -> amd64)."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(architecture, architecture)
    return f"linux/{arch}"


# --------------------------------------------------------------------------- the client


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # redirects are followed by RegistryClient itself


class VerifyingReader:
    """A file-like reader of a blob response that checks size and digest as it is read.

    Reading past the announced size, ending early or a wrong digest raises DigestMismatch;
    tarfile.addfile() and shutil.copyfileobj() can consume it directly.
    """

    def __init__(self, response: BinaryIO, digest: str, size: int, what: str):
        self._resp = response
        self._hash = hashlib.sha256()
        self._left = size
        self.digest = digest
        self.size = size
        self.what = what
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if n is None or n < 0 else min(n, self._left)
        data = self._resp.read(want)
        if not data:
            raise DigestMismatch(
                f"{self.what}: the registry ended the blob after {self.read_bytes} of "
                f"{self.size} bytes"
            )
        self._hash.update(data)
        self._left -= len(data)
        self.read_bytes += len(data)
        if self._left == 0:
            self._check()
        return data

    def _check(self) -> None:
        if self._resp.read(1):
            raise DigestMismatch(f"{self.what}: the registry sent more than {self.size} bytes")
        got = "sha256:" + self._hash.hexdigest()
        if got != self.digest:
            raise DigestMismatch(f"{self.what}: content hashes to {got}, not {self.digest}")

    def close(self) -> None:
        self._resp.close()


class RegistryClient:
    """One registry (base URL such as https://node1:5443 or http://127.0.0.1:5000)."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_file: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        use_env_proxy: bool = False,
        retries: int = 2,
        user_agent: str = USER_AGENT,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"registry URL {base_url!r} lacks http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.ca_file = ca_file
        self._username = username
        self._password = password
        self.timeout = timeout
        self.retries = retries
        self.user_agent = user_agent
        self._tokens: dict[str, str] = {}
        self._withheld = ""  # why the credentials were not sent, for the error that follows
        context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        handlers: list[Any] = [_NoRedirect()]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        if not use_env_proxy:
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:  # never shows credentials
        return f"RegistryClient({self.base_url!r})"

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc

    # -- low level

    def _auth_header(self, scope: str | None) -> dict[str, str]:
        token = self._tokens.get(scope or "")
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._tokens.get("__basic__") and self._username is not None:
            pair = f"{self._username}:{self._password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def _fetch_token(self, challenge: str, scope: str | None, what: str) -> None:
        kind, _, params_text = challenge.partition(" ")
        if kind.lower() == "basic":
            if self._username is None:
                raise RegistryError(
                    f"{what}: {self.base_url} asks for credentials (basic auth) and none were "
                    "given",
                    status=401,
                )
            why = credentials_may_go(self.base_url, self.base_url)
            if why:
                raise RegistryError(
                    f"{what}: {self.base_url} asks for basic credentials over {why}; not sent",
                    "reach the registry over https:// (with --ca-file for its CA), or from "
                    "this machine's loopback address",
                    status=401,
                )
            self._tokens["__basic__"] = "1"
            return
        if kind.lower() != "bearer":
            raise RegistryError(f"{what}: {self.base_url} asks for unknown auth {kind!r}")
        params = dict(_HEADER_PARAM.findall(params_text))
        realm = params.get("realm")
        if not realm:
            raise RegistryError(f"{what}: {self.base_url} sent a bearer challenge without realm")
        query = {"service": params.get("service", "")}
        if scope or params.get("scope"):
            query["scope"] = scope or params["scope"]
        _checked_url(realm, what, f"{self.base_url}'s token challenge")
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"User-Agent": self.user_agent}
        why = credentials_may_go(self.base_url, realm) if self._username is not None else None
        if why:
            self._withheld = f"the credentials were not sent to the token service {realm}: {why}"
        elif self._username is not None:
            pair = f"{self._username}:{self._password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            with self._opener.open(
                urllib.request.Request(url, headers=headers), timeout=self.timeout
            ) as resp:
                body = json.loads(resp.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RegistryError(f"{what}: token from {realm} failed: {_reason(exc)}") from None
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"{what}: the token service {realm} returned no token")
        self._tokens[scope or ""] = token

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        what: str,
        scope: str | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | BinaryIO | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> http.client.HTTPResponse:
        """Send a request (auth and redirects handled); return the open response.

        Statuses outside `ok` raise RegistryError naming the registry and `what`. Connection
        problems are retried (`retries` times, idempotent methods only) before they raise.
        """
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if "://" in path_or_url:  # a Location the registry sent (uploads): http(s) only
            _checked_url(url, what, f"{self.base_url}'s upload location")
        same_host = urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(self.base_url).netloc
        attempts = 0
        authed = False
        redirects = 0
        while True:
            hdrs = {"User-Agent": self.user_agent, **(headers or {})}
            if same_host:
                hdrs.update(self._auth_header(scope))
            body = data
            req = urllib.request.Request(url, data=body, headers=hdrs, method=method)
            try:
                resp = self._opener.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                status = exc.code
                if status == 401 and same_host and not authed:
                    challenge = exc.headers.get("WWW-Authenticate", "")
                    exc.close()
                    self._fetch_token(challenge, scope, what)
                    authed = True
                    continue
                if status in (301, 302, 303, 307, 308) and redirects < 5:
                    location = exc.headers.get("Location", "")
                    exc.close()
                    new = urllib.parse.urljoin(url, location)
                    _checked_url(new, what, f"a redirect of {self.base_url}")
                    same_host = same_host and (
                        urllib.parse.urlsplit(new).netloc == urllib.parse.urlsplit(url).netloc
                    )
                    url, redirects = new, redirects + 1
                    if status == 303:
                        method, data = "GET", None
                    continue
                if status in ok:
                    return exc  # type: ignore[return-value]
                detail = _error_detail(exc)
                raise RegistryError(
                    f"{what}: {self.base_url} answered {status} {exc.reason}"
                    + (f" ({detail})" if detail else ""),
                    self._withheld if status in (401, 403) and self._withheld else None,
                    status=status,
                ) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                attempts += 1
                retryable = method in ("GET", "HEAD") and attempts <= self.retries
                if retryable:
                    time.sleep(0.5 * attempts)
                    continue
                raise RegistryError(
                    f"{what}: registry {self.base_url} cannot be reached: {_reason(exc)}",
                    "check that the registry runs and that this machine can reach it "
                    "(name, port, TLS: http:// only for registries listed as insecure)",
                ) from None
            if resp.status not in ok:
                resp.close()
                raise RegistryError(
                    f"{what}: {self.base_url} answered {resp.status}", status=resp.status
                )
            return resp

    # -- API

    def ping(self) -> None:
        """GET /v2/: the registry answers and speaks API v2 (credentials fetched if asked)."""
        self.request("GET", "/v2/", what="API check").close()

    def get_manifest(self, ref: Reference | str, reference: str | None = None) -> Manifest:
        """The manifest of repository:reference (any of the four manifest types)."""
        ref = Reference.parse(ref) if isinstance(ref, str) else ref
        reference = reference or ref.reference
        what = (
            f"manifest of {ref.repository}:{reference}"
            if ":" not in reference
            else (f"manifest of {ref.repository}@{reference}")
        )
        with self.request(
            "GET",
            f"/v2/{ref.repository}/manifests/{reference}",
            what=what,
            scope=f"repository:{ref.repository}:pull",
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        ) as resp:
            raw = resp.read()
            ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
            header_digest = resp.headers.get("Docker-Content-Digest")
        manifest = Manifest.from_bytes(raw, ctype or None)
        if reference.startswith("sha256:") and manifest.digest != reference:
            raise DigestMismatch(f"{what}: content hashes to {manifest.digest}")
        if (
            header_digest
            and header_digest.startswith("sha256:")
            and (header_digest != manifest.digest)
        ):
            raise DigestMismatch(
                f"{what}: the registry says {header_digest}, the content hashes to "
                f"{manifest.digest}"
            )
        return manifest

    def resolve(self, ref: Reference | str, platform: str = "linux/amd64") -> ResolvedImage:
        """The tag's (or digest's) manifest and, below an index, the platform's manifest."""
        ref = Reference.parse(ref) if isinstance(ref, str) else ref
        top = self.get_manifest(ref)
        image = top
        if top.is_index:
            try:
                desc = top.platform_manifest(platform)
            except RegistryError as exc:
                raise RegistryError(f"{ref.familiar} on {self.base_url}: {exc.message}") from None
            image = self.get_manifest(ref, desc.digest)
        if image.is_index:
            raise RegistryError(f"{ref.familiar}: an index inside an index is not supported")
        return ResolvedImage(ref.with_digest(top.digest), top, image)

    def open_blob(self, repository: str, desc: Descriptor) -> VerifyingReader:
        what = f"blob {desc.digest} of {repository}"
        resp = self.request(
            "GET",
            f"/v2/{repository}/blobs/{desc.digest}",
            what=what,
            scope=f"repository:{repository}:pull",
        )
        return VerifyingReader(resp, desc.digest, desc.size, f"{what} from {self.base_url}")

    def fetch_blob(
        self, repository: str, desc: Descriptor, sink: Callable[[bytes], Any] | None = None
    ) -> int:
        """Stream a blob (checked) into sink, or discard it; returns the bytes received."""
        reader = self.open_blob(repository, desc)
        try:
            while True:
                chunk = reader.read(CHUNK)
                if not chunk:
                    break
                if sink is not None:
                    sink(chunk)
        finally:
            reader.close()
        return reader.read_bytes

    def get_blob(self, repository: str, desc: Descriptor) -> bytes:
        parts: list[bytes] = []
        self.fetch_blob(repository, desc, parts.append)
        return b"".join(parts)

    def blob_exists(self, repository: str, digest: str) -> bool:
        resp = self.request(
            "HEAD",
            f"/v2/{repository}/blobs/{digest}",
            what=f"blob {digest} of {repository}",
            scope=f"repository:{repository}:pull",
            ok=(200, 404),
        )
        resp.close()
        return resp.status == 200

    def push_blob(self, repository: str, desc: Descriptor, body: bytes | BinaryIO) -> bool:
        """Upload a blob (monolithic: POST then PUT). False when the registry already had it."""
        if self.blob_exists(repository, desc.digest):
            return False
        scope = f"repository:{repository}:pull,push"
        what = f"upload of {desc.digest} to {repository}"
        with self.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            what=what,
            scope=scope,
            headers={"Content-Length": "0"},
            data=b"",
            ok=(202,),
        ) as resp:
            location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"{what}: {self.base_url} gave no upload location")
        url = urllib.parse.urljoin(self.base_url + "/", location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": desc.digest})
        with self.request(
            "PUT",
            url,
            what=what,
            scope=scope,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(desc.size)},
            data=body,
            ok=(201,),
        ) as resp:
            got = resp.headers.get("Docker-Content-Digest")
        if got and got != desc.digest:
            raise DigestMismatch(f"{what}: the registry stored {got}")
        return True

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Store a manifest under a tag (or its digest); returns the digest the registry gives."""
        what = f"manifest {repository}:{reference}"
        with self.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            what=what,
            scope=f"repository:{repository}:pull,push",
            headers={"Content-Type": manifest.media_type},
            data=manifest.raw,
            ok=(201,),
        ) as resp:
            got = resp.headers.get("Docker-Content-Digest") or manifest.digest
        if got != manifest.digest:
            raise DigestMismatch(f"{what}: the registry stored {got}, not {manifest.digest}")
        return got

    def tags(self, repository: str) -> list[str]:
        with self.request(
            "GET",
            f"/v2/{repository}/tags/list",
            what=f"tags of {repository}",
            scope=f"repository:{repository}:pull",
        ) as resp:
            return list(json.loads(resp.read() or b"{}").get("tags") or [])


def pull_blobs(
    client: RegistryClient, image: ResolvedImage, sink: Callable[[bytes], Any] | None = None
) -> Iterator[tuple[Descriptor, int]]:
    """Fetch every blob of a resolved image (config first); yields (descriptor, bytes)."""
    for desc in image.image.blobs:
        yield desc, client.fetch_blob(image.ref.repository, desc, sink)


# --------------------------------------------------------------------------- helpers


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc) or type(exc).__name__
    return " ".join(text.split())


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The registry's error code and message (API v2 error body), if it sent one."""
    try:
        body = json.loads(exc.read(65536) or b"{}")
    except (ValueError, OSError):
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return ""
    first = errors[0]
    return " ".join(str(first.get(k, "")) for k in ("code", "message")).strip()
