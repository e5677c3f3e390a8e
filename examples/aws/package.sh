#!/bin/sh
# Builds the gate function's zip for template.yaml: the `qod` binary, the
# `bootstrap` beside this script, the policy, and the plugins folder, then
# checks what went in.
#
#   examples/aws/package.sh [--arch arm64|x86_64] [--version 0.2.0 | --binary PATH]
#                           [--policy qod.yaml] [--plugins plugins] [--out dist/qod-lambda.zip]
#
# Without --binary, the release's Linux (musl) binary for --arch is
# downloaded and its checksum checked (install.sh does it: QOD_VERSION,
# QOD_REPO and QOD_DOWNLOAD_URL apply). With --binary, a binary of your own
# build is used (`cargo build --release --target aarch64-unknown-linux-musl`).
# Run it where the policy is (the repository's root); the zip is written to
# --out, which template.yaml's CodeUri names (dist/qod-lambda.zip beside it).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
arch=arm64
version="${QOD_VERSION:-}"
binary=""
policy=qod.yaml
plugins=plugins
out="$here/dist/qod-lambda.zip"

die() {
  echo "package.sh: error: $1" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="${2:-}"; shift 2 ;;
    --version) version="${2:-}"; shift 2 ;;
    --binary) binary="${2:-}"; shift 2 ;;
    --policy) policy="${2:-}"; shift 2 ;;
    --plugins) plugins="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument \`$1\`; see --help" ;;
  esac
done

case "$arch" in
  arm64) target=aarch64-unknown-linux-musl; machine=b7 ;;
  x86_64) target=x86_64-unknown-linux-musl; machine=3e ;;
  *) die "--arch is arm64 or x86_64 (the template's Architecture), not \`$arch\`" ;;
esac
[ -f "$policy" ] || die "no policy at \`$policy\`; run package.sh where the policy is, or give --policy FILE"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to write the zip"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "$binary" ]; then
  QOD_INSTALL_DIR="$tmp/bin" QOD_TARGET="$target" QOD_VERSION="$version" sh "$here/../../install.sh" >&2 ||
    die "cannot download qod for $target (see above); or build it and pass --binary PATH"
  binary="$tmp/bin/qod"
fi
[ -f "$binary" ] || die "no binary at \`$binary\`"

# The binary must be a Linux executable for the function's processor: the
# ELF magic, then e_machine (0x3e x86-64, 0xb7 AArch64) at byte 18.
magic=$(od -An -tx1 -N4 "$binary" | tr -d ' \n')
[ "$magic" = 7f454c46 ] || die "\`$binary\` is not a Linux executable (ELF); Lambda runs Linux binaries"
have=$(od -An -tx1 -j18 -N1 "$binary" | tr -d ' \n')
[ "$have" = "$machine" ] ||
  die "\`$binary\` is not built for $arch (ELF machine 0x$have); build for $target, or give --arch to match it"

# What the policy needs is checked here, where mistakes are cheap, when
# the binary runs on this machine.
if "$binary" --version >/dev/null 2>&1; then
  "$binary" validate --policy "$policy" >&2 || die "\`$policy\` is not valid (see above); fix it before packaging"
fi

mkdir -p "$(dirname "$out")"
python3 - "$out" "$binary" "$here/bootstrap" "$policy" "$plugins" <<'PY'
import os
import sys
import zipfile

out, binary, bootstrap, policy, plugins = sys.argv[1:6]
entries = [("qod", binary, 0o755), ("bootstrap", bootstrap, 0o755), (os.path.basename(policy), policy, 0o644)]
if os.path.isdir(plugins):
    for root, dirs, files in os.walk(plugins):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            entries.append((os.path.relpath(path, os.path.dirname(plugins) or "."), path, mode))
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for name, path, mode in entries:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            z.writestr(info, f.read())
os.replace(tmp, out)
PY

# What went in: the runtime and qod, executable, and the policy.
python3 - "$out" "$(basename "$policy")" <<'PY'
import sys
import zipfile

out, policy = sys.argv[1:3]
with zipfile.ZipFile(out) as z:
    modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
for name in ("bootstrap", "qod"):
    if not modes.get(name, 0) & 0o100:
        sys.exit(f"package.sh: error: `{name}` is not in {out} as an executable")
if policy not in modes:
    sys.exit(f"package.sh: error: the policy `{policy}` is not in {out}")
for name in sorted(modes):
    print(f"  {oct(modes[name])[2:]}  {name}", file=sys.stderr)
PY
echo "package.sh: wrote $out ($arch): deploy it with \`sam deploy --guided\` in $here (docs/aws.md)" >&2
