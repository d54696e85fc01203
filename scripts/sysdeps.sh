#!/usr/bin/env bash
# Install the Debian packages the test suite needs (idempotent; run as root or with sudo).
set -euo pipefail
PKGS=(docker-registry apache2-utils sbsigntool osslsigncode openssl softhsm2 opensc)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# apt lists are needed to install and to `apt-get download` the EFI samples below
if ((${#missing[@]})) || ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  $SUDO apt-get update -qq
fi
if ((${#missing[@]})); then
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# distribution's Debian package starts a service on :5000 we do not want; tests start their own
if command -v systemctl >/dev/null 2>&1; then systemctl stop docker-registry >/dev/null 2>&1 || true; fi
# sigstore-capable skopeo for the tests (Debian 13's, unpacked into a cache; see the script)
bash "$(dirname "$0")/get-skopeo.sh" >/dev/null
# real EFI binaries for the sign-artifacts tests (Debian systemd-boot-efi, shim-signed; cached, never committed)
bash "$(dirname "$0")/get-efi-samples.sh" >/dev/null
