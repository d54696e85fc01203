#!/usr/bin/env bash
# The main job on an embedded default, no registry needed. Run by `make demo`.
set -euo pipefail
export OCISIGN_CONFIG_DIR="${OCISIGN_CONFIG_DIR:-$(mktemp -d)}"
echo "== config dir: $OCISIGN_CONFIG_DIR"
ocisign --version
