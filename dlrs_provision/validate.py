"""Checks of a loaded inventory: everything Ansible accepts but the cluster build cannot use.

`inventory.load` runs `check` on every inventory it loads; each check returns Problems (file,
line, field, fix), all of them at once, before any host is touched.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import shlex
from collections.abc import Iterator

from dlrs_provision import catalog, clearlinux_kubernetes, openpgp
from dlrs_provision.clearlinux_kubernetes import DEFAULT_KUBERNETES_VERSION
from dlrs_provision.errors import Problem
from dlrs_provision.inventory import MASTERS, WORKERS, Inventory, Var, VaultValue, is_templated
from dlrs_provision.settings import SETTINGS


def check(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    root = str(inv.sources[0] if inv.sources else inv.path)
    add_group = "add `masters:` with one host under `all: children:` (INI: a [masters] section)"
    if MASTERS not in inv.groups:
        problems.append(Problem(root, "no `masters` group", fix=add_group, field=MASTERS))
    else:
        masters = inv.masters
        grp = inv.groups[MASTERS]
        if not masters:
            problems.append(
                Problem(
                    grp.origin.file,
                    "the `masters` group has no host",
                    fix="put exactly one host in masters",
                    line=grp.origin.line,
                    where=f"group {MASTERS}",
                )
            )
        elif len(masters) > 1:
            places = ", ".join(f"{h} ({inv.hosts[h].origins[0]})" for h in masters)
            problems.append(
                Problem(
                    grp.origin.file,
                    f"{len(masters)} hosts in `masters`: {places}",
                    fix="keep exactly one master (this toolkit builds one control-plane node); "
                    "move the others to `workers`",
                    line=grp.origin.line,
                    where=f"group {MASTERS}",
                )
            )
    workers = set(inv.workers)
    for name in inv.masters:
        if name in workers:
            origin = inv.hosts[name].origins[-1]
            problems.append(
                Problem(
                    origin.file,
                    "host is in both `masters` and `workers`",
                    fix="remove it from one of the two groups",
                    line=origin.line,
                    where=f"host {name}",
                )
            )

    problems += _check_node_names(inv)
    problems += _check_connection(inv)

    seen: dict[tuple[str, int], str] = {}
    for name in inv.hosts:
        hv = inv.host_vars(name)
        addr = hv["ansible_host"].value if "ansible_host" in hv else name
        port_var = hv.get("ansible_port")
        port = port_var.value if port_var else 22
        if port_var is not None and _unknowable(inv, port_var, "ansible_port"):
            continue
        if is_templated(addr) or isinstance(addr, VaultValue) or not isinstance(addr, str):
            continue  # known only on the run, or reported by _check_connection
        if port_var and (
            isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
        ):
            problems.append(
                Problem(
                    port_var.origin.file,
                    f"port {port!r} is not a TCP port",
                    fix="give a whole number from 1 to 65535",
                    line=port_var.origin.line,
                    where=f"host {name}",
                    field="ansible_port",
                )
            )
            continue
        conn = hv.get("ansible_connection")
        if conn is not None and conn.value == "local":
            continue  # no address: the controller itself
        key = (str(addr), port)
        if key in seen:
            origin = inv.hosts[name].origins[0]
            problems.append(
                Problem(
                    origin.file,
                    f"same address and port as host {seen[key]} ({addr}:{port})",
                    fix="give each host its own ansible_host (or ansible_port)",
                    line=origin.line,
                    where=f"host {name}",
                    field="ansible_host",
                )
            )
        seen.setdefault(key, name)

    # every dlrs_ value, wherever it is set; a vault value anywhere is noted as not checked
    for where, var_map in _all_var_maps(inv):
        for key, var in var_map.items():
            if isinstance(var.value, VaultValue):
                _unknowable(inv, var, key)
            if not key.startswith("dlrs_"):
                continue
            problems += _check_setting(inv, key, var, where)
    problems += _check_registry(inv)
    problems += _check_kubeflow(inv)
    problems += _check_clearlinux_kubernetes(inv)

    # cross-field: the pin must not be below the minimum
    for name in inv.hosts:
        pin = inv.setting(name, "dlrs_clearlinux_version")
        low = inv.setting(name, "dlrs_clearlinux_min_version")
        if (
            isinstance(pin, int)
            and isinstance(low, int)
            and not isinstance(pin, bool)
            and pin < low
        ):
            problems.append(
                _setting_problem(
                    inv,
                    name,
                    "dlrs_clearlinux_version",
                    f"pinned version {pin} is below dlrs_clearlinux_min_version {low}",
                    fix=f"pin {low} or newer, or lower the minimum (not below 26240)",
                )
            )
        image = inv.setting(name, "dlrs_image")
        chosen = inv.setting(name, "dlrs_variant")
        built = catalog.image_variant(image) if isinstance(image, str) else None
        if built and chosen in catalog.VARIANTS and built != chosen:
            problems.append(
                _setting_problem(
                    inv,
                    name,
                    "dlrs_image",
                    f"image {image} is the {built} build, but dlrs_variant is "
                    f"{chosen}: the tuning would not fit the image",
                    fix=f"set dlrs_variant: {built} where this image is used",
                )
            )
        mirror = inv.setting(name, "dlrs_clearlinux_mirror")
        if (
            isinstance(mirror, str)
            and mirror.startswith("http://")
            and inv.setting(name, "dlrs_clearlinux_allow_insecure_http") is not True
        ):
            problems.append(
                _setting_problem(
                    inv,
                    name,
                    "dlrs_clearlinux_mirror",
                    f"the swupd mirror {mirror} is plain HTTP, which swupd refuses",
                    fix="serve the mirror over https://, or set "
                    "dlrs_clearlinux_allow_insecure_http: true",
                )
            )
        problems += _check_pod_network(inv, name)
        problems += _check_key_urls(inv, name)
        problems += _check_networks(inv, name)
    return _dedupe(problems)


# kubeadm names the node after the host (lower-cased) or after the role's override, and
# refuses what is not a DNS-1123 subdomain, on the host, halfway through the Kubernetes phase.
_NODE_NAME_KEYS = {MASTERS: "kubeadm_master_node_name", WORKERS: "kubeadm_worker_node_name"}
# The host name is also a file name (fact cache, artifacts) and a word in commands
_SAFE_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _node_name_problem(name: str) -> str | None:
    if len(name) > 253:
        return f"cannot be a Kubernetes node name: it is {len(name)} characters long (at most 253)"
    if not _NODE_NAME.match(name):
        return (
            "cannot be a Kubernetes node name (lowercase letters, digits, '-' and '.', each "
            "dot-separated part starting and ending with a letter or digit)"
        )
    if any(len(label) > 63 for label in name.split(".")):
        return "cannot be a Kubernetes node name: a dot-separated part is over 63 characters"
    return None


def _check_node_names(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    for name, host in inv.hosts.items():
        origin = host.origins[0]
        if not _SAFE_HOST.match(name) or ".." in name:
            problems.append(
                Problem(
                    origin.file,
                    f"host name {name!r} holds characters a host name cannot have (only "
                    "letters, digits, '-', '_' and '.'; no spaces, ';', '/' or '..'): it names "
                    "files and appears in commands",
                    fix=f"rename the host, e.g. {_node_name_hint(name)!r} (keep its address "
                    "in ansible_host)",
                    line=origin.line,
                    where=f"host {name}",
                )
            )
            continue
        hv = inv.host_vars(name)
        for group, key in _NODE_NAME_KEYS.items():
            if group not in host.groups:
                continue
            var = hv.get(key)
            if var is None:
                wrong = _node_name_problem(name.lower())
                if wrong:
                    problems.append(
                        Problem(
                            origin.file,
                            f"host name {name!r} {wrong}",
                            fix=f"rename the host, e.g. {_node_name_hint(name)!r} (keep its "
                            f"address in ansible_host), or set {key}",
                            line=origin.line,
                            where=f"host {name}",
                        )
                    )
                continue
            if _unknowable(inv, var, key):
                continue
            value = var.value
            wrong = (
                _node_name_problem(value)
                if isinstance(value, str)
                else f"is {_kind(value)}, not a string"
            )
            if wrong:
                problems.append(
                    Problem(
                        var.origin.file,
                        f"the node name {value!r} {wrong}",
                        fix=f"set {key} to a name such as {_node_name_hint(str(value))!r}",
                        line=var.origin.line,
                        where=var.level,
                        field=key,
                    )
                )
    return problems


def _unknowable(inv: Inventory, var: Var, key: str) -> bool:
    """A template or a vault value: legal, known only on the run. Noted once, not refused."""
    if isinstance(var.value, VaultValue):
        what = "vault-encrypted"
    elif is_templated(var.value) or (
        isinstance(var.value, list) and any(is_templated(v) for v in var.value)
    ):
        what = "a template"
    else:
        return False
    note = Problem(
        var.origin.file,
        f"is {what}: not checked before the run (Ansible resolves it)",
        line=var.origin.line,
        where=var.level,
        field=key,
    )
    if note not in inv.notes:
        inv.notes.append(note)
    return True


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"a {type(value).__name__}"


_SSH_ARGS = (
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_ssh_args",
    "ansible_scp_extra_args",
    "ansible_sftp_extra_args",
)


def _check_connection(inv: Inventory) -> list[Problem]:
    """ansible_host is one address; ssh arguments split as a shell would (preflight's reach
    check and Ansible both split them)."""
    problems: list[Problem] = []
    for name in inv.hosts:
        hv = inv.host_vars(name)
        for key in ("ansible_host", "ansible_ssh_host"):
            var = hv.get(key)
            if var is None or _unknowable(inv, var, key):
                continue
            value = var.value
            if not isinstance(value, str) or not value.strip():
                wrong = f"is {_kind(value)}, not one address"
            elif any(c.isspace() or ord(c) < 32 or c in "'\";`$|&<>" for c in value):
                wrong = f"is {value!r}: an address has no spaces, quotes or shell characters"
            else:
                continue
            problems.append(
                Problem(
                    var.origin.file,
                    wrong,
                    fix="give one host name or IP address (another host is another inventory "
                    "entry)",
                    line=var.origin.line,
                    where=var.level,
                    field=key,
                )
            )
        for key in _SSH_ARGS:
            var = hv.get(key)
            if var is None or var.value is None or _unknowable(inv, var, key):
                continue
            if not isinstance(var.value, str):
                wrong = f"is {_kind(var.value)}, not a string of ssh options"
            else:
                try:
                    shlex.split(var.value)
                    continue
                except ValueError as exc:
                    wrong = f"does not split into ssh arguments ({exc}): {var.value!r}"
            problems.append(
                Problem(
                    var.origin.file,
                    wrong,
                    fix='balance the quotes, e.g. -o ProxyCommand="ssh -W %h:%p jump"',
                    line=var.origin.line,
                    where=var.level,
                    field=key,
                )
            )
    return problems


# (key URL setting, repository URL setting it defaults from, what) of each downloaded key
_REPO_KEYS = (
    ("dlrs_docker_repo_key_url", "dlrs_docker_repo_url", "the signing key of Docker's repository"),
    (
        "dlrs_kubernetes_repo_key_url",
        "dlrs_kubernetes_repo_url",
        "the signing key of the Kubernetes repositories",
    ),
)


def _check_key_urls(inv: Inventory, name: str) -> list[Problem]:
    """A repository signing key comes over https:// (or from a file on the node); over plain
    HTTP only with dlrs_repo_keys_allow_http. Without a key URL the key is the repository's own,
    so an http:// repository means an http:// key."""
    allow_http = inv.setting(name, "dlrs_repo_keys_allow_http") is True
    hv = inv.host_vars(name)
    problems = []
    for key_setting, repo_setting, what in _REPO_KEYS:
        given = key_setting if hv.get(key_setting) is not None else repo_setting
        url = inv.setting(name, given)
        if given not in hv or not isinstance(url, str) or SETTINGS[given].check(url):
            continue  # not given here, or wrong in itself (its own problem says so)
        problem = openpgp.url_problem(url, allow_http, what)
        if problem:
            problems.append(_setting_problem(inv, name, given, problem, fix=openpgp.URL_FIX))
    return problems


_NETWORKS = ("dlrs_pod_network_cidr", "dlrs_service_cidr")


def _check_networks(inv: Inventory, name: str) -> list[Problem]:
    """The pod network, the service network and the node's own address must not overlap:
    kubeadm accepts it, and the cluster then routes pods, services or nodes to the wrong place."""
    hv = inv.host_vars(name)
    nets: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}
    for key in _NETWORKS:
        value = inv.setting(name, key)
        if not isinstance(value, str) or SETTINGS[key].check(value):
            return []  # reported as a wrong value already (or templated)
        nets[key] = ipaddress.ip_network(value)
    given = [k for k in _NETWORKS if k in hv]
    pod, service = nets["dlrs_pod_network_cidr"], nets["dlrs_service_cidr"]
    problems: list[Problem] = []
    if given and pod.version == service.version and pod.overlaps(service):
        problems.append(
            _setting_problem(
                inv,
                name,
                given[0],
                f"the pod network dlrs_pod_network_cidr {pod} overlaps the service network "
                f"dlrs_service_cidr {service}",
                fix="give the two networks ranges that share no address (the defaults are "
                "10.244.0.0/16 and 10.96.0.0/12)",
            )
        )
    if name not in inv.masters and name not in inv.workers:
        return problems
    addr_var = hv.get("ansible_host")
    try:
        addr = ipaddress.ip_address(str(addr_var.value if addr_var else name))
    except ValueError:
        return problems  # a name: its address is known only on the run
    for key in _NETWORKS:
        if addr not in nets[key]:
            continue
        if key in hv:
            var = hv[key]
            fix = f"choose a {key} apart from the nodes' own network"
        else:  # the default network: say where the address is
            var = addr_var or Var(addr, inv.hosts[name].origins[0], f"host {name}")
            fix = f"set {key} to a network apart from the nodes' own (default {nets[key]})"
        problems.append(
            Problem(
                var.origin.file,
                f"{key} {nets[key]} holds the address {addr} of the node {name}",
                fix=fix,
                line=var.origin.line,
                where=var.level,
                field=key,
            )
        )
    return problems


def _check_pod_network(inv: Inventory, name: str) -> list[Problem]:
    """A pod network chosen in the inventory is applied only with the sha256 of its manifest."""
    hv = inv.host_vars(name)
    key = "dlrs_pod_network_manifest_url"
    if key not in hv:
        key = "dlrs_pod_network"
    chosen = hv.get(key)
    network = inv.setting(name, "dlrs_pod_network")
    if (
        chosen is None
        or network not in ("flannel", "calico")
        or inv.setting(name, "dlrs_pod_network_manifest_checksum")
    ):
        return []
    return [
        Problem(
            chosen.origin.file,
            f"the {network} manifest has no dlrs_pod_network_manifest_checksum: an unverified "
            "manifest is never applied",
            fix="add dlrs_pod_network_manifest_checksum: the output of `sha256sum` of the "
            "manifest your site vetted (or set dlrs_pod_network: none)",
            line=chosen.origin.line,
            where=chosen.level,
            field=key,
        )
    ]


# One registry serves the cluster: every node must agree with the master on where it is.
_CLUSTER_REGISTRY_KEYS = (
    "dlrs_registry_cache",
    "dlrs_registry_cache_host",
    "dlrs_registry_cache_port",
    "dlrs_registry_mode",  # local: the control plane's images come from that registry
    "dlrs_kubernetes_image_repository",  # kubeadm's and every node's pause image
)
_REGISTRY_LOGIN = ("dlrs_upstream_registry_username", "dlrs_upstream_registry_password")


def _check_registry(inv: Inventory) -> list[Problem]:
    """The cluster registry's place is the same on every node; the upstream's user name and
    password come together. No message ever shows the password."""
    problems: list[Problem] = []
    masters = inv.masters
    for name in inv.hosts:
        hv = inv.host_vars(name)
        given = [k for k in _REGISTRY_LOGIN if hv.get(k) is not None and hv[k].value is not None]
        if len(given) == 1:
            var = hv[given[0]]
            missing = next(k for k in _REGISTRY_LOGIN if k not in given)
            problems.append(
                Problem(
                    var.origin.file,
                    f"{given[0]} is set without {missing}",
                    fix=f"set both at the same level (the password with Ansible Vault), "
                    f"or remove {given[0]}",
                    line=var.origin.line,
                    where=var.level,
                    field=given[0],
                )
            )
        if len(masters) != 1 or name == masters[0]:
            continue
        for key in _CLUSTER_REGISTRY_KEYS:
            mine, master = inv.setting(name, key), inv.setting(masters[0], key)
            if mine == master or SETTINGS[key].check(mine) or SETTINGS[key].check(master):
                continue  # the same, or already reported as a wrong value
            var = hv.get(key) or inv.host_vars(masters[0]).get(key)
            if var is None:  # pragma: no cover - a difference needs a value somewhere
                continue
            problems.append(
                Problem(
                    var.origin.file,
                    f"{key} is {mine!r} on {name} but {master!r} on the master {masters[0]}: "
                    "the nodes would look for the cluster's registry where it is not",
                    fix=f"set {key} once, for group all (or to the same value on every host)",
                    line=var.origin.line,
                    where=var.level,
                    field=key,
                )
            )
    return problems


def _check_registry_mode(inv: Inventory, name: str) -> list[Problem]:
    """dlrs_registry_mode: local means the cluster's own registry, filled by `images load`;
    with dlrs_registry_cache: false there is no such registry."""
    if inv.setting(name, "dlrs_registry_mode") != "local":
        return []
    if inv.setting(name, "dlrs_registry_cache") is not False:
        return []
    hv = inv.host_vars(name)
    var = hv.get("dlrs_registry_cache") or hv.get("dlrs_registry_mode")
    if var is None:  # pragma: no cover - both differ from their defaults, so both are set
        return []
    return [
        Problem(
            var.origin.file,
            "dlrs_registry_mode is local but dlrs_registry_cache is false: local means the "
            "cluster's own registry (filled by `images load`), and false means there is none",
            fix="set dlrs_registry_cache: true for an air-gapped site, or dlrs_registry_mode: "
            "proxy with the cache off (every node pulls from the upstream)",
            line=var.origin.line,
            where=var.level,
            field="dlrs_registry_cache",
        )
    ]


def _check_clearlinux_kubernetes(inv: Inventory) -> list[Problem]:
    """Where the inventory pins a Clear Linux version (dlrs_clearlinux_version), the Kubernetes
    a node gets there is known before any host is reached: refuse what cannot work. Without a
    pin the preflight phase checks the same from the node's facts."""
    problems: list[Problem] = []
    refused: dict[tuple[str, str], list[str]] = {}  # (setting, reason) -> hosts
    where: dict[str, Var] = {}
    for name in inv.hosts:
        problems += _check_registry_mode(inv, name)
        pin = inv.setting(name, "dlrs_clearlinux_version")
        if not isinstance(pin, int) or isinstance(pin, bool):
            continue
        keys = (
            "dlrs_kubernetes_clearlinux_source",
            "dlrs_kubernetes_binary_checksums",
            "dlrs_kubernetes_version",
        )
        if any(SETTINGS[k].check(inv.setting(name, k)) for k in keys):
            continue  # reported as a wrong value already
        version = inv.setting(name, "dlrs_kubernetes_version") or DEFAULT_KUBERNETES_VERSION
        source = inv.setting(name, "dlrs_kubernetes_clearlinux_source")
        reason = clearlinux_kubernetes.clearlinux_kubernetes_problem(
            pin, str(version), source, inv.setting(name, "dlrs_kubernetes_binary_checksums")
        )
        if reason is None:
            continue
        hv = inv.host_vars(name)
        named = ("dlrs_kubernetes_clearlinux_source", "dlrs_kubernetes_version")
        key = next((k for k in named if k in hv), "dlrs_clearlinux_version")
        var = hv[key]
        ident = f"{key}@{var.origin.file}:{var.origin.line}"
        where[ident] = var
        refused.setdefault((ident, reason), []).append(name)
    for (ident, reason), hosts in refused.items():
        var = where[ident]
        problems.append(
            Problem(
                var.origin.file,
                f"Clear Linux nodes pinned to dlrs_clearlinux_version ({', '.join(hosts)}): "
                f"{reason}",
                fix="change the setting named above: no host has been changed",
                line=var.origin.line,
                where=var.level,
                field=ident.split("@", 1)[0],
            )
        )
    return problems


_OPERATOR_OVERLAY = "github.com/kubeflow/training-operator.git/manifests/overlays/standalone"


def _check_kubeflow(inv: Inventory) -> list[Problem]:
    """The Kubeflow phase (on the master) applies the training operator's manifest only from a
    URL the site gives and with that file's sha256: there is no default for either."""
    problems: list[Problem] = []
    for name in inv.masters:
        hv = inv.host_vars(name)
        switch = hv.get("dlrs_kubeflow")
        if switch is None or switch.value is not True:
            continue
        version = inv.setting(name, "dlrs_training_operator_version")
        if SETTINGS["dlrs_training_operator_version"].check(version) or not version:
            version = SETTINGS["dlrs_training_operator_version"].default
        render = (
            f'`kubectl kustomize "{_OPERATOR_OVERLAY}?ref={version}" > '
            f"training-operator-{version}.yaml` where GitHub is reachable"
        )
        for key, what, fix in (
            (
                "dlrs_training_operator_manifest_url",
                "the Kubeflow phase is on but the training operator's manifest has no URL",
                f"render the standalone overlay once into a file ({render}), serve it from "
                "your mirror and set dlrs_training_operator_manifest_url to its URL "
                "(or set dlrs_kubeflow: false)",
            ),
            (
                "dlrs_training_operator_manifest_checksum",
                "the Kubeflow phase is on but dlrs_training_operator_manifest_checksum is not "
                "set: an unverified manifest is never applied",
                "set it to the output of `sha256sum` of the rendered file on your mirror "
                f"(rendered with {render}), or set dlrs_kubeflow: false",
            ),
        ):
            if inv.setting(name, key):
                continue
            problems.append(
                Problem(
                    switch.origin.file,
                    what,
                    fix=fix,
                    line=switch.origin.line,
                    where=switch.level,
                    field=key,
                )
            )
    return problems


def _all_var_maps(inv: Inventory) -> Iterator[tuple[str, dict[str, Var]]]:
    for name, grp in inv.groups.items():
        yield f"group {name}", grp.vars
        yield f"group {name}", grp.file_vars
    for name, host in inv.hosts.items():
        yield f"host {name}", host.vars
        yield f"host {name}", host.file_vars


def _check_setting(inv: Inventory, key: str, var: Var, where: str) -> list[Problem]:
    setting = SETTINGS.get(key)
    o = var.origin
    if setting is None:
        near = difflib.get_close_matches(key, list(SETTINGS), n=1, cutoff=0.75)
        fix = (
            f"did you mean {near[0]}?"
            if near
            else ("remove it; known settings: " + ", ".join(sorted(SETTINGS)))
        )
        return [Problem(o.file, "unknown setting", fix=fix, line=o.line, where=where, field=key)]
    if _unknowable(inv, var, key):
        return []  # encrypted, or known only when Ansible templates it on the run
    wrong = setting.check(var.value)
    if wrong is None:
        return []
    fix = setting.fix(var.value)
    numeric = isinstance(var.value, (float, int)) and not isinstance(var.value, bool)
    if numeric and not setting.secret and setting.kind not in _NUMERIC_KINDS:
        written = _written(var, key) or str(var.value)
        wrong += f" (YAML reads {written} as a number)"
        fix = f"quote it: {key}: '{written}'; " + fix
    if setting.choices and isinstance(var.value, str):
        same_case = [c for c in setting.choices if c.lower() == var.value.lower()]
        near = same_case or difflib.get_close_matches(var.value, setting.choices, n=1, cutoff=0.5)
        if near:
            fix += f" (did you mean {near[0]!r}?)"
    if setting.kind == "int" and isinstance(var.value, str) and var.value.strip().isdigit():
        fix += " (remove the quotes)"
    return [Problem(o.file, wrong, fix=fix, line=o.line, where=where, field=key)]


_NUMERIC_KINDS = ("int", "bool", "list", "k8s_checksums")


def _written(var: Var, key: str) -> str | None:
    """The value as written on its line (`1.30`, which YAML read as the float 1.3)."""
    if var.origin.line is None:
        return None
    try:
        with open(var.origin.file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if number == var.origin.line:
                    m = re.search(re.escape(key) + r"\s*[:=]\s*([-+0-9.eE_]+)", line)
                    return m.group(1) if m else None
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _setting_problem(inv: Inventory, host: str, key: str, message: str, *, fix: str) -> Problem:
    """A problem with the setting `key` of host, where its value was given: file, line, level."""
    var = inv.host_vars(host)[key]
    return Problem(
        var.origin.file, message, fix=fix, line=var.origin.line, where=var.level, field=key
    )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    out, seen = [], set()
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _node_name_hint(name: str) -> str:
    hint = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    return hint or "node1"
