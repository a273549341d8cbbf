# shellcheck shell=bash
# Sourced by the sitting scripts: a fresh database and key prefix on the
# private stack (scripts/stack.sh), keys, the shared settings exported, and
# helpers to start release services and stop them (and drop the database)
# on exit. Sets: out, db, keys, bin (SITTING_BIN_DIR, default
# target/release), SALE_URL, QUEUE_URL and the services' env.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/stack.sh >/dev/null
sitting="${SITTING_NAME:-sitting}"
out="loadtest/out/$sitting-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
keys="$out/keys"
bin="${SITTING_BIN_DIR:-target/release}"
"$bin/admission" keygen --out "$keys" >/dev/null
db="lineup_${sitting//-/_}_$$"
psql -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
admin_url="$DATABASE_URL"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export DATABASE_URL="${DATABASE_URL%/*}/$db" REDIS_PREFIX="$sitting-$$"
export ADMISSION_JWKS="$keys/admission-jwks.json" ADMISSION_KEY="$keys/admission-key.pem"
export USER_JWT_SECRET="sitting-user-secret-0123456789" OPERATOR_API_KEY="sitting-operator"
export ADMISSION_MAC_KEY="sitting-admission-mac-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PAYMENT_WEBHOOK_SECRET=whsec RUST_LOG=warn
export SEARCH_CURSOR_KEY="sitting-search-cursor-key-0123456789"
# The generator's fans do not solve proofs of work, and come from few addresses.
export POW_BASE_MAXNUMBER=0 JOIN_RATE_PER_NETWORK=1000000
export SALE_ADDR="127.0.0.1:$(free_port)" QUEUE_ADDR="127.0.0.1:$(free_port)"
export SALE_URL="http://$SALE_ADDR" QUEUE_URL="http://$QUEUE_ADDR"
export CHECKOUT_URL="$QUEUE_URL/drops/{drop}" ALLOWED_ORIGINS="*" CORS_ORIGINS="$QUEUE_URL"
ulimit -n 20000 2>/dev/null || true
service_pids=()

# start_service BINARY NAME: runs it in the background (log in $out/NAME.log)
# and waits until it answers /readyz; its pid goes to ${NAME}_pid.
start_service() {
  local bin="$1" name="$2" url
  "$bin" >"$out/$name.log" 2>&1 &
  printf -v "${name}_pid" '%s' "$!"
  service_pids+=("$!")
  case "$name" in sale) url="$SALE_URL" ;; *) url="$QUEUE_URL" ;; esac
  for _ in $(seq 100); do curl -fs "$url/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "$name did not become ready; see $out/$name.log" >&2
  exit 1
}

sitting_cleanup() {
  kill "${service_pids[@]}" 2>/dev/null || true
  wait "${service_pids[@]}" 2>/dev/null || true
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap sitting_cleanup EXIT
