"""roles/clearlinux module_utils: what a failed swupd call means, for the swupd contract
(issue #12): a server that answers without a version file is not 'cannot be reached'."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

MODULE = Path(__file__).resolve().parents[2] / "roles/clearlinux/module_utils/clearlinux_swupd.py"
URL = "http://mirror.example:8080/update"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("clearlinux_swupd_utils", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


swupd = _load()


def test_a_missing_latest_version_names_the_file_check_update_reads() -> None:
    stderr = "Error: Unable to determine the server version\n"
    message = swupd.explain(16, ["/usr/bin/swupd", "check-update"], stderr, url=URL)
    assert message.startswith(f"the update server {URL} has no valid version file")
    assert "swupd check-update reads version/latest_version there" in message
    assert "cannot be reached" not in message


def test_update_names_the_format_s_latest_file() -> None:
    stderr = "Error: Unable to determine the server version\n"
    message = swupd.explain(16, ["/usr/bin/swupd", "update", "-V", "26240"], stderr, url=URL)
    assert "swupd update reads version/format<F>/latest there" in message


def test_a_connection_failure_is_still_unreachable() -> None:
    stderr = (
        "Error: Curl - Could not connect to host or proxy (Connection refused)\n"
        f"Error: Failed to connect to update server: {URL}/version/latest_version\n"
        "Error: Unable to determine the server version\n"
    )
    message = swupd.explain(16, ["/usr/bin/swupd", "check-update"], stderr, url=URL)
    assert message == f"the update server or mirror cannot be reached: {URL}"
