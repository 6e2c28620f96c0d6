"""The checks of the preflight phase that the inventory and a host's facts decide (issue #12,
point 4): each refusal, with the host's OS, the reason and the fix; and what passes."""

from __future__ import annotations

import pytest

from dlrs_provision.ansible_plugins.filter import dlrs_preflight
from dlrs_provision.refusals import clearlinux_target, host_refusals

DEBIAN = {"os_family": "Debian", "distribution": "Debian", "distribution_version": "12.11"}
ROCKY = {"os_family": "RedHat", "distribution": "Rocky", "distribution_version": "9.5"}


def clear(version: int) -> dict:
    return {"os_family": "ClearLinux", "distribution": "Clear Linux OS",
            "distribution_version": str(version)}  # fmt: skip


SERVER = "http://mirror:8080/clearlinux/update/version/latest_version"


def answered(latest: str, status: int = 200) -> dict:
    return {"url": SERVER, "status": status, "content": latest + "\n", "msg": "OK"}


def test_defaults_pass_on_debian_and_on_a_clear_node_at_the_floor():
    assert host_refusals(DEBIAN, {}, True, {}) == []
    assert host_refusals(clear(26240), {}, True, {}) == []


def test_crio_on_debian_is_refused_with_the_fix():
    (text,) = host_refusals(DEBIAN, {"dlrs_container_runtime": "crio"}, False, {})
    assert "only Clear Linux ships" in text and "Debian 12.11" in text
    assert "dlrs_container_runtime: containerd" in text
    assert host_refusals(clear(26240), {"dlrs_container_runtime": "crio"}, False, {}) == []


def test_registry_on_a_rhel_family_master_is_refused_unless_the_cache_is_off():
    (text,) = host_refusals(ROCKY, {}, True, {})
    assert "Rocky 9.5" in text and "dlrs_registry_cache: false" in text
    assert host_refusals(ROCKY, {"dlrs_registry_cache": False}, True, {}) == []
    assert host_refusals(ROCKY, {}, False, {}) == []  # a worker runs no registry


def test_bundle_kubernetes_at_the_target_version_is_refused():
    settings = {"dlrs_kubernetes_clearlinux_source": "bundle", "dlrs_kubernetes_version": "1.32"}
    (text,) = host_refusals(clear(26240), settings, False, {})
    assert "Clear Linux 26240's cloud-native-basic carries Kubernetes 1.11" in text


def test_upstream_version_without_checksums_is_refused():
    (text,) = host_refusals(clear(26240), {"dlrs_kubernetes_version": "1.33.1"}, False, {})
    assert "has no sha256" in text and "dlrs_kubernetes_binary_checksums" in text


def test_a_node_below_the_floor_is_checked_at_the_floor():
    settings = {"dlrs_kubernetes_clearlinux_source": "bundle", "dlrs_kubernetes_version": "1.32"}
    texts = host_refusals(clear(26000), settings, False, answered("26300"))
    assert len(texts) == 1 and "Clear Linux 26240's" in texts[0]


def test_a_node_to_update_whose_server_does_not_answer_is_refused_with_url_and_error():
    probe = {"url": SERVER, "status": 404, "content": "", "msg": "HTTP Error 404: Not Found"}
    (text,) = host_refusals(clear(26000), {}, False, probe)
    assert SERVER in text and "404" in text and "must be updated to 26240" in text
    assert "latest_version" in text


def test_a_node_to_update_without_any_update_server_is_refused():
    (text,) = host_refusals(clear(26000), {}, False, {})
    assert "no update server is known" in text and "dlrs_clearlinux_mirror" in text


def test_a_server_without_the_target_is_refused():
    pin = {"dlrs_clearlinux_version": 26300}
    (text,) = host_refusals(clear(26000), pin, False, answered("26240"))
    assert "latest version is 26240" in text and "publish 26300" in text


def test_a_server_answering_garbage_is_refused():
    (text,) = host_refusals(clear(26000), {}, False, answered("<html>"))
    assert "not a Clear Linux version number" in text


def test_a_node_to_update_with_an_answering_server_passes():
    assert host_refusals(clear(26000), {}, False, answered("26300")) == []


def test_a_node_at_its_target_needs_no_server():
    assert host_refusals(clear(26300), {}, False, {}) == []


@pytest.mark.parametrize(
    ("installed", "pin", "force", "target"),
    [
        (26000, None, False, 26240),
        (26300, None, False, 26300),
        (26000, 26260, False, 26260),
        (26300, 26260, False, 26300),  # newer than the pin: left alone
        (26300, 26260, True, 26260),  # force_pin moves it back
    ],
)
def test_clearlinux_target(installed, pin, force, target):
    assert clearlinux_target(installed, pin, 26240, force) == target
    assert dlrs_preflight.dlrs_clearlinux_target(str(installed), pin, "26240", force) == target


def test_the_filter_passes_plain_values_on():
    texts = dlrs_preflight.dlrs_preflight_refusals(
        DEBIAN, {"dlrs_container_runtime": "crio"}, is_master=True, probe=None
    )
    assert len(texts) == 1
