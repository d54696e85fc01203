#!/usr/bin/env bash
# `make demo`: the main job on an embedded default, no registry needed.
# Signs the example OCI image layout in examples/layout with a fresh test key (JWS and
# COSE, as notation does), then verifies it. Works in a temp folder; nothing else changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
export OCISIGN_CONFIG_DIR="$work/config"
layout="$work/layout"
cp -r "$here/layout" "$layout"
step() { printf '\n== %s\n' "$*"; }

step "ocisign $(ocisign --version | awk '{print $NF}'), working in $work"

step "ocisign key generate demo --default   (a test key + code-signing certificate, as notation cert generate-test)"
ocisign key generate demo --default --type ecdsa-p256 --days 7
ocisign key list

step "ocisign sign --oci-layout $layout:v1   (JWS, the default)"
ocisign sign --oci-layout "$layout:v1"
step "ocisign sign --oci-layout $layout:v1 --signature-format cose"
ocisign sign --oci-layout "$layout:v1" --signature-format cose
step "a second run changes nothing"
ocisign sign --oci-layout "$layout:v1"

step "index.json now lists the image (tag v1) and its two signature manifests"
python3 -m json.tool "$layout/index.json"
