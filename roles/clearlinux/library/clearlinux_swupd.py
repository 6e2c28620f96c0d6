#!/usr/bin/python
# Copyright: dlrs-provision authors
# Apache-2.0
"""Run one swupd command: check mode for commands that change the host, and an operator's
message for a failure (what swupd's exit code means, with the URL, bundle or version concerned).

The role decides what to run from the state it read first; this module only runs it.
"""

DOCUMENTATION = r"""
---
module: clearlinux_swupd
short_description: Run one swupd command and explain its exit code when it fails
description:
  - Runs C(swupd SUBCOMMAND [ARGUMENTS] [--allow-insecure-http]) on a Clear Linux host.
  - A command that changes the host (O(changes=true)) is not run in check mode; the module then
    reports C(changed) with the command it would run. A read-only command (O(changes=false)) runs
    in check mode too and never reports a change.
  - A failure carries a message for the operator, after swupd's exit codes (swupd(1), EXIT STATUS)
    16 the server or mirror cannot be reached (naming the URL), 3 a bundle that is not in the
    manifest of the version, 4 a manifest that is not on the mirror, 12 plain HTTP refused,
    15 an invalid option; any other code is given with swupd's error output.
options:
  subcommand:
    description: The swupd subcommand (info, update, repair, mirror, autoupdate, bundle-add, ...).
    type: str
    required: true
  arguments:
    description: Its arguments and options, one list item each.
    type: list
    elements: str
    default: []
  changes:
    description: Whether the command changes the host (then it is skipped in check mode).
    type: bool
    default: true
  ok_codes:
    description: Exit codes that are not failures (1 for C(autoupdate) status and C(check-update)).
    type: list
    elements: int
    default: [0]
  allow_insecure_http:
    description: Add C(--allow-insecure-http), which swupd needs for an http:// server.
    type: bool
    default: false
  url:
    description: The update server or mirror the command talks to, named in failure messages.
    type: str
  version:
    description: The OS version the command is about, named in failure messages (exit codes 3, 4).
    type: int
  executable:
    description: The swupd program.
    type: str
    default: swupd
author: dlrs-provision
"""

EXAMPLES = r"""
- name: Ensure the node runs Clear Linux 26240
  clearlinux_swupd:
    subcommand: update
    arguments: [-V, "26240"]
    allow_insecure_http: true
    url: http://mirror.example.com/update
    version: 26240

- name: Read whether automatic updates are on (exit 1 means off)
  clearlinux_swupd:
    subcommand: autoupdate
    changes: false
    ok_codes: [0, 1]
"""

RETURN = r"""
cmd:
  description: The command, as run (or as it would run in check mode).
  type: list
  returned: always
rc:
  description: swupd's exit code (null when the command did not run).
  type: int
  returned: always
stdout:
  description: Standard output.
  type: str
  returned: always
stderr:
  description: Standard error.
  type: str
  returned: always
ran:
  description: Whether the command ran (false for a changing command in check mode).
  type: bool
  returned: always
meaning:
  description: What a failing exit code means for the operator (empty on success).
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.clearlinux_swupd import (  # noqa: E402
    command_text,
    failure_message,
    run_swupd,
    swupd_argv,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "subcommand": {"type": "str", "required": True},
            "arguments": {"type": "list", "elements": "str", "default": []},
            "changes": {"type": "bool", "default": True},
            "ok_codes": {"type": "list", "elements": "int", "default": [0]},
            "allow_insecure_http": {"type": "bool", "default": False},
            "url": {"type": "str"},
            "version": {"type": "int"},
            "executable": {"type": "str", "default": "swupd"},
        },
        supports_check_mode=True,
    )
    params = module.params
    argv = swupd_argv(
        params["executable"],
        params["subcommand"],
        params["arguments"],
        params["allow_insecure_http"],
    )
    result = {"cmd": argv, "rc": None, "stdout": "", "stderr": "", "ran": False, "meaning": ""}

    if params["changes"] and module.check_mode:
        module.exit_json(changed=True, msg=f"would run: {command_text(argv)}", **result)

    argv, rc, stdout, stderr = run_swupd(
        module,
        params["subcommand"],
        params["arguments"],
        params["allow_insecure_http"],
        params["executable"],
    )
    result.update(cmd=argv, rc=rc, stdout=stdout, stderr=stderr, ran=True)
    if rc not in params["ok_codes"]:
        message = failure_message(rc, argv, stderr, params["url"], params["version"])
        result["meaning"] = message.split(" (`", 1)[0]
        module.fail_json(msg=message, changed=False, **result)
    # An exit code in ok_codes is a success even when it is not 0 (Ansible fails other results
    # that carry a non-zero rc unless they say failed=False).
    module.exit_json(changed=bool(params["changes"]), failed=False, **result)


if __name__ == "__main__":
    main()
