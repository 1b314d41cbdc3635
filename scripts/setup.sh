#!/usr/bin/env bash
# Prepare this checkout on a fresh machine: graphviz's `dot` program and Chromium (Debian/Ubuntu, as root) and a
# virtual environment in .venv with tinygrad_edu installed in editable mode plus its test tools. Safe to run again.
#
#   bash scripts/setup.sh              the package, its test tools, onnx and onnxruntime (the export), graphviz and Chromium
#   bash scripts/setup.sh --notebook   also JupyterLab, to open examples/*.ipynb (.venv/bin/jupyter lab)
#
# Once everything is there it installs nothing and needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="test,export"
for arg in "$@"; do
    case "$arg" in
        --notebook) extras="test,export,notebook" ;;
        *) echo "setup: unknown option $arg (the one option is --notebook)" >&2; exit 2 ;;
    esac
done

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=""
apt_install() {  # apt_install 'PACKAGE ...': quiet, updating the package lists once
    if [ -z "$apt_updated" ]; then apt-get update -qq && apt_updated=1; fi
    # shellcheck disable=SC2086  # PACKAGES is a space-separated list
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $1 >/dev/null
}

if ! command -v dot >/dev/null 2>&1; then
    if can_apt; then
        echo "setup: installing graphviz (the dot program) with apt-get"
        apt_install graphviz
    else
        echo "setup: graphviz's dot program is missing; install it (e.g. sudo apt-get install graphviz)" \
             "to render graphs as pictures" >&2
    fi
fi

# the browser tests/test_browser.py opens the example notebooks in (through Playwright, never a downloaded build);
# Playwright's own driver, a node binary, needs libatomic
if [ ! -x /usr/bin/chromium ] || ! compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null; then
    if can_apt; then
        echo "setup: installing chromium and libatomic1 with apt-get (for tests/test_browser.py)"
        apt_install "chromium libatomic1" || echo "setup: apt-get could not install chromium and libatomic1;" \
                                                  "tests/test_browser.py will be skipped (and fail under CI=true)" >&2
    else
        echo "setup: /usr/bin/chromium or libatomic is missing; install them (e.g. sudo apt-get install chromium" \
             "libatomic1) to run" \
             "tests/test_browser.py" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating the virtual environment .venv"
    python3 -m venv .venv
fi
if .venv/bin/python scripts/venv_is_ready.py ${extras//,/ } >/dev/null 2>&1; then
    echo "setup: .venv already holds tinygrad_edu and its dependencies (nothing to install)"
else
    echo "setup: installing tinygrad_edu and its dependencies ($extras extras) into .venv"
    # setuptools' notes about editable installs go to the log; all of it is shown if pip fails
    if ! { .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip &&
           .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"; } \
         >.venv/pip-install.log 2>&1; then
        cat .venv/pip-install.log >&2
        echo "setup: pip could not install the packages (above; also in .venv/pip-install.log)" >&2
        exit 1
    fi
fi
echo "setup: done"
