#!/usr/bin/env bash
# Prepare this checkout on a fresh machine: graphviz's `dot` program (Debian/Ubuntu, as root) and a virtual
# environment in .venv with tinygrad_edu installed in editable mode plus its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dot >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing graphviz (the dot program) with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
    else
        echo "setup: graphviz's dot program is missing; install it (e.g. sudo apt-get install graphviz)" \
             "to render graphs as pictures" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating the virtual environment .venv"
    python3 -m venv .venv
fi
echo "setup: installing tinygrad_edu and its dependencies into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
echo "setup: done"
