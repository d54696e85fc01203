#!/usr/bin/env bash
# The main job on an embedded default, no registry needed. Run by `make demo`.
# For now: generate a Notary Project test key and a cosign-compatible key pair, list them.
set -euo pipefail
export OCISIGN_CONFIG_DIR="${OCISIGN_CONFIG_DIR:-$(mktemp -d)}"
echo "== config dir: $OCISIGN_CONFIG_DIR"
ocisign --version

echo "== ocisign key generate demo --default"
ocisign key generate demo --default --type ecdsa-p256 --days 7
echo "== ocisign key list"
ocisign key list

echo "== ocisign key generate-pair (cosign-compatible, passphrase from OCISIGN_PASSWORD)"
OCISIGN_PASSWORD=demo-passphrase \
  ocisign key generate-pair --output-prefix "$OCISIGN_CONFIG_DIR/cosign"
head -1 "$OCISIGN_CONFIG_DIR/cosign.key"
