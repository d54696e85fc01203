#!/usr/bin/env bash
# Fetch real EFI binaries for the sign-artifacts tests (never committed).
# Debian bookworm's systemd-boot-efi (unsigned systemd-boot) and shim-signed (shim with
# Microsoft's signatures) are downloaded with `apt-get download` and unpacked with
# `dpkg-deb -x` into a cache folder:
#   $OCISIGN_EFI_SAMPLES, else $XDG_CACHE_HOME/ocisign-test/efi, else ~/.cache/ocisign-test/efi
# Idempotent: does nothing when the files are already there. No root needed.
set -euo pipefail
DEST="${OCISIGN_EFI_SAMPLES:-${XDG_CACHE_HOME:-$HOME/.cache}/ocisign-test/efi}"
FILES=(usr/lib/systemd/boot/efi/systemd-bootx64.efi usr/lib/systemd/boot/efi/linuxx64.efi.stub
       usr/lib/shim/shimx64.efi.signed)
have_all() { for f in "${FILES[@]}"; do [ -s "$DEST/$f" ] || return 1; done; }
if have_all; then echo "EFI samples present in $DEST"; exit 0; fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
  echo "get-efi-samples: apt-get and dpkg-deb are needed (Debian/Ubuntu)" >&2; exit 1; }
mkdir -p "$DEST/debs"
cd "$DEST/debs"
for pkg in systemd-boot-efi shim-signed; do
  ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download -q "$pkg" >/dev/null || {
    echo "get-efi-samples: 'apt-get download $pkg' failed (needs Debian bookworm sources; try apt-get update)" >&2
    exit 1; }
done
for deb in ./*.deb; do dpkg-deb -x "$deb" "$DEST"; done
have_all || { echo "get-efi-samples: expected files missing under $DEST" >&2; exit 1; }
echo "EFI samples ready in $DEST"
