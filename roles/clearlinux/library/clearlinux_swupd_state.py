#!/usr/bin/python
# Copyright: dlrs-provision authors
# Apache-2.0
"""Read a Clear Linux node's state in one round trip: the installed version from os-release and
from `swupd info`, the mirror files, whether automatic updates are on, the installed bundles.
It changes nothing; the role compares and decides.
"""

DOCUMENTATION = r"""
---
module: clearlinux_swupd_state
short_description: Read a Clear Linux node's swupd state (changes nothing)
description:
  - Reads VERSION_ID from /usr/lib/os-release (else /etc/os-release), runs C(swupd info) (the
    "Installed version" and the URLs) and C(swupd autoupdate) (exit 0 on, 1 off), reads
    /etc/swupd/mirror_contenturl and mirror_versionurl, and lists the bundle marker files of
    /usr/share/clear/bundles.
  - Runs in check mode too; never reports a change. A swupd failure carries the operator's message
    of the role's exit-code table (see the clearlinux_swupd module).
options:
  allow_insecure_http:
    description: Add C(--allow-insecure-http) to the swupd calls (an http:// server).
    type: bool
    default: false
  url:
    description: The update server or mirror, named in failure messages.
    type: str
  executable:
    description: The swupd program.
    type: str
    default: swupd
author: dlrs-provision
"""

EXAMPLES = r"""
- name: Read the node's Clear Linux state
  clearlinux_swupd_state:
    allow_insecure_http: true
  register: _clearlinux_state
"""

RETURN = r"""
os_release:
  description: The os-release file read and its VERSION_ID ('' when it has none).
  type: dict
  returned: success
  sample: {path: /usr/lib/os-release, version_id: "26240"}
info:
  description: What C(swupd info) says (values '' when a line is missing).
  type: dict
  returned: success
  sample: {version: "26240", version_url: "https://mirror/update", content_url: "https://mirror/update"}
mirror:
  description: The content of the mirror files (null for a file that does not exist).
  type: dict
  returned: success
  sample: {contenturl: "https://mirror/update", versionurl: "https://mirror/update"}
autoupdate:
  description: Whether swupd's automatic updates are on.
  type: bool
  returned: success
bundles:
  description: The installed bundles (marker files in /usr/share/clear/bundles), sorted.
  type: list
  elements: str
  returned: success
"""

import os  # noqa: E402
import re  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.clearlinux_swupd import (  # noqa: E402
    SWUPD_NO,
    failure_message,
    run_swupd,
)

OS_RELEASE_FILES = ("/usr/lib/os-release", "/etc/os-release")
MIRROR_DIR = "/etc/swupd"
BUNDLES_DIR = "/usr/share/clear/bundles"
VERSION_ID_RE = re.compile(r"""^VERSION_ID=["']?([^"'\s]*)""", re.M)


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def info_value(stdout, label):
    found = re.search(rf"^{label}:\s*(\S+)", stdout, re.M)
    return found.group(1) if found else ""


def main():
    module = AnsibleModule(
        argument_spec={
            "allow_insecure_http": {"type": "bool", "default": False},
            "url": {"type": "str"},
            "executable": {"type": "str", "default": "swupd"},
        },
        supports_check_mode=True,
    )
    params = module.params

    os_release = {"path": "", "version_id": ""}
    for path in OS_RELEASE_FILES:
        text = read_text(path)
        if text is not None:
            found = VERSION_ID_RE.search(text)
            os_release = {"path": path, "version_id": found.group(1) if found else ""}
            break

    def swupd(subcommand, ok_codes=(0,)):
        argv, rc, stdout, stderr = run_swupd(
            module, subcommand, (), params["allow_insecure_http"], params["executable"]
        )
        if rc not in ok_codes:
            module.fail_json(
                msg=failure_message(rc, argv, stderr, params["url"]),
                cmd=argv,
                rc=rc,
                stdout=stdout,
                stderr=stderr,
                changed=False,
            )
        return rc, stdout

    _, info_out = swupd("info")
    autoupdate_rc, _ = swupd("autoupdate", (0, SWUPD_NO))  # 1: disabled

    mirror = {}
    for name in ("contenturl", "versionurl"):
        text = read_text(os.path.join(MIRROR_DIR, f"mirror_{name}"))
        mirror[name] = text.strip() if text is not None else None

    try:
        entries = sorted(os.listdir(BUNDLES_DIR))
    except FileNotFoundError:
        entries = []
    bundles = [
        name
        for name in entries
        if not name.startswith(".") and os.path.isfile(os.path.join(BUNDLES_DIR, name))
    ]

    module.exit_json(
        changed=False,
        os_release=os_release,
        info={
            "version": info_value(info_out, "Installed version"),
            "version_url": info_value(info_out, "Version URL"),
            "content_url": info_value(info_out, "Content URL"),
        },
        mirror=mirror,
        autoupdate=autoupdate_rc == 0,
        bundles=bundles,
    )


if __name__ == "__main__":
    main()
