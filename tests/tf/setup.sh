#!/usr/bin/env bash
# Make .venv-tf: TensorFlow for CPU, only for the tests under tests/tf (pytest -m tf).
# It is separate from .venv because TensorFlow is large and the rest of the project never needs
# it. Python 3.12 comes from pyenv (as for .venv), or PYTHON=/path/to/python3.12.
# Re-running is cheap: an existing .venv-tf with the pinned TensorFlow is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."

TF_VERSION=${TF_VERSION:-2.21.0}
VENV=${VENV_TF:-.venv-tf}
PYTHON=${PYTHON:-$( (pyenv prefix 3.12.1 2>/dev/null | sed 's|$|/bin/python3.12|') || command -v python3.12)}

if [[ -x "${VENV}/bin/python" ]] &&
  "${VENV}/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('tensorflow-cpu') != '${TF_VERSION}')" 2>/dev/null; then
  echo "${VENV}: tensorflow-cpu ${TF_VERSION} already installed"
  exit 0
fi
if [[ ! -x "${PYTHON}" ]]; then
  echo "Python 3.12 not found (tried '${PYTHON}'); set PYTHON=/path/to/python3.12" >&2
  exit 3
fi

t0=$(date +%s)
rm -rf "${VENV}"
"${PYTHON}" -m venv "${VENV}"
"${VENV}/bin/pip" install -q --upgrade pip
"${VENV}/bin/pip" install -q "tensorflow-cpu==${TF_VERSION}"
"${VENV}/bin/python" -c "import tensorflow as tf; print('tensorflow', tf.__version__)"
echo "${VENV}: made in $(($(date +%s) - t0))s, $(du -sh "${VENV}" | cut -f1)"
