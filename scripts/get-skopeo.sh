#!/usr/bin/env bash
# Print the path of a skopeo that can verify sigstore signatures (skopeo >= 1.10, not Debian 12's
# build, which has sigstore patched out). Uses, in order: $SKOPEO if set, `skopeo` on PATH if it
# qualifies, else Debian 13 (trixie)'s skopeo + the libraries it links (glibc included), fetched
# with `apt-get download` through a private apt source list and state dir (the system's apt
# sources are never touched), unpacked with `dpkg-deb -x` into a cache folder, and run through
# the unpacked glibc's own loader by a wrapper script. Nothing is installed system-wide.
# Idempotent: a cached wrapper that runs is reused at once.
#
# Environment: OCISIGN_SKOPEO_CACHE=DIR (default $XDG_CACHE_HOME/ocisign-test/skopeo,
# or ~/.cache/ocisign-test/skopeo), SKOPEO=PATH (use this skopeo), DEBIAN_MIRROR=URL.
set -euo pipefail

PROG=$(basename "$0")
die() { echo "$PROG: $*" >&2; exit 1; }

CACHE=${OCISIGN_SKOPEO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocisign-test/skopeo}
PKGS=(skopeo libc6 libgpgme11t64 libassuan9 libgpg-error0 libsqlite3-0)

qualifies() { # qualifies PATH: skopeo >= 1.10 and sigstore not patched out
  local v major minor
  v=$("$1" --version 2>/dev/null) || return 1
  v=${v#*version }; major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((major > 1 || (major == 1 && minor >= 10))) || return 1
  ! grep -q 'sigstore disabled' "$(readlink -f "$1")" 2>/dev/null
}

if [ -n "${SKOPEO:-}" ]; then
  qualifies "$SKOPEO" || die "SKOPEO=$SKOPEO is not a sigstore-capable skopeo >= 1.10"
  printf '%s\n' "$SKOPEO"; exit 0
fi
if command -v skopeo >/dev/null 2>&1 && qualifies "$(command -v skopeo)"; then
  command -v skopeo; exit 0
fi
if [ -x "$CACHE/skopeo" ] && qualifies "$CACHE/skopeo"; then
  printf '%s\n' "$CACHE/skopeo"; exit 0
fi

case "$(dpkg --print-architecture 2>/dev/null)" in
  amd64) TRIPLET=x86_64-linux-gnu LOADER=ld-linux-x86-64.so.2 ;;
  arm64) TRIPLET=aarch64-linux-gnu LOADER=ld-linux-aarch64.so.1 ;;
  *) die "no sigstore-capable skopeo on PATH and no Debian 13 fallback for this architecture" ;;
esac
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
  die "no sigstore-capable skopeo on PATH, and apt-get/dpkg-deb are missing to fetch one"

debian_mirror() { # the first non-security Debian URI of this machine's apt sources
  local f u
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    u=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$f")
    [ -n "$u" ] && { printf '%s' "$u"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    u=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' "$f")
    [ -n "$u" ] && { printf '%s' "$u"; return 0; }
  done
  printf '%s' http://deb.debian.org/debian
}

mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock 9 # parallel test workers: one downloads, the others wait and reuse
if [ -x "$CACHE/skopeo" ] && qualifies "$CACHE/skopeo"; then
  printf '%s\n' "$CACHE/skopeo"; exit 0
fi

echo "$PROG: fetching Debian 13 skopeo (sigstore-enabled) into $CACHE" >&2
work=$(mktemp -d "$CACHE.tmp.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/debs" "$work/out/root"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""; [ -r "$keyring" ] && signed="[signed-by=$keyring] "
echo "deb ${signed}${DEBIAN_MIRROR:-$(debian_mirror)} trixie main" >"$work/apt/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/apt/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
  -o "APT::Sandbox::User=$(id -un)" -o "Debug::NoLocking=1")
apt-get "${apt_opts[@]}" update -qq >&2 || die "apt-get update (private trixie list) failed"
(cd "$work/debs" && apt-get "${apt_opts[@]}" download "${PKGS[@]}" >&2) ||
  die "apt-get download ${PKGS[*]} failed"
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$work/out/root"; done
cat >"$work/out/skopeo" <<EOF
#!/bin/sh
# Debian 13 skopeo, run through its own glibc loader (written by ocisign scripts/get-skopeo.sh)
here=\$(dirname "\$(readlink -f "\$0")")
lib="\$here/root/usr/lib/$TRIPLET"
exec "\$lib/$LOADER" --library-path "\$lib" "\$here/root/usr/bin/skopeo" "\$@"
EOF
chmod +x "$work/out/skopeo"
qualifies "$work/out/skopeo" || die "the unpacked Debian 13 skopeo does not run here"
rm -rf -- "$CACHE"
mv "$work/out" "$CACHE"
printf '%s\n' "$CACHE/skopeo"
