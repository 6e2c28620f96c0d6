"""The cluster's registry (role registry_cache) as the nodes and the controller reach it.

One rule, used by `dlrs-provision images` and, through the filters of
ansible_plugins/filter/dlrs_settings.py, by the containerd, kubeadm_master and stack_images
roles:

- it exists when dlrs_registry_cache is true (the default) and there is a name to reach it by:
  dlrs_registry_cache_host, else the first master's inventory name;
- it listens on dlrs_registry_cache_port (its default lives in settings.py alone);
- it speaks plain HTTP only when its own host:port is listed in dlrs_insecure_registries;
- every request to it carries the one account of the cluster (htpasswd, role registry_cache):
  user REGISTRY_USER, its password generated once on the controller in the inventory's state
  folder (PASSWORD_FILE, mode 0600), never printed;
- kubeadm (and containerd's pause image) pull from dlrs_kubernetes_image_repository, else from
  the cluster's registry when it is a local one (dlrs_registry_mode: local, air-gapped), else
  from registry.k8s.io.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlrs_provision.settings import SETTINGS

DEFAULT_PORT: int = SETTINGS["dlrs_registry_cache_port"].default
KUBERNETES_REPOSITORY = "registry.k8s.io"
# The cluster's one account on its registry, and where its password lives (under the state folder).
REGISTRY_USER = "dlrs-cluster"
PASSWORD_FILE = "pki/registry.password"


def cluster_registry(
    host: str | None,
    masters: Sequence[str] = (),
    port: Any = None,
    cache: Any = True,
    insecure: Sequence[str] | None = None,
) -> dict[str, Any]:
    """{host, port, hostport, url, user}; host, hostport and url are empty without a registry."""
    port = int(port) if port not in (None, "") else DEFAULT_PORT
    name = str(host or "") or (str(masters[0]) if masters else "")
    enabled = cache is None or _truthy(cache)
    if not enabled or not name:
        return {"host": "", "port": port, "hostport": "", "url": "", "user": REGISTRY_USER}
    hostport = f"{name}:{port}"
    scheme = "http" if hostport in list(insecure or []) else "https"
    return {
        "host": name,
        "port": port,
        "hostport": hostport,
        "url": f"{scheme}://{hostport}",
        "user": REGISTRY_USER,
    }


def kubernetes_image_repository(explicit: str | None, mode: str | None, registry: dict) -> str:
    """Where kubeadm pulls the control plane and pause from (ClusterConfiguration's)."""
    if explicit:
        return str(explicit).strip()
    if (mode or "proxy") == "local" and registry.get("hostport"):
        return registry["hostport"]
    return KUBERNETES_REPOSITORY


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def password_path(state_dir: Path) -> Path:
    """The file the cluster registry's password is kept in (made by role registry_cache)."""
    return Path(state_dir) / PASSWORD_FILE
