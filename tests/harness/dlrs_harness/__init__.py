"""The test side of dlrs-provision: the local sandbox and the Docker Engine it runs on.

Installed editable from tests/harness by `make venv`; it registers `dlrs-provision sandbox`
through the `dlrs_provision.commands` entry-point group, so the product package imports nothing
from here and a plain `pip install dlrs-provision` has no sandbox command.
"""
