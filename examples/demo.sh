#!/usr/bin/env bash
# `make demo`: the main job on an embedded default, no registry needed.
# Signs the example OCI image layout in examples/layout with a fresh test key (JWS and
# COSE, as notation does) and a cosign key pair (sigstore simple signing), verifies all of
# it, and shows a tampered copy fail. Works in a temp folder; nothing else changes.
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
step "ocisign key generate-pair + sign --sigstore-key   (cosign simple signing, as hangar/skopeo)"
printf 'demo passphrase\n' > "$work/passphrase"
ocisign key generate-pair --output-prefix "$work/cosign" --passphrase-file "$work/passphrase"
ocisign sign --oci-layout "$layout:v1" --sigstore-key "$work/cosign.key" \
  --sigstore-passphrase-file "$work/passphrase"

step "a second run changes nothing"
ocisign sign --oci-layout "$layout:v1"

step "index.json: the image (tag v1), its two Notary signatures and the cosign .sig tag"
python3 -m json.tool "$layout/index.json"

step "ocisign validate --oci-layout $layout:v1   (trust policy + trust store from the config dir)"
ocisign policy init --store demo      # trustpolicy.json trusting ca:demo for every scope
ocisign validate --oci-layout "$layout:v1" -v -o "$work/validate-failed.txt"
step "ocisign ls / verify   (notation's commands: the signature tree, then one verification)"
ocisign ls --oci-layout "$layout:v1" --sigstore-pubkey "$work/cosign.pub"
ocisign verify --oci-layout --scope local/demo "$layout:v1"
step "ocisign validate --sigstore-pubkey $work/cosign.pub   (the cosign signature)"
ocisign validate --oci-layout "$layout:v1" --type sigstore --sigstore-pubkey "$work/cosign.pub"

step "a tampered copy must fail: flip one byte of each signature envelope"
cp -r "$layout" "$work/tampered"
python3 - "$work/tampered" <<'PY'
import json, pathlib, sys
blobs = pathlib.Path(sys.argv[1]) / "blobs" / "sha256"
for path in list(blobs.iterdir()):
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        continue
    if isinstance(doc, dict) and (doc.get("config") or {}).get("mediaType") == "application/vnd.cncf.notary.signature":
        envelope = blobs / doc["layers"][0]["digest"].split(":", 1)[1]
        data = bytearray(envelope.read_bytes())
        data[len(data) // 2] ^= 1
        envelope.write_bytes(bytes(data))
PY
if ocisign validate --oci-layout "$work/tampered:v1" -o "$work/tampered-failed.txt"; then
  echo "the tampered copy passed validation: this is a bug" >&2
  exit 1
fi
step "the tampered copy failed, as it should; the signed layout is in $layout"
