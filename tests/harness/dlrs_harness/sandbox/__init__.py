"""`dlrs-provision sandbox`: a local cluster of test hosts plus a mirror host, for tests.

Test hosts are containers that behave like servers (systemd as PID 1, sshd, python3, sudo, apt),
reached over real SSH on 127.0.0.1 ports, on a Docker network of the sandbox's own; the mirror
host plays the site's apt proxy, registry and swupd mirror. Images are built from
tests/sandbox/ (see its README.md).

    from dlrs_harness import sandbox
    state = sandbox.up(nodes=3, os="mixed")   # writes inventory/sandbox/hosts.yml
    sandbox.status().ok
    sandbox.down()
"""

from dlrs_harness.sandbox.cli import register_cli
from dlrs_harness.sandbox.cluster import (
    DEFAULT_CLEAR_VERSION,
    DEFAULT_KUBERNETES_VERSION,
    MIRROR_CONTAINER,
    NETWORK,
    OS_CHOICES,
    DownResult,
    MirrorState,
    NodeState,
    SandboxState,
    SandboxStatus,
    down,
    plan_nodes,
    read_state,
    status,
    up,
)
from dlrs_harness.sandbox.paths import repo_root, sandbox_dir

__all__ = [
    "DEFAULT_CLEAR_VERSION",
    "DEFAULT_KUBERNETES_VERSION",
    "MIRROR_CONTAINER",
    "NETWORK",
    "OS_CHOICES",
    "DownResult",
    "MirrorState",
    "NodeState",
    "SandboxState",
    "SandboxStatus",
    "down",
    "plan_nodes",
    "read_state",
    "register_cli",
    "repo_root",
    "sandbox_dir",
    "status",
    "up",
]
