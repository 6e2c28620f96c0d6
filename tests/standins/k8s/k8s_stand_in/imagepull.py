"""kubeadm's ImagePull preflight check, as the stand-in plays it (kubeadm init only).

Real kubeadm (cmd/kubeadm/app/preflight/checks.go, ImagePullCheck and RunPullImagesCheck) pulls
every image of `kubeadm config images list` through the CRI runtime before it writes anything:
the control-plane images from ClusterConfiguration.imageRepository, CoreDNS from dns.imageRepository
or imageRepository (`/coredns` added only on registry.k8s.io), etcd from etcd.local.imageRepository
or imageRepository, pause from imageRepository (cmd/kubeadm/app/images/images.go). An image the
registry does not hold fails the check; the errors come out as `[ERROR ImagePull]: failed to pull
image X: ...` and the run stops, unless `--ignore-preflight-errors` names ImagePull (or all), when
they are warnings. `nodeRegistration.imagePullPolicy`: Never pulls nothing, IfNotPresent (the
default) skips images the runtime has, Always pulls every one, anything else is
`unsupported pull policy "X"`. A CRI sandbox image other than kubeadm's pause gets kubeadm's
warning.

No container runtime pulls for the stand-in: it asks the registry the way containerd's resolver
does, a HEAD of `/v2/<name>/manifests/<tag>` (with the manifest media types in Accept and an
anonymous bearer token when the registry asks for one), on the endpoints containerd would use
for that registry: the `[host."..."]` entries of `/etc/containerd/certs.d/<registry>/hosts.toml`
in order, then its `server`, with the `ca` files (or skip_verify) given there; without a
hosts.toml, `https://<registry>` (registry-1.docker.io for docker.io) trusting the folder's
`*.crt` (Docker's certificate pattern). The host namespace folder is `<host>_<port>_`, then
`<host>:<port>`, then `_default`; a mirror is asked with `?ns=<registry>`; relative `ca` paths
are relative to the hosts.toml. The answer of the last endpoint tried is the error, in
containerd's words. "Present" (IfNotPresent) is what
`ctr -n k8s.io images ls -q` lists on a real host with ctr; never under a test root.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_REPOSITORY = "registry.k8s.io"
CERTS_D = "/etc/containerd/certs.d"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"

# constants.go of each release branch: PauseVersion, SupportedEtcdVersion[minor], CoreDNSVersion
PINS: dict[str, tuple[str, str, str]] = {
    "1.30": ("3.9", "3.5.12-0", "v1.11.1"),
    "1.31": ("3.10", "3.5.15-0", "v1.11.3"),
    "1.32": ("3.10", "3.5.16-0", "v1.11.3"),
}
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
POLICIES = ("Always", "IfNotPresent", "Never")


def _pins(kubernetes_version: str) -> tuple[str, str, str]:
    parts = kubernetes_version.lstrip("v").split(".")
    minor = ".".join(parts[:2])
    # kubeadm knows only its own minor's pins; the stand-in plays 1.30 to 1.32
    return PINS.get(minor, PINS[max(PINS, key=lambda m: int(m.split(".")[1]))])


def required_images(cluster: dict[str, Any], kubernetes_version: str) -> list[str]:
    """images.GetControlPlaneImages for a ClusterConfiguration, in kubeadm's order."""
    repo = str(cluster.get("imageRepository") or DEFAULT_REPOSITORY)
    tag = "v" + kubernetes_version.lstrip("v").replace("+", "_")
    pause, etcd_version, coredns = _pins(kubernetes_version)
    images = [f"{repo}/{name}:{tag}" for name in ("kube-apiserver", "kube-controller-manager")]
    images.append(f"{repo}/kube-scheduler:{tag}")
    if not (cluster.get("proxy") or {}).get("disabled"):
        images.append(f"{repo}/kube-proxy:{tag}")
    dns = cluster.get("dns") or {}
    if not dns.get("disabled"):
        dns_repo = str(dns.get("imageRepository") or repo)
        if dns_repo == DEFAULT_REPOSITORY:
            dns_repo += "/coredns"
        images.append(f"{dns_repo}/coredns:{dns.get('imageTag') or coredns}")
    images.append(f"{repo}/pause:{pause}")
    local = (cluster.get("etcd") or {}).get("local")
    if local is not None and not (cluster.get("etcd") or {}).get("external"):
        local = local or {}
        etcd_repo = str(local.get("imageRepository") or repo)
        images.append(f"{etcd_repo}/etcd:{local.get('imageTag') or etcd_version}")
    return images


def pause_image(cluster: dict[str, Any], kubernetes_version: str) -> str:
    """images.GetPauseImage: the pause image kubeadm expects the runtime to use."""
    repo = str(cluster.get("imageRepository") or DEFAULT_REPOSITORY)
    return f"{repo}/pause:{_pins(kubernetes_version)[0]}"


def run_init_check(
    root: Any, cfg: Any, report: Callable[[str, list[str], list[str]], None]
) -> None:
    """RunPullImagesCheck of `kubeadm init` for a loaded InitConfig."""
    cluster = cfg.cluster_doc
    version = cfg.kubernetes_version
    check(
        root,
        required_images(cluster, version),
        pause_image(cluster, version),
        getattr(cfg, "image_pull_policy", "") or "IfNotPresent",
        report,
    )


# --------------------------------------------------------------------------------------------
# asking the registry as containerd's resolver does


@dataclass(frozen=True)
class Endpoint:
    url: str  # scheme://host[:port][/path], /v2 already appended where containerd appends it
    ca_files: tuple[str, ...] = ()
    skip_verify: bool = False
    ns: str = ""  # a mirror (another host than the registry's) gets ?ns=<registry>


def split_image(image: str) -> tuple[str, str, str]:
    """'reg:5443/a/b:tag' -> ('reg:5443', 'a/b', 'tag'), normalised as containerd does."""
    name, _, digest = image.partition("@")
    tag = ""
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", name
    if host == "docker.io" and "/" not in path:
        path = "library/" + path
    return host, path, digest or tag or "latest"


def _namespace_dir(root: Any, host: str) -> Path | None:
    """The host namespace folder containerd reads: `host_port_`, `host:port`, then `_default`."""
    names = [f"{host.replace(':', '_')}_", host] if ":" in host else [host]
    for name in [*names, "_default"]:
        folder = root.path(f"{CERTS_D}/{name}")
        if folder.is_dir():
            return folder
    return None


def endpoints(root: Any, host: str) -> list[Endpoint]:
    """The endpoints containerd's CRI uses for a registry host (config_path hosts.toml): the
    `host` entries that may resolve, in order, then `server` (default: the host itself)."""
    default = "https://registry-1.docker.io" if host == "docker.io" else f"https://{host}"
    folder = _namespace_dir(root, host)
    hosts_toml = folder / "hosts.toml" if folder else None
    if folder is None or hosts_toml is None or not hosts_toml.is_file():
        # no hosts.toml: Docker's certificate file pattern (*.crt in the folder are CAs)
        cas = tuple(str(p) for p in sorted(folder.glob("*.crt"))) if folder else ()
        return [Endpoint(default + "/v2", cas)]
    data = tomllib.loads(hosts_toml.read_text())
    found: list[Endpoint] = []
    for url, spec in (data.get("host") or {}).items():
        caps = spec.get("capabilities", ["pull", "resolve", "push"])
        if "resolve" not in caps:
            continue
        path = "" if spec.get("override_path") else "/v2"
        found.append(_endpoint(root, folder, url.rstrip("/") + path, spec, host))
    server = str(data.get("server") or default).rstrip("/")
    path = "" if data.get("override_path") else "/v2"
    found.append(_endpoint(root, folder, server + path, data, host))
    return found


def _endpoint(root: Any, folder: Path, url: str, spec: dict[str, Any], host: str) -> Endpoint:
    ca = spec.get("ca") or []
    cas = [ca] if isinstance(ca, str) else list(ca)
    # paths in hosts.toml are absolute (taken under the root) or relative to its folder
    files = tuple(str(root.path(c) if c.startswith("/") else folder / c) for c in cas)
    mirror = urllib.parse.urlsplit(url).netloc != host
    return Endpoint(url, files, bool(spec.get("skip_verify")), host if mirror else "")


def _context(ep: Endpoint) -> ssl.SSLContext | None:
    if not ep.url.startswith("https://"):
        return None
    ctx = ssl.create_default_context()
    if ep.skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for ca in ep.ca_files:
        ctx.load_verify_locations(ca)
    return ctx


def _token(challenge: str, ctx: ssl.SSLContext | None, timeout: float) -> str | None:
    """An anonymous pull token from a `Bearer realm=...,service=...,scope=...` challenge."""
    if not challenge.lower().startswith("bearer "):
        return None
    params = dict(part.strip().split("=", 1) for part in challenge[7:].split(",") if "=" in part)
    params = {k: v.strip('"') for k, v in params.items()}
    realm = params.pop("realm", "")
    if not realm:
        return None
    url = realm + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
        body = json.loads(resp.read() or b"{}")
    return body.get("token") or body.get("access_token")


def resolve(root: Any, image: str, timeout: float = 10.0) -> str | None:
    """None when the image's manifest can be had, else containerd's reason (the last
    endpoint's)."""
    host, path, reference = split_image(image)
    problem = ""
    for ep in endpoints(root, host):
        url = f"{ep.url}/{path}/manifests/{reference}"
        if ep.ns:
            url += "?" + urllib.parse.urlencode({"ns": ep.ns})
        try:
            ctx = _context(ep)
        except (OSError, ssl.SSLError) as exc:
            problem = f"failed to load the CA of {ep.url}: {exc}"
            continue
        headers = {"Accept": MANIFEST_TYPES, "User-Agent": "kubeadm-stand-in (containerd-like)"}
        for _ in range(2):
            req = urllib.request.Request(url, method="HEAD", headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=timeout, context=ctx):
                    return None
            except urllib.error.HTTPError as exc:
                challenge = exc.headers.get("WWW-Authenticate", "")
                if exc.code == 401 and "Authorization" not in headers:
                    try:
                        token = _token(challenge, ctx, timeout)
                    except (OSError, ValueError):
                        token = None
                    if token:
                        headers["Authorization"] = f"Bearer {token}"
                        continue
                if exc.code == 404:
                    problem = f"{image}: not found"
                elif exc.code == 401:
                    problem = (
                        f"failed to authorize: failed to fetch anonymous token: unexpected status "
                        f"from HEAD request to {url}: 401 Unauthorized"
                    )
                else:
                    problem = (
                        f"unexpected status from HEAD request to {url}: {exc.code} {exc.reason}"
                    )
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLCertVerificationError):
                    text = (
                        "tls: failed to verify certificate: x509: certificate signed by "
                        "unknown authority"
                    )
                else:
                    text = str(getattr(reason, "strerror", None) or reason).lower()
                parsed = urllib.parse.urlsplit(url)
                problem = f'failed to do request: Head "{url}": dial tcp {parsed.netloc}: {text}'
            break
    return problem or f"{image}: not found"


def present_images(root: Any) -> set[str]:
    """The images containerd's k8s.io namespace holds (a real host with ctr only)."""
    ctr = shutil.which("ctr")
    if not root.is_real or not ctr:
        return set()
    run = subprocess.run(
        [ctr, "-n", "k8s.io", "images", "ls", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return set(run.stdout.split()) if run.returncode == 0 else set()


def cri_sandbox_image(root: Any) -> str | None:
    """The sandbox (pause) image in containerd's config.toml (version 2 or 3), if any."""
    path = root.path(CONTAINERD_CONFIG)
    try:
        plugins = tomllib.loads(path.read_text()).get("plugins") or {}
    except (OSError, tomllib.TOMLDecodeError):
        return None
    v2 = plugins.get("io.containerd.grpc.v1.cri") or {}
    v3 = (plugins.get("io.containerd.cri.v1.images") or {}).get("pinned_images") or {}
    return v2.get("sandbox_image") or v3.get("sandbox")


def _klog_warning(text: str) -> None:
    now = time.time()
    stamp = time.strftime("%m%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
    print(f"W{stamp} {0:>7} checks.go:846] {text}", file=sys.stderr, flush=True)


def check(
    root: Any,
    images: list[str],
    sandbox_image: str,
    policy: str,
    report: Callable[[str, list[str], list[str]], None],
) -> None:
    """ImagePullCheck: report("ImagePull", warnings, errors) as Preflight.check takes it."""
    policy = policy or "IfNotPresent"
    if policy == "Never":
        report("ImagePull", [], [])
        return
    if policy not in POLICIES:
        report("ImagePull", [], [f'unsupported pull policy "{policy}"'])
        return
    runtime_sandbox = cri_sandbox_image(root)
    if runtime_sandbox and runtime_sandbox != sandbox_image:
        _klog_warning(
            f'detected that the sandbox image "{runtime_sandbox}" of the container runtime is '
            "inconsistent with that used by kubeadm. It is recommended to use "
            f'"{sandbox_image}" as the CRI sandbox image.'
        )
    have = present_images(root) if policy == "IfNotPresent" else set()
    errors = []
    for image in images:
        if image in have:
            continue
        problem = resolve(root, image)
        if problem is None:
            continue
        code = "NotFound" if problem.endswith(": not found") else "Unknown"
        errors.append(
            f'failed to pull image {image}: failed to pull image "{image}": rpc error: code = '
            f'{code} desc = failed to pull and unpack image "{image}": failed to resolve '
            f'reference "{image}": {problem}'
        )
    report("ImagePull", [], errors)
