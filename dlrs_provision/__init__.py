"""dlrs-provision: turn bare-metal Xeon servers into Intel's Deep Learning Reference Stack."""

__version__ = "0.1.0"
