"""containerd_registry_hosts: the registries a container runtime gets a host configuration for.

One model serves containerd's hosts.toml files (one folder per registry under config_path) and
CRI-O's registries.conf.d. The rules:

- docker.io gets the mirrors, in the order given, when there are any;
- the stack registry (dlrs_upstream_registry) gets the same mirrors, less itself;
- every registry in the insecure list is reached over plain HTTP (server http://host:port);
- a mirror is plain HTTP only when its URL says http:// *and* its host:port is in the insecure
  list (anything else is refused), and an https:// mirror skips TLS verification only when its
  host:port is in that list.

The result is sorted by registry name, so the files rendered from it are stable.
"""

from __future__ import annotations

from urllib.parse import urlsplit

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # imported without Ansible (unit tests of the plain function)

    class AnsibleFilterError(ValueError):  # type: ignore[no-redef]
        pass


DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "https://registry-1.docker.io"


def _mirror(url: str, insecure: set[str]) -> dict:
    parts = urlsplit(str(url).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AnsibleFilterError(f"registry mirror {url!r} is not an http:// or https:// URL")
    host = parts.netloc
    if parts.scheme == "http" and host not in insecure:
        raise AnsibleFilterError(
            f"registry mirror {url} is plain HTTP: list {host} in dlrs_insecure_registries to "
            "allow that, or use https://"
        )
    path = parts.path.rstrip("/")
    return {
        "url": f"{parts.scheme}://{host}{path}",
        "registry": host,
        "location": f"{host}{path}",
        "http": parts.scheme == "http",
        "skip_verify": parts.scheme == "https" and host in insecure,
        "capabilities": ["pull", "resolve"],
    }


def containerd_registry_hosts(mirrors, insecure, stack_registry="") -> list[dict]:
    """[{name, server, insecure, hosts: [{url, registry, location, http, skip_verify,
    capabilities}]}] for the given mirror URLs, insecure host:port list and stack registry."""
    insecure_set = {str(r).strip() for r in (insecure or []) if str(r).strip()}
    hosts = [_mirror(url, insecure_set) for url in (mirrors or [])]
    registries: dict[str, dict] = {}
    if hosts:
        registries[DOCKER_HUB] = {
            "name": DOCKER_HUB,
            "server": DOCKER_HUB_SERVER,
            "insecure": False,
            "hosts": hosts,
        }
    stack = str(stack_registry or "").strip()
    if stack and stack != DOCKER_HUB:
        plain = stack in insecure_set
        registries[stack] = {
            "name": stack,
            "server": f"{'http' if plain else 'https'}://{stack}",
            "insecure": plain,
            "hosts": [h for h in hosts if h["registry"] != stack],
        }
    for name in sorted(insecure_set - set(registries)):
        registries[name] = {"name": name, "server": f"http://{name}", "insecure": True, "hosts": []}
    return [registries[name] for name in sorted(registries)]


class FilterModule:
    def filters(self):
        return {"containerd_registry_hosts": containerd_registry_hosts}
