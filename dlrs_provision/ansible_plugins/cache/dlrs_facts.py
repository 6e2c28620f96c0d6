"""Ansible's jsonfile fact cache, kept in the inventory's state folder as dlrs-provision keeps it.

ansible.cfg selects it (fact_caching = dlrs_facts), so `ansible-playbook -i INVENTORY ...` from
the checkout writes the facts where `dlrs-provision plan INVENTORY` and the runner read them:
dlrs_provision/paths.py facts_dir, i.e. <inventory folder>/.dlrs-provision/facts, or
$DLRS_PROVISION_STATE/facts. A connection given explicitly (fact_caching_connection,
ANSIBLE_CACHE_PLUGIN_CONNECTION) still wins.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

try:
    from dlrs_provision import paths
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision import paths

from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.cache.jsonfile import CacheModule as JsonFileCacheModule

DOCUMENTATION = """
    name: dlrs_facts
    short_description: JSON files per host in the inventory's dlrs-provision state folder
    description:
        - jsonfile, with the folder taken from the first inventory source when none is given.
    author: dlrs-provision
    options:
      _uri:
        required: false
        description:
          - Folder of the JSON files; default the inventory's .dlrs-provision/facts.
        env:
          - name: ANSIBLE_CACHE_PLUGIN_CONNECTION
        ini:
          - key: fact_caching_connection
            section: defaults
        type: path
      _prefix:
        description: User defined prefix to use when creating the JSON files
        env:
          - name: ANSIBLE_CACHE_PLUGIN_PREFIX
        ini:
          - key: fact_caching_prefix
            section: defaults
      _timeout:
        default: 86400
        description: Expiration timeout for the cache plugin data
        env:
          - name: ANSIBLE_CACHE_PLUGIN_TIMEOUT
        ini:
          - key: fact_caching_timeout
            section: defaults
        type: integer
"""


def inventory_facts_dir(sources) -> str:
    """The facts folder of the first inventory source that is a file or folder."""
    for source in sources or ():
        path = Path(str(source)).expanduser()
        if "," not in str(source) and path.exists():
            return str(paths.facts_dir(path.resolve()))
    return str(paths.facts_dir(Path.cwd() / "inventory.yml"))


class CacheModule(JsonFileCacheModule):
    """jsonfile in the inventory's state folder: the folder 0700, each host's file 0600 (facts
    name the hosts' addresses, users and hardware; jsonfile itself leaves them 0644)."""

    def _get_cache_connection(self, source):
        if source:
            folder = Path(super()._get_cache_connection(source))
        else:
            folder = Path(inventory_facts_dir(context.CLIARGS.get("inventory")))
        try:
            paths.private_dir(folder)
        except paths.EnvironmentProblem as exc:
            raise AnsibleError(exc.message + (f"; fix: {exc.hint}" if exc.hint else "")) from None
        return str(folder)

    def set(self, key, value):
        super().set(key, value)
        # (a file that could not be written: jsonfile has already warned)
        with contextlib.suppress(OSError):
            os.chmod(self._get_cache_file_name(key), 0o600)
