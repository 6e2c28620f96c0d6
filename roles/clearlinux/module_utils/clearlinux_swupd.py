# Copyright: dlrs-provision authors
# Apache-2.0
"""Shared by the clearlinux role's modules: how swupd is called, and what its exit codes mean.

Exit codes are swupd's `enum swupd_code` (swupd(1), EXIT STATUS). The messages name what the
operator can act on: the URL of a server that cannot be reached, the bundle or the version a
mirror does not have, the setting that allows plain HTTP.
"""

import re
import shlex

CONNECT_RE = re.compile(r"Failed to connect to update server: (\S+)")
INVALID_BUNDLE_RE = re.compile(r'Bundle "([^"]+)" is invalid')
MOM_RE = re.compile(r"Failed to retrieve (\d+) MoM manifest")
NO_SERVER_VERSION = "Unable to determine the server version"
ERROR_LINES = 8

SWUPD_NO = 1  # check-update: no newer version; autoupdate: disabled
SWUPD_INVALID_BUNDLE = 3
SWUPD_COULDNT_LOAD_MOM = 4
SWUPD_INIT_GLOBALS_FAILED = 12  # among others: an http:// URL without --allow-insecure-http
SWUPD_INVALID_OPTION = 15
SWUPD_SERVER_CONNECTION_ERROR = 16
SWUPD_CURRENT_VERSION_UNKNOWN = 20


def swupd_argv(executable, subcommand, arguments=(), allow_insecure_http=False):
    """The command line; --allow-insecure-http goes after the subcommand, as swupd wants it."""
    argv = [executable, subcommand, *arguments]
    if allow_insecure_http:
        argv.append("--allow-insecure-http")
    return argv


def command_text(argv):
    return " ".join(shlex.quote(part) for part in argv)


def explain(rc, argv, stderr, url=None, version=None):
    """What exit code `rc` of the swupd command `argv` means, for an operator."""
    connect = CONNECT_RE.search(stderr)
    server = url or (connect.group(1) if connect else "the configured update server")
    if rc == SWUPD_SERVER_CONNECTION_ERROR and not connect and NO_SERVER_VERSION in stderr:
        # The server answered, but its version file is missing (swupd's curl layer reports a
        # 404 only at debug level) or is not a number.
        which = (
            "version/latest_version"
            if argv[1:2] == ["check-update"]
            else "version/format<F>/latest"
        )
        return (
            f"the update server {server} has no valid version file: swupd {argv[1]} reads "
            f"{which} there; publish version/latest_version and version/format<F>/latest "
            "(each holding the latest version) on the mirror"
        )
    if rc == SWUPD_SERVER_CONNECTION_ERROR or (rc == SWUPD_COULDNT_LOAD_MOM and connect):
        # swupd gives 16 where it reads the version file first (update, check-update) and 4
        # where it starts with a manifest (bundle-add, repair); both report the connection.
        return f"the update server or mirror cannot be reached: {server}"
    if rc == SWUPD_INVALID_BUNDLE:
        names = list(dict.fromkeys(INVALID_BUNDLE_RE.findall(stderr))) or ["(not named by swupd)"]
        where = f"version {version}" if version else "the installed version"
        return "; ".join(
            f"bundle {name} is not valid (not in the mirror's manifest for {where})"
            for name in names
        )
    if rc == SWUPD_COULDNT_LOAD_MOM:
        found = MOM_RE.search(stderr)
        number = found.group(1) if found else (version or "?")
        return f"the manifest for version {number} is not on the mirror {server}"
    if rc == SWUPD_INIT_GLOBALS_FAILED and "insecure" in stderr.lower():
        which = f"the plain-HTTP update server {url}" if url else "a plain-HTTP update server"
        return (
            f"swupd refused {which}: set dlrs_clearlinux_allow_insecure_http: true for this "
            "mirror, or serve it over https"
        )
    if rc == SWUPD_INVALID_OPTION:
        return "swupd refused the command line (invalid option)"
    if rc == SWUPD_CURRENT_VERSION_UNKNOWN:
        return "swupd cannot tell the installed version (no VERSION_ID in os-release)"
    return f"swupd failed with exit code {rc}"


def swupd_said(stderr):
    """swupd's error lines, or the end of its stderr when it printed none."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    return " | ".join((errors or lines)[-ERROR_LINES:])


def failure_message(rc, argv, stderr, url=None, version=None):
    """`meaning (`command` exited N); swupd said: ...`, the text a failed task shows."""
    message = f"{explain(rc, argv, stderr, url, version)} (`{command_text(argv)}` exited {rc})"
    said = swupd_said(stderr)
    return f"{message}; swupd said: {said}" if said else message


def run_swupd(module, subcommand, arguments=(), allow_insecure_http=False, executable="swupd"):
    """Run swupd through the module; (argv as run, rc, stdout, stderr). Fails the module when
    swupd is not installed."""
    path = module.get_bin_path(executable)
    if path is None:
        module.fail_json(
            msg=f"{executable} is not installed: this is not a Clear Linux host managed by swupd",
            changed=False,
        )
    argv = swupd_argv(path, subcommand, arguments, allow_insecure_http)
    rc, stdout, stderr = module.run_command(argv, environ_update={"LC_ALL": "C"})
    return argv, rc, stdout, stderr
