#!/usr/bin/env bash
# Install the edgetune agent on a device as a systemd service running as an unprivileged user.
#
#   sudo scripts/install.sh [--prefix /opt/edgetune] [--user edgetune] [--data-dir /var/lib/edgetune]
#                           [--config /etc/edgetune/agent.config.json] [--package SPEC] [--dry-run]
#
# SPEC is what `npm install` takes: this checkout (default when run from it), a tarball from `npm pack`, or a
# registry name. The npm path without this script: `npm install -g --prefix /opt/edgetune edgetune`, then copy
# scripts/edgetune.service with the placeholders filled in.
set -euo pipefail

PREFIX=/opt/edgetune
SVC_USER=edgetune
DATA_DIR=/var/lib/edgetune
CONFIG=/etc/edgetune/agent.config.json
PACKAGE=""
DRY_RUN=0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 2; }
run() {
  if [ "$DRY_RUN" = 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --user) SVC_USER="${2:?--user needs a name}"; shift 2 ;;
    --data-dir) DATA_DIR="${2:?--data-dir needs a directory}"; shift 2 ;;
    --config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
    --package) PACKAGE="${2:?--package needs an npm spec}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[[ "$SVC_USER" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user '$SVC_USER' is not a valid user name"
for d in "$PREFIX" "$DATA_DIR" "$CONFIG"; do [[ "$d" = /* ]] || die "'$d' must be an absolute path"; done
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die "run as root (sudo), or use --dry-run to see the steps"; fi

NODE="$(command -v node || true)"
[ -n "$NODE" ] || die "node is not installed (edgetune needs Node.js >= 20.19)"
NODE_VERSION="$("$NODE" -p 'process.versions.node')"
"$NODE" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js $NODE_VERSION is too old; edgetune needs >= 20.19"
command -v npm >/dev/null || die "npm is not installed"
command -v systemctl >/dev/null || die "systemd (systemctl) is required for the service"

if [ -z "$PACKAGE" ]; then
  [ -f "$REPO/package.json" ] || die "no --package given and $REPO is not an edgetune checkout"
  PACKAGE="$REPO"
fi

echo "edgetune: installing $PACKAGE into $PREFIX (node $NODE_VERSION at $NODE)"
PACK_DIR=""
if [ -d "$PACKAGE" ]; then
  # A directory would be installed as a symlink to it; pack it into a tarball first (runs the build).
  PACK_DIR="$(mktemp -d)"
  run npm pack --silent --pack-destination "$PACK_DIR" "$PACKAGE"
  if [ "$DRY_RUN" = 1 ]; then PACKAGE="$PACK_DIR/edgetune-VERSION.tgz"; else PACKAGE="$(ls "$PACK_DIR"/*.tgz)"; fi
fi
# better-sqlite3 and onnxruntime-node carry native parts; npm >= 11 may need their install scripts approved.
run npm install --global --prefix "$PREFIX" --omit=dev --no-audit --no-fund "$PACKAGE"
[ -n "$PACK_DIR" ] && rm -rf "$PACK_DIR"

if ! id "$SVC_USER" >/dev/null 2>&1; then
  run useradd --system --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin --user-group "$SVC_USER"
fi
# Raspberry Pi: vcgencmd (throttle state) needs the video group.
if getent group video >/dev/null 2>&1; then run usermod -a -G video "$SVC_USER"; fi
run install -d -m 0750 -o "$SVC_USER" -g "$SVC_USER" "$DATA_DIR"
run install -d -m 0750 -o root -g "$SVC_USER" "$(dirname "$CONFIG")" "$(dirname "$CONFIG")/keys"

if [ ! -e "$CONFIG" ]; then
  DEVICE_ID="$(hostname | tr -c 'A-Za-z0-9_\n-' '-' | cut -c1-64)"
  TMP_CONFIG="$(mktemp)"
  cat >"$TMP_CONFIG" <<JSON
{
  "deviceId": "${DEVICE_ID:-edgetune-device}",
  "groups": [],
  "broker": { "url": "mqtts://broker.example:8883", "ca": "$(dirname "$CONFIG")/ca.crt" },
  "dataDir": "$DATA_DIR",
  "trustedKeys": ["$(dirname "$CONFIG")/keys/operator.pub"],
  "allowUnsigned": false
}
JSON
  run install -m 0640 -o root -g "$SVC_USER" "$TMP_CONFIG" "$CONFIG"
  rm -f "$TMP_CONFIG"
  echo "edgetune: wrote $CONFIG; set broker.url (and ca/cert/key or username/password) and copy the operator's public key to $(dirname "$CONFIG")/keys/operator.pub"
else
  echo "edgetune: keeping the existing $CONFIG"
fi

UNIT="$(mktemp)"
sed -e "s|@USER@|$SVC_USER|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@CONFIG@|$CONFIG|g" -e "s|@DATADIR@|$DATA_DIR|g" -e "s|@NODE@|$NODE|g" \
  "$HERE/edgetune.service" >"$UNIT"
if grep -q '@[A-Z]*@' "$UNIT"; then rm -f "$UNIT"; die "unit template has an unfilled placeholder"; fi
run install -m 0644 "$UNIT" /etc/systemd/system/edgetune.service
rm -f "$UNIT"
run systemctl daemon-reload
run systemctl enable edgetune.service

echo "edgetune: installed. Check the config with:"
echo "  sudo -u $SVC_USER $PREFIX/bin/edgetune start --config $CONFIG   (Ctrl-C once it connects)"
echo "then: sudo systemctl start edgetune && journalctl -u edgetune -f"
