#!/bin/sh
# Installs a prebuilt qod binary from the project's releases, checking it
# against the release's SHA-256 sums:
#
#   curl -fsSL https://github.com/example/qod/releases/latest/download/install.sh | sh
#
# Settings (environment variables):
#   QOD_VERSION       the version to install (`0.2.0`; default: the latest release)
#   QOD_INSTALL_DIR   where the binary goes (default: ~/.local/bin)
#   QOD_REPO          the GitHub repository of the releases (default: example/qod)
#   QOD_DOWNLOAD_URL  the releases' base URL (default: https://github.com/$QOD_REPO/releases)
#   QOD_TARGET        the platform to install for (default: this machine's)
#   QOD_INSTALL_TIMEOUT  the most seconds one download may take (default: 300;
#                     a download that stalls for 30 s fails sooner)
#
# Exit codes: 0 installed; 1 failed (network, tools); 3 no binary for this
# platform and version (build from source instead); 4 the checksum did not
# match (nothing was installed).
set -eu

repo="${QOD_REPO:-example/qod}"
base="${QOD_DOWNLOAD_URL:-https://github.com/$repo/releases}"
base="${base%/}"
dir="${QOD_INSTALL_DIR:-$HOME/.local/bin}"

timeout="${QOD_INSTALL_TIMEOUT:-300}"
# Never wait forever: a connection, a stalled transfer, a whole download.
curl_opts="--connect-timeout 20 --speed-limit 1 --speed-time 30 --max-time $timeout"

say() { printf 'qod-install: %s\n' "$*" >&2; }

# curl in the background, its `-w` output in file $1: a shell runs its
# traps only once the command in the foreground ends, so a signal during a
# download is handled at once (and the download stopped) only this way.
pid=""
fetch() {
  out="$1"
  shift
  # shellcheck disable=SC2086
  curl $curl_opts "$@" >"$out" &
  pid=$!
  wait "$pid"
  code=$?
  pid=""
  return "$code"
}
die() { code="$1"; shift; say "error: $*"; exit "$code"; }

command -v curl >/dev/null 2>&1 || die 1 "curl is needed to download qod; install it (apt-get install curl, apk add curl)"
command -v tar >/dev/null 2>&1 || die 1 "tar is needed to unpack qod"

# The platform, as Rust names it: the names the release archives carry.
target="${QOD_TARGET:-}"
if [ -z "$target" ]; then
  case "$(uname -s)" in
    Linux) os=unknown-linux-musl ;;
    Darwin) os=apple-darwin ;;
    *) die 3 "no prebuilt qod for $(uname -s); build it from source: cargo install --locked --git https://github.com/$repo qod" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die 3 "no prebuilt qod for $(uname -m); build it from source: cargo install --locked --git https://github.com/$repo qod" ;;
  esac
  target="$arch-$os"
fi

# The version: given, or the one the latest release redirects to.
version="${QOD_VERSION:-}"
version="${version#v}"
tmp=$(mktemp -d)
# The temporary folder goes on any exit; a signal ends the script (and the
# download under way): a trap alone would carry on after it.
trap 'rm -rf "$tmp"' EXIT
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 130' INT
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 143' TERM

if [ -z "$version" ]; then
  fetch "$tmp/latest" -fsSL -o /dev/null -w '%{url_effective}' "$base/latest" ||
    die 1 "cannot find the latest release at $base/latest; set QOD_VERSION"
  url=$(cat "$tmp/latest")
  version="${url##*/}"
  version="${version#v}"
  case "$version" in
    [0-9]*) ;;
    *) die 1 "cannot tell the latest version from $url; set QOD_VERSION" ;;
  esac
fi

archive="qod-$version-$target.tar.gz"
sums="qod-$version-sha256sums.txt"

# 404: no binary for this platform (or no such version); anything else: the network.
get() {
  fetch "$tmp/status" -sSL --retry 3 -o "$tmp/$2" -w '%{http_code}' "$1" ||
    die 1 "cannot download $1 (no connection, or nothing came for 30 s, or it took over ${timeout}s: QOD_INSTALL_TIMEOUT)"
  status=$(cat "$tmp/status")
  [ "$status" = 200 ] || return 1
}
get "$base/download/v$version/$sums" "$sums" ||
  die 3 "no release v$version at $base (HTTP $status for $sums); check QOD_VERSION"
get "$base/download/v$version/$archive" "$archive" ||
  die 3 "no prebuilt qod $version for $target (HTTP $status for $archive); build it from source: cargo install --locked --git https://github.com/$repo --tag v$version qod"

want=$(awk -v f="$archive" '$2 == f || $2 == "*"f { print $1 }' "$tmp/$sums")
[ -n "$want" ] || die 4 "$sums lists no checksum for $archive; refusing to install"
if command -v sha256sum >/dev/null 2>&1; then
  have=$(sha256sum "$tmp/$archive" | awk '{ print $1 }')
else
  have=$(shasum -a 256 "$tmp/$archive" | awk '{ print $1 }')
fi
[ "$have" = "$want" ] ||
  die 4 "checksum mismatch for $archive: expected $want, got $have; refusing to install (a damaged download, or a file that is not the release's)"

tar -xzf "$tmp/$archive" -C "$tmp" || die 1 "cannot unpack $archive"
mkdir -p "$dir" || die 1 "cannot create $dir; set QOD_INSTALL_DIR"
# A name of this process's own, renamed over `qod` in one step: installs
# running at once into one folder do not write the same file.
new="$dir/.qod.new.$$"
trap 'rm -rf "$tmp" "$new"' EXIT
cp "$tmp/qod-$version-$target/qod" "$new" && chmod 755 "$new" && mv -f "$new" "$dir/qod" ||
  die 1 "cannot write $dir/qod; set QOD_INSTALL_DIR"
say "installed qod $version ($target) to $dir/qod"
case ":$PATH:" in
  *":$dir:"*) ;;
  *) say "note: $dir is not on PATH; add it: export PATH=\"$dir:\$PATH\"" ;;
esac
