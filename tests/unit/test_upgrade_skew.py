"""dlrs_provision/upgrade_skew.py, the rule of `dlrs-provision upgrade` (and of the filters
playbooks/upgrade.yml and the preflight role use): no downgrade, one minor at a time, kubelets
within their skew, and the guard of `cluster` against a pin older than the running cluster."""

from __future__ import annotations

import pytest

from dlrs_provision import upgrade_skew
from dlrs_provision.ansible_plugins.filter import dlrs_upgrade


def test_one_minor_up_and_a_patch_up_are_allowed():
    assert upgrade_skew.skew_problems("1.32.3", "v1.31.7", {"m1": "v1.31.7"}) == []
    assert upgrade_skew.skew_problems("1.32.3", "v1.32.2", {"m1": "v1.32.2"}) == []


def test_the_same_version_is_allowed_so_a_second_run_is_a_no_op():
    assert upgrade_skew.skew_problems("1.32.3", "v1.32.3", {"m1": "v1.32.3", "w1": "v1.31.7"}) == []


def test_a_downgrade_is_refused_naming_both_versions():
    (problem,) = upgrade_skew.skew_problems("1.31.7", "v1.32.3")
    assert "v1.31.7 is older than the cluster's v1.32.3" in problem
    assert "upgrade does not downgrade" in problem
    (patch,) = upgrade_skew.skew_problems("1.32.2", "v1.32.3")
    assert "older than the cluster's v1.32.3" in patch


def test_skipping_a_minor_is_refused_with_the_next_minor_to_go_to():
    (problem,) = upgrade_skew.skew_problems("1.32.3", "v1.30.11")
    assert "2 minor versions above the cluster's v1.30.11" in problem
    assert "upgrade to 1.31.x first" in problem


def test_a_kubelet_newer_than_the_target_or_too_old_is_refused_by_node():
    problems = upgrade_skew.skew_problems(
        "1.32.3", "v1.32.3", {"w1": "v1.32.4", "w2": "v1.28.0", "w3": "v1.29.1"}
    )
    assert len(problems) == 2
    assert problems[0].startswith("Node w1: its kubelet is v1.32.4, newer than v1.32.3")
    assert problems[1].startswith("Node w2: its kubelet is v1.28.0, more than 3 minor")


def test_unreadable_versions_are_reasons_not_tracebacks():
    assert upgrade_skew.skew_problems("1.32", "v1.31.7") == [
        "'1.32' is not an exact Kubernetes release such as 1.32.3"
    ]
    (problem,) = upgrade_skew.skew_problems("1.32.3", "")
    assert problem.startswith("the cluster's version cannot be read")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("v1.32.3", True), ("1.32.3", True), ("v1.32.3+dirty", True), ("v1.32.2", False),
     ("Kubernetes v1.32.3", False), ("", False)],
)  # fmt: skip
def test_at_target(version, expected):
    assert upgrade_skew.at_target("1.32.3", version) is expected


@pytest.mark.parametrize(
    ("pin", "cluster", "refused"),
    [("1.31.7", "v1.32.3", True), ("1.32.2", "v1.32.3", True), ("1.31", "v1.32.3", True),
     ("1.32", "v1.32.3", False), ("1.32.3", "v1.32.3", False), ("1.33.0", "v1.32.3", False),
     ("1.32.3", "", False)],
)  # fmt: skip
def test_the_cluster_guard_refuses_a_pin_older_than_the_running_cluster(pin, cluster, refused):
    problem = upgrade_skew.pin_problem(pin, cluster)
    assert bool(problem) is refused
    if refused:
        assert f"the running cluster is at v1.32.3, newer than dlrs_kubernetes_version {pin}" in (
            problem
        )
        assert 'set dlrs_kubernetes_version: "1.32.3"' in problem


def test_the_filters_give_the_same_answers():
    assert dlrs_upgrade.dlrs_upgrade_skew_problem("1.32.3", "v1.31.7", {"m1": "v1.31.7"}) == ""
    text = dlrs_upgrade.dlrs_upgrade_skew_problem("1.30.11", "v1.32.3", {"w1": "v1.32.3"})
    assert text.splitlines()[0].startswith("v1.30.11 is older")
    assert "Node w1" in text.splitlines()[1]
    assert dlrs_upgrade.dlrs_upgrade_at_target("v1.32.3", "1.32.3") is True
    assert dlrs_upgrade.dlrs_upgrade_pin_problem("1.31.7", "v1.32.3").startswith("the running")
    names = dlrs_upgrade.FilterModule().filters()
    assert set(names) == {
        "dlrs_upgrade_skew_problem", "dlrs_upgrade_at_target", "dlrs_upgrade_pin_problem"
    }  # fmt: skip
