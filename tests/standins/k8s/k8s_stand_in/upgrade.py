"""kubeadm upgrade plan | apply | node, as the stand-in plays them.

The version skew rules are kubeadm's EnforceVersionPolicies (kubernetes/kubernetes
cmd/kubeadm/app/phases/upgrade/policy.go): which findings are fatal, which --force lets
through, which need --allow-experimental-upgrades / --allow-release-candidate-upgrades, with
the messages kubeadm prints. Their wrapping follows cmd/kubeadm/app/cmd/upgrade/apply.go (1.31:
`[upgrade/version] FATAL: the --version argument is invalid ...`) and, from 1.32, where
`upgrade apply` runs as phases, cmd/kubeadm/app/cmd/phases/upgrade/apply/preflight.go (`error
execution phase preflight: the version argument is invalid ...`).

What `apply` changes is what the rest of the stand-in cluster reads: the image tags of the
static Pod manifests (the API endpoint stand-in takes its version, the one /version reports,
from the kube-apiserver manifest's tag, so it is restarted), the ClusterConfiguration in the
kubeadm-config ConfigMap, the kubelet-config ConfigMap and this node's
/var/lib/kubelet/config.yaml. `node` writes the kubelet configuration of the cluster to
/var/lib/kubelet/config.yaml. Nothing runs a container, so nothing is pulled or restarted
besides the API endpoint stand-in.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from k8s_stand_in import imagepull, version
from k8s_stand_in.cli import FlagSpec, parse
from k8s_stand_in.client import ApiError, Client, ConnectError
from k8s_stand_in.kubeadm_config import (
    ConfigError,
    apply_kubelet_patches,
    normalized_cluster_doc,
    resolve_kubernetes_version,
)
from k8s_stand_in.util import Root, atomic_write, yaml_dump, yaml_load

MANIFESTS = "/etc/kubernetes/manifests"
KUBERNETES_DIR = "/etc/kubernetes"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
RULE = "_____________________________________________________________________"
NOTE = "stand-in: this is the kubeadm stand-in of dlrs-provision's tests, not Kubernetes' kubeadm"

# policy.go's constants
MAX_UPGRADE_SKEW = 1
MAX_DOWNGRADE_SKEW = 1
# MaximumAllowedMinorVersionKubeletSkew: 1 until kubeadm 1.28, 3 from 1.29 (kubernetes/
# kubernetes pull 120825, "kubeadm: adjust kubeadm skew policy for upgrades")
KUBELET_SKEW_FROM_1_29 = 3


def out(line: str = "") -> None:
    print(line, flush=True)


def err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# versions as k8s.io/apimachinery/pkg/util/version parses them (ParseSemantic)

_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


@dataclass(frozen=True)
class Semver:
    major: int
    minor: int
    patch: int
    pre: str = ""

    @classmethod
    def parse(cls, text: str) -> Semver:
        m = _SEMVER.fullmatch(text.strip())
        if not m:
            raise ConfigError(f'could not parse "{text}" as version')
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4) or "")

    def less_than(self, other: Semver) -> bool:
        a, b = (self.major, self.minor, self.patch), (other.major, other.minor, other.patch)
        if a != b:
            return a < b
        # a pre-release sorts before its release
        if self.pre and not other.pre:
            return True
        if not self.pre and other.pre:
            return False
        return self.pre < other.pre

    def at_least(self, other: Semver) -> bool:
        return not self.less_than(other)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}" + (f"-{self.pre}" if self.pre else "")


def kubeadm_version() -> tuple[str, Semver]:
    text = version.current().git_version
    return text, Semver.parse(text)


def kubeadm_minor() -> int:
    return kubeadm_version()[1].minor


def phased() -> bool:
    """kubeadm 1.32 runs `upgrade apply` and `upgrade node` as phases, with their wording."""
    return kubeadm_minor() >= 32


# --------------------------------------------------------------------------------------------
# the cluster as the version getter sees it


@dataclass
class ClusterState:
    client: Client
    cluster_doc: dict[str, Any]
    kubelet_doc: dict[str, Any] | None
    server_version: str  # /version gitVersion, "v1.31.7"
    nodes: list[dict[str, Any]]

    def kubelet_versions(self) -> dict[str, str]:
        """Node name -> status.nodeInfo.kubeletVersion (nodes that never reported: none)."""
        found = {}
        for node in self.nodes:
            v = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")
            if v:
                found[node["metadata"]["name"]] = str(v)
        return found

    def control_plane_nodes(self) -> list[str]:
        return [
            n["metadata"]["name"]
            for n in self.nodes
            if "node-role.kubernetes.io/control-plane" in (n["metadata"].get("labels") or {})
        ]


def read_cluster(client: Client, need_nodes: bool = True) -> ClusterState:
    try:
        cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    except ApiError as exc:
        raise ConfigError(
            f"unable to fetch the kubeadm-config ConfigMap: failed to get config map: {exc.message}"
        ) from None
    cluster_doc = yaml_load(((cm.get("data") or {}).get("ClusterConfiguration")) or "") or {}
    if not isinstance(cluster_doc, dict) or not cluster_doc:
        raise ConfigError(
            "unable to fetch the kubeadm-config ConfigMap: the ClusterConfiguration is empty"
        )
    kubelet_doc = None
    try:
        kcm = client.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config")
        kubelet_doc = yaml_load(((kcm.get("data") or {}).get("kubelet")) or "") or None
    except ApiError as exc:
        if exc.code != 404:
            raise
    code, _, info = client.request("GET", "/version")
    if code != 200 or not isinstance(info, dict):
        raise ConfigError(
            "[upgrade/versions] FATAL: Unable to fetch cluster version: the API server "
            f"answered {code}"
        )
    nodes = (client.get("/api/v1/nodes").get("items") or []) if need_nodes else []
    return ClusterState(client, cluster_doc, kubelet_doc, str(info.get("gitVersion")), nodes)


def check_cluster_health(state: ClusterState, ignored: list[str], phase: bool) -> None:
    """CheckClusterHealth (cmd/kubeadm/app/phases/upgrade/health.go) as RunChecks reports it:
    ControlPlaneNodesReady (every control-plane Node whose Ready condition is there and not
    True is named). CreateJob, which starts a Pod, is skipped: no Pod runs here (said so)."""
    from k8s_stand_in.kubeadm import PhaseError, Preflight

    out("[upgrade] Running cluster health checks")
    err("[upgrade] stand-in: the CreateJob health check is skipped (no Pod runs here)")
    not_ready = []
    for node in state.nodes:
        if "node-role.kubernetes.io/control-plane" not in (node["metadata"].get("labels") or {}):
            continue
        for c in (node.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready" and c.get("status") != "True":
                not_ready.append(node["metadata"]["name"])
    pf = Preflight(ignored)
    pf.check(
        "ControlPlaneNodesReady",
        [],
        [f"there are NotReady control-planes in the cluster: [{' '.join(not_ready)}]"]
        if not_ready
        else [],
    )
    try:
        pf.finish()
    except PhaseError as exc:
        if phase:
            raise
        raise ConfigError(f"[upgrade/health] FATAL: {exc.message}") from None


# --------------------------------------------------------------------------------------------
# EnforceVersionPolicies


@dataclass
class SkewErrors:
    mandatory: list[str]
    skippable: list[str]


def enforce_version_policies(
    state: ClusterState, new_text: str, new: Semver, allow_experimental: bool, allow_rc: bool
) -> SkewErrors:
    mandatory: list[str] = []
    skippable: list[str] = []
    cluster_text = state.server_version
    cluster = Semver.parse(cluster_text)
    kubeadm_text, kubeadm = kubeadm_version()
    out(f"[upgrade/versions] Cluster version: {cluster_text}")
    out(f"[upgrade/versions] kubeadm version: {kubeadm_text}")

    # constants.MinimumControlPlaneVersion: the minor before kubeadm's own. The message names
    # the cluster's version where it means the minimum, as kubeadm's does.
    minimum = Semver(kubeadm.major, kubeadm.minor - 1, 0)
    if not new.at_least(minimum):
        mandatory.append(
            f'Specified version to upgrade to "{new_text}" is equal to or lower than the minimum '
            f'supported version "{cluster_text}". Please specify a higher version to upgrade to'
        )
    if new.minor > cluster.minor + MAX_UPGRADE_SKEW:
        text = (
            f'Specified version to upgrade to "{new_text}" is too high; kubeadm can upgrade only '
            f"{MAX_UPGRADE_SKEW} minor version at a time"
        )
        (skippable if new.pre else mandatory).append(text)
    if new.minor < cluster.minor - MAX_DOWNGRADE_SKEW:
        text = (
            f'Specified version to downgrade to "{new_text}" is too low; kubeadm can downgrade '
            f"only {MAX_DOWNGRADE_SKEW} minor version at a time"
        )
        (skippable if new.pre else mandatory).append(text)
    if kubeadm.less_than(new):
        if new.minor > kubeadm.minor:
            text = (
                f'Specified version to upgrade to "{new_text}" is at least one minor release '
                f"higher than the kubeadm minor release ({new.minor} > {kubeadm.minor}). Such an "
                "upgrade is not supported"
            )
            (skippable if new.pre else mandatory).append(text)
        else:
            skippable.append(
                f'Specified version to upgrade to "{new_text}" is higher than the kubeadm version '
                f'"{kubeadm_text}". Upgrade kubeadm first using the tool you used to install '
                "kubeadm"
            )
    if kubeadm.major > new.major or kubeadm.minor > new.minor:
        skippable.append(
            f"Kubeadm version {kubeadm_text} can only be used to upgrade to Kubernetes version "
            f"{kubeadm.major}.{kubeadm.minor}"
        )
    if new.pre and not allow_experimental and not (new.pre.startswith("rc") and allow_rc):
        skippable.append(
            f'Specified version to upgrade to "{new_text}" is an unstable version and such '
            "upgrades weren't allowed via setting the --allow-*-upgrades flags"
        )
    kubelet_skew = KUBELET_SKEW_FROM_1_29 if kubeadm.minor >= 29 else 1
    too_old = sorted(
        {
            v
            for v in state.kubelet_versions().values()
            if new.minor > Semver.parse(v).minor + kubelet_skew
        }
    )
    if too_old:
        skippable.append(
            "There are kubelets in this cluster that are too old that have these versions "
            f"[{' '.join(too_old)}]"
        )
    return SkewErrors(mandatory, skippable)


def format_errors(errors: list[str]) -> str:
    """kubeadmutil.FormatErrMsg: a tab, a dash and the error, one a line."""
    return "".join(f"\t- {e}\n" for e in errors)


def refuse_on_policy(skew: SkewErrors, force: bool, phase: bool) -> None:
    """The wrapping of apply.go (1.31) / phases/upgrade/apply/preflight.go (1.32)."""
    arg = "version argument" if phase else "--version argument"
    if skew.mandatory:
        message = (
            f"the {arg} is invalid due to these fatal errors:\n\n"
            f"{format_errors(skew.mandatory)}\n"
            "Please fix the misalignments highlighted above and try upgrading again"
        )
    elif skew.skippable and not force:
        message = (
            f"the {arg} is invalid due to these errors:\n\n{format_errors(skew.skippable)}\n"
            "Can be bypassed if you pass the --force flag"
        )
    else:
        if skew.skippable:
            out(
                f"[upgrade/version] Found {len(skew.skippable)} potential version compatibility "
                "errors but skipping since the --force flag is set: \n\n"
                + format_errors(skew.skippable)
            )
        return
    from k8s_stand_in.kubeadm import PhaseError

    if phase:
        raise PhaseError("preflight", message)
    raise ConfigError(f"[upgrade/version] FATAL: {message}")


# --------------------------------------------------------------------------------------------
# shared


def _admin(root: Root, path: str) -> Client:
    from k8s_stand_in.kubeadm import admin_client

    return admin_client(root, path)


def _reading_config_lines(node: bool = False) -> None:
    if phased():
        out(
            '[upgrade] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
            '"kube-system"...'
        )
        out(
            "[upgrade] Use 'kubeadm init phase upload-config --config your-config.yaml' to "
            "re-upload it."
        )
        return
    prefix = "[upgrade]" if node else "[upgrade/config]"
    out(f"{prefix} Reading configuration from the cluster...")
    out(
        f"{prefix} FYI: You can look at this config file with 'kubectl -n kube-system get cm "
        "kubeadm-config -o yaml'"
    )


def normalize_target(text: str) -> tuple[str, Semver]:
    """NormalizeKubernetesVersion: labels fall back offline as for init; v added."""
    resolved = resolve_kubernetes_version(text)
    return resolved, Semver.parse(resolved)


def _tmp_dir(root: Root, prefix: str) -> tuple[Path, str]:
    """A directory under /etc/kubernetes/tmp named like kubeadm's (os.MkdirTemp)."""
    base = root.path(f"{KUBERNETES_DIR}/tmp")
    base.mkdir(parents=True, exist_ok=True)
    made = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    return made, f"{KUBERNETES_DIR}/tmp/{made.name}"


def write_kubelet_config(root: Root, config: dict[str, Any], patches: str) -> None:
    """upgrade.WriteKubeletConfigFiles: back up the old file, write the cluster's."""
    config = apply_kubelet_patches(root, patches, copy.deepcopy(config), out)
    current = root.path(KUBELET_CONFIG)
    made, shown = _tmp_dir(root, "kubeadm-kubelet-config")
    if current.is_file():
        out(f"[upgrade] Backing up kubelet config file to {shown}/config.yaml")
        atomic_write(made / "config.yaml", current.read_bytes())
    out(f'[kubelet-start] Writing kubelet configuration to file "{KUBELET_CONFIG}"')
    atomic_write(current, yaml_dump(config))


# --------------------------------------------------------------------------------------------
# kubeadm upgrade plan

PLAN_FLAGS = {
    "kubeconfig": FlagSpec(default=f"{KUBERNETES_DIR}/admin.conf"),
    "allow-experimental-upgrades": FlagSpec("bool"),
    "allow-release-candidate-upgrades": FlagSpec("bool"),
    "allow-missing-template-keys": FlagSpec("bool"),
    "config": FlagSpec(),
    "etcd-upgrade": FlagSpec("bool", default=True),
    "ignore-preflight-errors": FlagSpec("csv"),
    "output": FlagSpec("str", "o"),
    "print-config": FlagSpec("bool"),
    "show-managed-fields": FlagSpec("bool"),
}


def _tab(rows: list[list[str]]) -> list[str]:
    """text/tabwriter with padding 3, as kubeadm's plan printer; the last cell unpadded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        "".join(cell.ljust(widths[i] + 3) for i, cell in enumerate(r[:-1])) + r[-1] for r in rows
    ]


def cmd_plan(root: Root, argv: list[str]) -> int:
    p = parse(argv, PLAN_FLAGS)
    if p.get("config"):
        raise ConfigError("stand-in does not implement `kubeadm upgrade plan --config`")
    if p.get("output"):
        raise ConfigError("stand-in does not implement `kubeadm upgrade plan -o`")
    if len(p.args) > 1:
        raise ConfigError(f'unknown command {p.args[1]!r} for "kubeadm upgrade plan"')
    err(NOTE)
    out("[preflight] Running pre-flight checks.")
    if phased():
        out(
            '[upgrade/config] Reading configuration from the "kubeadm-config" ConfigMap in '
            'namespace "kube-system"...'
        )
        out(
            "[upgrade/config] Use 'kubeadm init phase upload-config --config your-config.yaml' "
            "to re-upload it."
        )
    else:
        _reading_config_lines()
    client = _admin(root, p.get("kubeconfig"))
    try:
        state = read_cluster(client)
        check_cluster_health(state, list(p.get("ignore-preflight-errors")), phased())
        out("[upgrade] Fetching available versions to upgrade to")
        cluster = Semver.parse(state.server_version)
        kubeadm_text, kubeadm = kubeadm_version()
        if p.args:
            target_text, target = normalize_target(p.args[0])
        else:
            err(
                "[upgrade/versions] stand-in: no release list can be fetched here; the target "
                "is kubeadm's own version"
            )
            target_text, target = normalize_target("stable-1")
        out(f"[upgrade/versions] Cluster version: {str(cluster).lstrip('v')}")
        out(f"[upgrade/versions] kubeadm version: {kubeadm_text}")
        out(f"[upgrade/versions] Target version: {target_text}")
        # Stand-in choice: the real plan offers what its release list holds and leaves the
        # skew rules to `apply`; here a target that `apply` would refuse is refused at once.
        skew = _quiet_policies(state, target_text, target, p)
        if skew.mandatory or skew.skippable:
            refuse_on_policy(skew, False, phased())
        out("")
        if not cluster.less_than(target):  # compute.go offers only newer versions
            out("Awesome, you're up-to-date! Enjoy!")
            return 0
        _print_plan(state, cluster, target_text, target, kubeadm, bool(p.get("etcd-upgrade")))
    except ConnectError as exc:
        raise ConfigError(exc.go_error()) from None
    finally:
        client.close()
    return 0


def _quiet_policies(state: ClusterState, text: str, target: Semver, p: Any) -> SkewErrors:
    """The policies without their two version lines (plan prints its own)."""
    saved = sys.stdout
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closed below
        return enforce_version_policies(
            state,
            text,
            target,
            bool(p.get("allow-experimental-upgrades")),
            bool(p.get("allow-release-candidate-upgrades")),
        )
    finally:
        sys.stdout.close()
        sys.stdout = saved


def _print_plan(
    state: ClusterState,
    cluster: Semver,
    target_text: str,
    target: Semver,
    kubeadm: Semver,
    etcd_upgrade: bool,
) -> None:
    kubelets = [
        ["kubelet", name, v, target_text]
        for name, v in sorted(state.kubelet_versions().items())
        if v != target_text
    ]
    out(
        "Components that must be upgraded manually after you have upgraded the control plane "
        "with 'kubeadm upgrade apply':"
    )
    for line in _tab([["COMPONENT", "NODE", "CURRENT", "TARGET"], *kubelets]):
        out(line)
    out("")
    if target.minor == cluster.minor:
        out(f"Upgrade to the latest version in the v{cluster.major}.{cluster.minor} series:")
    else:
        out("Upgrade to the latest stable version:")
    out("")
    masters = state.control_plane_nodes() or [""]
    _, now_etcd, now_dns = imagepull._pins(str(cluster))
    _, new_etcd, new_dns = imagepull._pins(target_text)
    rows = [["COMPONENT", "NODE", "CURRENT", "TARGET"]]
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        rows += [[component, m, str(cluster), target_text] for m in masters]
    rows.append(["kube-proxy", "", str(cluster).lstrip("v"), target_text])
    rows.append(["CoreDNS", "", now_dns, new_dns])
    if etcd_upgrade:
        rows += [["etcd", m, now_etcd, new_etcd] for m in masters]
    for line in _tab(rows):
        out(line)
    out("")
    out("You can now apply the upgrade by executing the following command:")
    out("")
    out(f"\tkubeadm upgrade apply {target_text}")
    out("")
    if kubeadm.less_than(target):
        out(
            "Note: Before you can perform this upgrade, you have to update kubeadm to "
            f"{target_text}."
        )
        out("")
    out(RULE)
    out("")
    out("")
    out(
        "The table below shows the current state of component configs as understood by this "
        "version of kubeadm."
    )
    out(
        'Configs that have a "yes" mark in the "MANUAL UPGRADE REQUIRED" column require manual '
        "config upgrade or"
    )
    out(
        "resetting to kubeadm defaults before a successful upgrade can be performed. The version "
        "to manually"
    )
    out('upgrade to is denoted in the "PREFERRED VERSION" column.')
    out("")
    for line in _tab(
        [
            ["API GROUP", "CURRENT VERSION", "PREFERRED VERSION", "MANUAL UPGRADE REQUIRED"],
            ["kubeproxy.config.k8s.io", "v1alpha1", "v1alpha1", "no"],
            ["kubelet.config.k8s.io", "v1beta1", "v1beta1", "no"],
        ]
    ):
        out(line)
    out(RULE)
    out("")


# --------------------------------------------------------------------------------------------
# kubeadm upgrade apply

APPLY_FLAGS = {
    "kubeconfig": FlagSpec(default=f"{KUBERNETES_DIR}/admin.conf"),
    "yes": FlagSpec("bool", "y"),
    "force": FlagSpec("bool", "f"),
    "dry-run": FlagSpec("bool"),
    "config": FlagSpec(),
    "certificate-renewal": FlagSpec("bool", default=True),
    "etcd-upgrade": FlagSpec("bool", default=True),
    "allow-experimental-upgrades": FlagSpec("bool"),
    "allow-release-candidate-upgrades": FlagSpec("bool"),
    "ignore-preflight-errors": FlagSpec("csv"),
    "patches": FlagSpec(default=""),
    "print-config": FlagSpec("bool"),
    "skip-phases": FlagSpec("csv"),
}


def _confirm(prompt: str) -> None:
    """InteractivelyConfirmAction: anything but y/Y (or no answer) stops the upgrade."""
    print(prompt, end="", flush=True)
    answer = sys.stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        from k8s_stand_in.kubeadm import PhaseError

        message = "won't proceed; the user didn't answer (Y|y) in order to continue"
        if phased():
            raise PhaseError("preflight", message)
        raise ConfigError(message)


def _image_tag_of(path: Path) -> str:
    pod = yaml_load(path.read_text()) or {}
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return str(containers[0].get("image", "")).rsplit(":", 1)[-1]


def _retag(path: Path, tag: str) -> str:
    pod = yaml_load(path.read_text()) or {}
    container = pod["spec"]["containers"][0]
    image = str(container.get("image", ""))
    container["image"] = f"{image.rsplit(':', 1)[0]}:{tag}"
    return yaml_dump(pod)


def upgrade_static_pods(root: Root, target_text: str, etcd_upgrade: bool) -> bool:
    """StaticPodControlPlane: each component's new manifest is written to a temporary folder,
    the old one is backed up, the new one moved in; equal manifests are left alone. True when
    the kube-apiserver manifest changed."""
    out(
        "[upgrade/control-plane] Upgrading your static Pod-hosted control plane to version "
        f'"{target_text}" (timeout: 5m0s)...'
    )
    upgraded, upgraded_shown = _tmp_dir(root, "kubeadm-upgraded-manifests")
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    backup_shown = f"{KUBERNETES_DIR}/tmp/kubeadm-backup-manifests-{stamp}"
    backup = root.path(backup_shown)
    out(f'[upgrade/staticpods] Writing new Static Pod manifests to "{upgraded_shown}"')
    _, new_etcd, _ = imagepull._pins(target_text)
    api_changed = False
    for component in COMPONENTS:
        path = root.path(f"{MANIFESTS}/{component}.yaml")
        if not path.is_file():
            continue
        current_tag = _image_tag_of(path)
        if component == "etcd":
            if not etcd_upgrade:
                continue
            if _etcd_not_newer(new_etcd, current_tag):
                out(
                    "[upgrade/etcd] Non fatal issue encountered during upgrade: the desired etcd "
                    f'version "{new_etcd}" is not newer than the currently installed '
                    f'"{current_tag}". Skipping etcd upgrade'
                )
                continue
            new_tag = new_etcd
        else:
            new_tag = target_text
        text = _retag(path, new_tag)
        atomic_write(upgraded / f"{component}.yaml", text, 0o600)
        if text == path.read_text():
            out(
                f"[upgrade/staticpods] Current and new manifests of {component} are equal, "
                "skipping upgrade"
            )
            continue
        out(f'[upgrade/staticpods] Preparing for "{component}" upgrade')
        atomic_write(backup / f"{component}.yaml", path.read_bytes(), 0o600)
        out(
            f'[upgrade/staticpods] Moving new manifest to "{MANIFESTS}/{component}.yaml" and '
            f'backing up old manifest to "{backup_shown}/{component}.yaml"'
        )
        atomic_write(path, text, 0o600)
        out("[upgrade/staticpods] Waiting for the kubelet to restart the component")
        out("[upgrade/staticpods] This can take up to 5m0s")
        if component == "kube-apiserver":
            api_changed = True
        out(f'[upgrade/staticpods] Component "{component}" upgraded successfully!')
    return api_changed


def _etcd_not_newer(desired: str, current: str) -> bool:
    def key(tag: str) -> tuple[int, ...]:
        nums = re.findall(r"\d+", tag)
        return tuple(int(n) for n in nums)

    return key(desired) <= key(current)


def cmd_apply(root: Root, argv: list[str]) -> int:
    from k8s_stand_in.kubeadm import PhaseError, put_configmap, start_apiserver, wait_api

    p = parse(argv, APPLY_FLAGS)
    if p.get("config"):
        raise ConfigError("stand-in does not implement `kubeadm upgrade apply --config`")
    if p.get("dry-run"):
        raise ConfigError("stand-in does not implement `kubeadm upgrade apply --dry-run`")
    if p.get("skip-phases"):
        raise ConfigError("stand-in does not implement `kubeadm upgrade apply --skip-phases`")
    if len(p.args) != 1:
        raise ConfigError(
            "missing one or more required arguments. Required arguments: [version]"
            if not p.args
            else f'unknown command {p.args[1]!r} for "kubeadm upgrade apply"'
        )
    target_text, target = normalize_target(p.args[0])
    force = bool(p.get("force"))
    err(NOTE)
    if phased():
        _reading_config_lines()
        out("[upgrade/preflight] Running preflight checks")
    else:
        out("[preflight] Running pre-flight checks.")
        _reading_config_lines()
    client = _admin(root, p.get("kubeconfig"))
    try:
        state = read_cluster(client)
        check_cluster_health(state, list(p.get("ignore-preflight-errors")), phased())
        if phased():
            out(
                "[upgrade/preflight] You have chosen to upgrade the cluster version to "
                f'"{target_text}"'
            )
        else:
            out(
                "[upgrade/version] You have chosen to change the cluster version to "
                f'"{target_text}"'
            )
        skew = enforce_version_policies(
            state,
            target_text,
            target,
            bool(p.get("allow-experimental-upgrades")),
            bool(p.get("allow-release-candidate-upgrades")),
        )
        refuse_on_policy(skew, force, phased())
        if not (p.get("yes") or force):
            _confirm(
                "[upgrade] Are you sure you want to proceed? [y/N]: "
                if phased()
                else "[upgrade/confirm] Are you sure you want to proceed with the upgrade? [y/N]: "
            )
        prefix = "[upgrade/preflight]" if phased() else "[upgrade/prepull]"
        out(f"{prefix} Pulling images required for setting up a Kubernetes cluster")
        out(
            f"{prefix} This might take a minute or two, depending on the speed of your internet "
            "connection"
        )
        out(
            f"{prefix} You can also perform this action beforehand using 'kubeadm config "
            "images pull'"
        )
        _image_check(root, state.cluster_doc, target_text, list(p.get("ignore-preflight-errors")))

        api_changed = upgrade_static_pods(root, target_text, bool(p.get("etcd-upgrade")))
        if p.get("certificate-renewal"):
            err(
                "[upgrade/staticpods] stand-in: certificates are not renewed (the stand-in's "
                "are valid for a year from init)"
            )
        client.close()
        if api_changed:
            start_apiserver(root)
        client = _admin(root, p.get("kubeconfig"))
        wait_api(client, 60, root)
        out(
            "[upgrade/control-plane] The control plane instance for this node was "
            "successfully upgraded!"
        )

        doc = _upgraded_cluster_doc(state.cluster_doc, target_text)
        out(
            '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the '
            '"kube-system" Namespace'
        )
        put_configmap(
            client, "kube-system", "kubeadm-config", {"ClusterConfiguration": yaml_dump(doc)}
        )
        if state.kubelet_doc is not None:
            out(
                '[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with '
                "the configuration for the kubelets in the cluster"
            )
            put_configmap(
                client, "kube-system", "kubelet-config", {"kubelet": yaml_dump(state.kubelet_doc)}
            )
            write_kubelet_config(root, state.kubelet_doc, p.get("patches"))
            if phased():
                out(
                    "[upgrade/kubelet-config] The kubelet configuration for this node was "
                    "successfully upgraded!"
                )
        err("[addons] stand-in: CoreDNS and kube-proxy are not deployed, so not upgraded")
    except ApiError as exc:
        raise PhaseError(
            "control-plane", f"stand-in: the API endpoint stand-in refused a request: {exc.message}"
        ) from None
    except ConnectError as exc:
        raise ConfigError(exc.go_error()) from None
    finally:
        client.close()
    out("")
    if phased():
        out(
            "[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "
            f'"{target_text}".'
        )
        out("")
        out(
            "[upgrade] Now please proceed with upgrading the rest of the nodes by following the "
            "right order."
        )
    else:
        out(f'[upgrade/successful] SUCCESS! Your cluster was upgraded to "{target_text}". Enjoy!')
        out("")
        out(
            "[upgrade/kubelet] Now that your control plane is upgraded, please proceed with "
            "upgrading your kubelets if you haven't already done so."
        )
    return 0


def _image_check(root: Root, cluster_doc: dict[str, Any], target: str, ignored: list[str]) -> None:
    """The prepull of `upgrade apply`: the images of the target version must be in their
    registry (asked as `kubeadm init` asks, imagepull.py); ImagePull errors are fatal unless
    ignored."""
    from k8s_stand_in.kubeadm import PhaseError, Preflight

    pf = Preflight(ignored)
    cfg = SimpleNamespace(cluster_doc=cluster_doc, kubernetes_version=target, image_pull_policy="")
    imagepull.run_init_check(root, cfg, pf.check)
    try:
        pf.finish()
    except PhaseError as exc:
        if phased():
            raise
        raise ConfigError(exc.message) from None  # 1.31 returns RunPullImagesCheck's error


def _upgraded_cluster_doc(doc: dict[str, Any], target: str) -> dict[str, Any]:
    """The stored ClusterConfiguration at the new version, in the newest config API this kubeadm
    serves (a v1beta3 document of 1.30 comes back as v1beta4 from 1.31)."""
    networking = doc.get("networking") or {}
    return normalized_cluster_doc(
        doc,
        target,
        str(networking.get("serviceSubnet") or "10.96.0.0/12"),
        str(networking.get("podSubnet") or ""),
        str(doc.get("certificatesDir") or "/etc/kubernetes/pki"),
        str(doc.get("encryptionAlgorithm") or "RSA-2048"),
    )


# --------------------------------------------------------------------------------------------
# kubeadm upgrade node

NODE_FLAGS = {
    "kubeconfig": FlagSpec(default=f"{KUBERNETES_DIR}/kubelet.conf"),
    "dry-run": FlagSpec("bool"),
    "certificate-renewal": FlagSpec("bool", default=True),
    "etcd-upgrade": FlagSpec("bool", default=True),
    "ignore-preflight-errors": FlagSpec("csv"),
    "patches": FlagSpec(default=""),
    "skip-phases": FlagSpec("csv"),
    "config": FlagSpec(),
}


def cmd_node(root: Root, argv: list[str]) -> int:
    from k8s_stand_in.kubeadm import admin_client

    p = parse(argv, NODE_FLAGS)
    if p.get("dry-run") or p.get("config") or p.get("skip-phases"):
        raise ConfigError(
            "stand-in does not implement `kubeadm upgrade node` with --dry-run, --config or "
            "--skip-phases"
        )
    if p.args:
        raise ConfigError(f'unknown command {p.args[0]!r} for "kubeadm upgrade node"')
    if root.path(f"{MANIFESTS}/kube-apiserver.yaml").is_file():
        raise ConfigError(
            "stand-in does not implement `kubeadm upgrade node` on a control-plane node (one "
            "master only: use `kubeadm upgrade apply`)"
        )
    err(NOTE)
    path = p.get("kubeconfig")
    try:
        client = admin_client(root, path)
    except ConfigError:
        raise ConfigError(
            f'couldn\'t create a Kubernetes client from file "{path}": failed to load admin '
            f"kubeconfig: open {path}: no such file or directory"
        ) from None
    try:
        _reading_config_lines(node=True)
        state = read_cluster(client, need_nodes=False)
        cluster_version = str(state.cluster_doc.get("kubernetesVersion") or state.server_version)
        cluster = Semver.parse(cluster_version)
        kubeadm_text, kubeadm = kubeadm_version()
        # the configuration kubeadm fetches is checked as at init (NormalizeKubernetesVersion)
        minimum = Semver(kubeadm.major, kubeadm.minor - 1, 0)
        if cluster.less_than(minimum):
            raise ConfigError(
                "this version of kubeadm only supports deploying clusters with the control plane "
                f"version >= {minimum.major}.{minimum.minor}.0. Current version: {cluster_version}"
            )
        # Own check of the stand-in: the real kubeadm writes whatever kubelet configuration the
        # cluster holds; the stand-in refuses a kubeadm of an older minor than the cluster,
        # which means the package upgrade was skipped.
        if kubeadm.minor < cluster.minor:
            raise ConfigError(
                f"stand-in: kubeadm {kubeadm_text} is older than the cluster ({cluster_version}): "
                "upgrade the kubeadm package on this node first"
            )
        pre = "[upgrade/preflight]" if phased() else "[preflight]"
        out(f"{pre} Running pre-flight checks")
        out(f"{pre} Skipping prepull. Not a control plane node.")
        skip = "[upgrade/control-plane]" if phased() else "[upgrade]"
        out(f"{skip} Skipping phase. Not a control plane node.")
        out(
            f"{'[upgrade/kubeconfig]' if phased() else '[upgrade]'} Skipping phase. Not a "
            "control plane node."
        )
        if state.kubelet_doc is None:
            raise ConfigError('failed to get config map: configmaps "kubelet-config" not found')
        write_kubelet_config(root, state.kubelet_doc, p.get("patches"))
        if phased():
            out(
                "[upgrade/kubelet-config] The kubelet configuration for this node was "
                "successfully upgraded!"
            )
            out("[upgrade/addon] Skipping the addon/coredns phase. Not a control plane node.")
            out("[upgrade/addon] Skipping the addon/kube-proxy phase. Not a control plane node.")
    except ConnectError as exc:
        raise ConfigError(exc.go_error()) from None
    except ApiError as exc:
        raise ConfigError(f"unable to fetch the kubeadm-config ConfigMap: {exc.message}") from None
    finally:
        client.close()
    out("[upgrade] The configuration for this node was successfully updated!")
    out(
        "[upgrade] Now you should go ahead and upgrade the kubelet package using your "
        "package manager."
    )
    return 0


# --------------------------------------------------------------------------------------------

SUBCOMMANDS = {"plan": cmd_plan, "apply": cmd_apply, "node": cmd_node}


def cmd_upgrade(root: Root, argv: list[str]) -> int:
    if not argv or argv[0] not in SUBCOMMANDS:
        if argv and argv[0] == "diff":
            raise ConfigError("stand-in does not implement 'kubeadm upgrade diff'")
        raise ConfigError(
            'Usage: kubeadm upgrade [command]: "plan", "apply" or "node" (stand-in: "diff" is '
            "not implemented)"
        )
    return SUBCOMMANDS[argv[0]](root, argv[1:])
