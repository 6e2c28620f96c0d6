"""dlrs_provision.registry against a real registry: Debian's docker-registry (the CNCF
distribution registry, the program role registry_cache runs), started for this module on
127.0.0.1 with a throwaway storage folder.

The binary comes from Debian's docker-registry package when installed on this machine; else the
registry runs inside a throwaway container from the sandbox's mirror image (which has the
package), when that image exists; else the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dlrs_provision import images
from dlrs_provision.errors import UsageError
from dlrs_provision.registry import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    DigestMismatch,
    Manifest,
    Reference,
    RegistryClient,
    RegistryError,
    VerifyingReader,
    platform_of,
    registry_url,
    sha256_digest,
)

# The cluster registry's account in the tests with a registry that wants one.
ACCOUNT = ("dlrs-cluster", "Passw0rdOfTheCluster")

CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {addr}
{tls}{auth}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mirror_image() -> str | None:
    if shutil.which("docker") is None:
        return None
    proc = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "dlrs-sandbox/mirror"],
        capture_output=True,
        text=True,
        check=False,
    )
    tags = proc.stdout.split() if proc.returncode == 0 else []
    return tags[0] if tags else None


@dataclass
class LiveRegistry:
    url: str
    ca_file: str | None = None


def _wait(url: str, ca_file: str | None, what: str, account: tuple[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    user, password = account or (None, None)
    while True:
        try:
            RegistryClient(
                url, ca_file=ca_file, username=user, password=password, retries=0, timeout=2
            ).ping()
            return
        except RegistryError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _start(
    tmp: Path, tls: tuple[Path, Path] | None, htpasswd: Path | None = None
) -> Iterator[LiveRegistry]:
    scheme = "https" if tls else "http"
    binary = shutil.which("docker-registry")
    image = None if binary else _mirror_image()
    if binary is None and image is None:
        pytest.skip(
            "no docker-registry here: install Debian's docker-registry package, or build the "
            "sandbox's mirror image (dlrs-provision sandbox up)"
        )
    port = _free_port()
    if binary:
        storage, certs = tmp / "storage", tls
        addr = f"127.0.0.1:{port}"
    else:
        storage = Path("/var/lib/registry-test")
        certs = (Path("/certs/server.crt"), Path("/certs/server.key")) if tls else None
        addr = ":5000"
    tls_text = f"  tls:\n    certificate: {certs[0]}\n    key: {certs[1]}\n" if certs else ""
    config = tmp / "config.yml"
    auth_path = (htpasswd if binary else Path("/auth") / htpasswd.name) if htpasswd else None
    auth_text = f"auth:\n  htpasswd:\n    realm: test\n    path: {auth_path}\n" if htpasswd else ""
    config.write_text(CONFIG.format(root=storage, addr=addr, tls=tls_text, auth=auth_text))
    log = tmp / "registry.log"
    if binary:
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        stop = proc.terminate
    else:
        name = f"dlrs-unit-registry-{port}"
        mounts = ["-v", f"{config}:/config.yml:ro"]
        if tls:
            mounts += ["-v", f"{tls[0].parent}:/certs:ro"]
        if htpasswd:
            mounts += ["-v", f"{htpasswd.parent}:/auth:ro"]
        subprocess.run(
            ["docker", "run", "-d", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:5000",
             *mounts, image, "/usr/bin/docker-registry", "serve", "/config.yml"],
            check=True, capture_output=True,
        )  # fmt: skip

        def stop() -> None:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)

    url = f"{scheme}://127.0.0.1:{port}"
    ca_file = str(tls[0].parent / "ca.crt") if tls else None
    try:
        _wait(url, ca_file, "registry", ACCOUNT if htpasswd else None)
        yield LiveRegistry(url, ca_file)
    finally:
        stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[LiveRegistry]:
    yield from _start(tmp_path_factory.mktemp("registry"), None)


def _make_tls(folder: Path) -> tuple[Path, Path]:
    """A CA and a server certificate for 127.0.0.1, as role registry_cache makes them."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca.public_bytes(pem))
    (folder / "server.crt").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "server.key").chmod(0o644)  # read by the registry (in a container: another user)
    return folder / "server.crt", folder / "server.key"


@pytest.fixture(scope="module")
def live_auth(tmp_path_factory) -> Iterator[LiveRegistry]:
    """A registry that wants the cluster's account for every request (role registry_cache)."""
    sys.path.insert(
        0, str(Path(__file__).resolve().parents[2] / "dlrs_provision/ansible_plugins/filter")
    )
    import dlrs_registry

    tmp = tmp_path_factory.mktemp("registry-auth")
    auth = tmp / "auth"
    auth.mkdir()
    (auth / "htpasswd").write_text(dlrs_registry.dlrs_htpasswd(*ACCOUNT) + "\n")
    yield from _start(tmp, None, auth / "htpasswd")


@pytest.fixture(scope="module")
def live_tls(tmp_path_factory) -> Iterator[LiveRegistry]:
    tmp = tmp_path_factory.mktemp("registry-tls")
    certs = tmp / "certs"
    certs.mkdir()
    yield from _start(tmp, _make_tls(certs))


# --------------------------------------------------------------------------- test images


def _layer(text: str) -> bytes:
    """A gzipped tar with one file: a real image layer."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        data = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _desc(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def push_image(
    client: RegistryClient, repo: str, tag: str | None, text: str, arch: str = "amd64", oci=False
) -> tuple[Manifest, bytes, bytes]:
    """Push a one-layer image; returns its manifest, config and layer."""
    layer = _layer(text)
    diff_id = sha256_digest(gzip.decompress(layer))
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    if oci:
        kinds = (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json",
                 "application/vnd.oci.image.layer.v1.tar+gzip")  # fmt: skip
    else:
        kinds = (DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json",
                 "application/vnd.docker.image.rootfs.diff.tar.gzip")  # fmt: skip
    body = {
        "schemaVersion": 2,
        "mediaType": kinds[0],
        "config": _desc(kinds[1], config),
        "layers": [_desc(kinds[2], layer)],
    }
    manifest = Manifest.from_bytes(json.dumps(body, indent=3).encode())
    for blob, data in ((manifest.config, config), (manifest.layers[0], layer)):
        client.push_blob(repo, blob, data)
    client.put_manifest(repo, tag or manifest.digest, manifest)
    return manifest, config, layer


def push_index(client: RegistryClient, repo: str, tag: str, kind: str = OCI_INDEX) -> Manifest:
    """A two-platform image (amd64, arm64) under one tag."""
    entries = []
    for arch in ("arm64", "amd64"):
        man, _, _ = push_image(client, repo, None, f"{arch} content", arch=arch, oci=True)
        entries.append(
            _desc(man.media_type, man.raw, platform={"os": "linux", "architecture": arch})
        )
    index = Manifest.from_bytes(
        json.dumps({"schemaVersion": 2, "mediaType": kind, "manifests": entries}).encode()
    )
    client.put_manifest(repo, tag, index)
    return index


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "familiar"),
    [
        ("ubuntu", "docker.io", "library/ubuntu", "latest", "ubuntu:latest"),
        (
            "clearlinux/stacks-dlaas-mkl:latest",
            "docker.io",
            "clearlinux/stacks-dlaas-mkl",
            "latest",
            "clearlinux/stacks-dlaas-mkl:latest",
        ),
        ("docker.io/intel/x:1.2", "docker.io", "intel/x", "1.2", "intel/x:1.2"),
        ("mirror:5000/org/img:v1", "mirror:5000", "org/img", "v1", "mirror:5000/org/img:v1"),
        ("localhost/img", "localhost", "img", "latest", "localhost/img:latest"),
        (
            "registry-1.docker.io/library/debian:12",
            "docker.io",
            "library/debian",
            "12",
            "debian:12",
        ),
    ],
)
def test_reference_is_normalised_as_docker_does(text, registry, repository, tag, familiar):
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.familiar) == (
        registry,
        repository,
        tag,
        familiar,
    )


def test_reference_with_digest_pulls_by_digest():
    digest = "sha256:" + "a" * 64
    ref = Reference.parse(f"node1:5443/org/img:v1@{digest}")
    assert ref.reference == digest and ref.tag == "v1"
    assert str(ref) == f"node1:5443/org/img:v1@{digest}"


@pytest.mark.parametrize("text", ["", "UPPER/case", "img@sha256:123", "has space"])
def test_bad_references_are_refused(text):
    with pytest.raises(UsageError):
        Reference.parse(text)


def test_plain_http_only_for_registries_listed_as_insecure():
    assert registry_url("mirror:5000", ["mirror:5000"]) == "http://mirror:5000"
    assert registry_url("mirror:5000", []) == "https://mirror:5000"
    assert registry_url("mirror:5000", ["mirror"]) == "https://mirror:5000"
    assert platform_of("x86_64") == "linux/amd64" and platform_of("aarch64") == "linux/arm64"


def test_verifying_reader_refuses_wrong_content_short_content_and_extra_bytes():
    data = b"layer bytes"
    good = sha256_digest(data)
    assert VerifyingReader(io.BytesIO(data), good, len(data), "blob").read() == data
    with pytest.raises(DigestMismatch, match="hashes to"):
        VerifyingReader(io.BytesIO(b"other bytes"), good, len(data), "blob").read()
    with pytest.raises(DigestMismatch, match="ended the blob after 5"):
        reader = VerifyingReader(io.BytesIO(data[:5]), good, len(data), "blob")
        while reader.read(4):
            pass
    with pytest.raises(DigestMismatch, match="more than"):
        VerifyingReader(io.BytesIO(data + b"!"), good, len(data), "blob").read()


# --------------------------------------------------------------------------- the live registry


def test_pushed_image_reads_back_with_every_digest_checked(live):
    client = RegistryClient(live.url)
    manifest, config, layer = push_image(client, "test/one", "v1", "hello")
    resolved = client.resolve("test/one:v1")
    assert resolved.top == resolved.image == manifest
    assert resolved.ref.digest == manifest.digest
    assert resolved.config_digest == sha256_digest(config)
    assert client.get_manifest(Reference.parse("test/one"), manifest.digest).raw == manifest.raw
    assert client.get_blob("test/one", manifest.config) == config
    parts: list[bytes] = []
    assert client.fetch_blob("test/one", manifest.layers[0], parts.append) == len(layer)
    assert b"".join(parts) == layer
    assert client.tags("test/one") == ["v1"]
    assert resolved.image.download_size == len(config) + len(layer)


def test_pushing_a_blob_the_registry_has_uploads_nothing(live):
    client = RegistryClient(live.url)
    manifest, config, _ = push_image(client, "test/again", "v1", "same")
    assert client.blob_exists("test/again", manifest.config.digest)
    assert client.push_blob("test/again", manifest.config, config) is False
    assert not client.blob_exists("test/again", "sha256:" + "0" * 64)


@pytest.mark.parametrize("kind", [OCI_INDEX, DOCKER_LIST])
def test_index_resolves_to_the_node_s_platform(live, kind):
    client = RegistryClient(live.url)
    index = push_index(client, f"test/multi-{kind.split('.')[-2]}", "v1", kind)
    repo = f"test/multi-{kind.split('.')[-2]}"
    amd64 = client.resolve(f"{repo}:v1", "linux/amd64")
    arm64 = client.resolve(f"{repo}:v1", "linux/arm64")
    assert amd64.top.digest == index.digest and amd64.top.is_index
    assert amd64.ref.digest == index.digest
    assert amd64.image.digest != arm64.image.digest
    amd64_config = json.loads(client.get_blob(repo, amd64.image.config))
    assert amd64_config["architecture"] == "amd64"
    with pytest.raises(RegistryError, match=r"no manifest for linux/s390x .*linux/arm64"):
        client.resolve(f"{repo}:v1", "linux/s390x")


def test_missing_image_names_the_registry_and_the_image(live):
    with pytest.raises(RegistryError) as err:
        RegistryClient(live.url).resolve("test/absent:v9")
    text = err.value.render()
    assert live.url in text and "test/absent:v9" in text and "404" in text
    assert err.value.status == 404


def test_registry_that_does_not_answer_is_named_with_a_hint():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(RegistryError) as err:
        RegistryClient(url, retries=0, timeout=2).resolve("test/one:v1")
    assert url in err.value.message and "cannot be reached" in err.value.message
    assert "insecure" in (err.value.hint or "")


def test_a_manifest_that_does_not_hash_to_its_digest_is_refused(live, monkeypatch):
    client = RegistryClient(live.url)
    manifest, _, _ = push_image(client, "test/tamper", "v1", "tamper")
    real = client.request

    def tampered(*args, **kwargs):
        resp = real(*args, **kwargs)
        if "/manifests/" in args[1]:
            body = resp.read().replace(b'"schemaVersion"', b'"schemaVersion" ')
            resp.read = lambda *a: body  # type: ignore[method-assign]
        return resp

    monkeypatch.setattr(client, "request", tampered)
    with pytest.raises(DigestMismatch):
        client.get_manifest(Reference.parse("test/tamper"), manifest.digest)


def test_tls_registry_is_trusted_through_the_given_ca_only(live_tls):
    client = RegistryClient(live_tls.url, ca_file=live_tls.ca_file)
    push_image(client, "test/tls", "v1", "over tls")
    assert client.resolve("test/tls:v1").image.layers
    with pytest.raises(RegistryError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        RegistryClient(live_tls.url, retries=0).ping()


# --------------------------------------------------------------------------- save and load


def test_save_then_load_keeps_every_digest(live, tmp_path):
    source = RegistryClient(live.url)
    manifest, config, _ = push_image(source, "org/stack", "latest", "stack image")
    push_index(source, "org/multi", "v2")
    host = live.url.split("://", 1)[1]
    out = tmp_path / "images.tar"
    saved = images.save(
        [f"{host}/org/stack:latest", f"{host}/org/multi:v2"],
        out,
        insecure_registries=[host],
    )
    assert out.is_file() and not list(tmp_path.glob("*.part"))
    assert saved.images[0].digest == manifest.digest
    assert saved.images[0].image_id == sha256_digest(config)
    assert saved.images[1].index_digest is not None  # the index's platform manifest was kept
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        index = json.loads(tar.extractfile("index.json").read())
        for name in names - {"oci-layout", "index.json"}:
            data = tar.extractfile(name).read()
            assert name == "blobs/sha256/" + hashlib.sha256(data).hexdigest()
    assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == [
        f"{host}/org/stack:latest",
        f"{host}/org/multi:v2",
    ]
    assert index["manifests"][1]["platform"] == {"os": "linux", "architecture": "amd64"}

    result = images.load(out, images.Target(live.url, None, "local"))
    # the same registry: it had every blob already; the tags point at the saved manifests
    assert result.pushed_blobs == 0 and result.present_blobs == 4
    assert source.resolve("org/stack:latest").ref.digest == manifest.digest
    assert source.resolve("org/multi:v2").top.digest == saved.images[1].digest


def test_load_into_an_empty_registry_pushes_every_blob_and_tags_last(live, live_tls, tmp_path):
    source = RegistryClient(live.url)
    manifest, _, _ = push_image(source, "org/airgap", "v1", "air-gapped")
    host = live.url.split("://", 1)[1]
    out = tmp_path / "a.tar"
    images.save([f"{host}/org/airgap:v1"], out, insecure_registries=[host])
    result = images.load(out, images.Target(live_tls.url, live_tls.ca_file, "local"))
    assert result.pushed_blobs == 2 and result.tags == ["org/airgap:v1"]
    target = RegistryClient(live_tls.url, ca_file=live_tls.ca_file)
    assert target.resolve("org/airgap:v1").ref.digest == manifest.digest


def test_load_pushes_with_the_cluster_s_account_and_strangers_are_refused(
    live, live_auth, tmp_path
):
    source = RegistryClient(live.url)
    manifest, _, _ = push_image(source, "org/secured", "v1", "secured")
    host = live.url.split("://", 1)[1]
    out = tmp_path / "a.tar"
    images.save([f"{host}/org/secured:v1"], out, insecure_registries=[host])
    secret = tmp_path / "registry.password"
    secret.write_text(ACCOUNT[1] + "\n")
    target = images.Target(
        live_auth.url, None, "local", username=ACCOUNT[0], password_file=str(secret)
    )
    result = images.load(out, target)
    assert result.pushed_blobs == 2 and result.tags == ["org/secured:v1"]
    member = RegistryClient(live_auth.url, username=ACCOUNT[0], password=ACCOUNT[1])
    assert member.resolve("org/secured:v1").ref.digest == manifest.digest
    # no account, or a wrong password: nothing is read or written
    with pytest.raises(RegistryError, match="credentials"):
        RegistryClient(live_auth.url, retries=0).resolve("org/secured:v1")
    with pytest.raises(RegistryError):
        RegistryClient(live_auth.url, username=ACCOUNT[0], password="wrong", retries=0).resolve(
            "org/secured:v1"
        )
    with pytest.raises(RegistryError, match="nothing was pushed"):
        images.load(out, images.Target(live_auth.url, None, "local"))


def test_load_refuses_a_pull_through_cache(tmp_path):
    with pytest.raises(UsageError, match="pull-through cache"):
        images.load(tmp_path / "x.tar", images.Target("https://node1:5443", None, "proxy"))


def test_save_of_a_missing_image_leaves_no_file(live, tmp_path):
    host = live.url.split("://", 1)[1]
    out = tmp_path / "x.tar"
    with pytest.raises(RegistryError, match="org/none"):
        images.save([f"{host}/org/none:v1"], out, insecure_registries=[host])
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the command line


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DLRS_PROVISION_STATE"}
    command = [str(Path(sys.executable).parent / "dlrs-provision"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def _cluster_inventory(folder: Path, registry: LiveRegistry) -> Path:
    """An inventory whose master runs `registry` in local mode, the CA in its state folder (where
    the images phase leaves it)."""
    port = registry.url.rsplit(":", 1)[1]
    inv = folder / "hosts.yml"
    inv.write_text(
        "all:\n  vars:\n    dlrs_registry_mode: local\n"
        f"    dlrs_registry_cache_port: {port}\n"
        "  children:\n    masters:\n      hosts:\n        m1: {ansible_host: 10.0.0.1}\n"
    )
    pki = folder / ".dlrs-provision" / "pki"
    pki.mkdir(parents=True)
    shutil.copyfile(str(registry.ca_file), pki / "ca.crt")
    (pki / "registry.password").write_text(ACCOUNT[1] + "\n")  # the registry's account
    return inv


def test_cli_save_then_load_moves_an_image_between_two_registries(live, live_tls, tmp_path):
    """`images save` from one registry (plain HTTP), `images load` into another (TLS, checked
    with the cluster's CA): the same manifest and image ID arrive; loading again pushes nothing."""
    source = RegistryClient(live.url)
    manifest, config, _ = push_image(source, "org/cli", "v3", "through the command line")
    host = live.url.split("://", 1)[1]
    archive = tmp_path / "site-images.tar"
    saved = _cli("images", "save", "--image", f"{host}/org/cli:v3", "--insecure-registry", host,
                 "-o", str(archive))  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    assert f"wrote {archive}: 1 image(s), 3 blob(s)" in saved.stdout
    assert manifest.digest[:19] in saved.stdout

    inv = _cluster_inventory(tmp_path, live_tls)
    address = live_tls.url.split("://", 1)[1]  # the controller reaches the master by address
    loaded = _cli("images", "load", str(archive), str(inv), "--registry", address)
    assert loaded.returncode == 0, loaded.stderr
    assert f"into {live_tls.url}: 2 blob(s) pushed" in loaded.stdout
    arrived = RegistryClient(live_tls.url, ca_file=live_tls.ca_file).resolve("org/cli:v3")
    assert arrived.ref.digest == manifest.digest
    assert arrived.config_digest == sha256_digest(config)

    again = _cli("images", "load", str(archive), str(inv), "--registry", address)
    assert again.returncode == 0, again.stderr
    assert "0 blob(s) pushed (0 bytes), 2 already there" in again.stdout


def test_cli_load_of_an_archive_with_a_damaged_layer_tags_nothing(live, live_tls, tmp_path):
    """A layer whose bytes no longer match its digest: the registry refuses the upload, the
    command names the image and the registry, and the tag never appears."""
    source = RegistryClient(live.url)
    _, _, layer = push_image(source, "org/damaged", "v1", "soon damaged")
    host = live.url.split("://", 1)[1]
    archive = tmp_path / "a.tar"
    images.save([f"{host}/org/damaged:v1"], archive, insecure_registries=[host])
    data = archive.read_bytes()
    start = data.index(layer)
    archive.write_bytes(data[:start] + bytes([data[start] ^ 0xFF]) + data[start + 1 :])

    inv = _cluster_inventory(tmp_path, live_tls)
    address = live_tls.url.split("://", 1)[1]
    proc = _cli("images", "load", str(archive), str(inv), "--registry", address)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{host}/org/damaged:v1 into the cluster's registry {live_tls.url}" in proc.stderr
    assert "was not tagged" in proc.stderr and "Traceback" not in proc.stderr
    target = RegistryClient(live_tls.url, ca_file=live_tls.ca_file)
    with pytest.raises(RegistryError):
        target.get_manifest("org/damaged:v1")
