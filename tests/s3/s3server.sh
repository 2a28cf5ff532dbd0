#!/usr/bin/env bash
# Starts and stops the local test S3 server (and optionally the fault proxy) for hyperfold's tests.
#   s3server.sh start DIR [BUCKET...]   start s3rver on 127.0.0.1 with a free port; data in DIR/data;
#                                       prints the endpoint URL (also in DIR/endpoint)
#   s3server.sh proxy DIR NAME MODE COUNT   start a fault proxy in front of it; prints its URL;
#                                       its request log is DIR/NAME.log
#   s3server.sh http DIR NAME RANGES HEAD FILES   start a static HTTP server for FILES (RANGES,
#                                       HEAD: yes|no); prints its URL; request log DIR/NAME.log
#   s3server.sh stop DIR                stop everything started under DIR (by recorded PIDs)
# `npm ci` runs (quietly) only when tests/s3/server/node_modules is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|proxy|stop DIR ..." >&2; exit 2; }

wait_port_file() { # FILE PID
  for _ in $(seq 1 200); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

case "$cmd" in
start)
  shift 2
  command -v node >/dev/null || { echo "s3server.sh: node is not installed" >&2; exit 1; }
  if [ ! -d "$here/server/node_modules/@20minutes/s3rver" ]; then
    (cd "$here/server" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  mkdir -p "$dir/data"
  rm -f "$dir/port"
  # s3rver encrypts continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
  node --openssl-legacy-provider "$here/server/run-server.js" "$dir/data" 0 "$dir/port" "$@" >"$dir/server.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/server.pid"
  if ! wait_port_file "$dir/port" "$pid"; then
    echo "s3server.sh: the S3 server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
  echo "http://127.0.0.1:$(cat "$dir/port")" | tee "$dir/endpoint"
  ;;
proxy)
  name="$3"; mode="$4"; count="${5:-0}"
  rm -f "$dir/$name.port"
  node "$here/faultproxy.js" --target "127.0.0.1:$(cat "$dir/port")" --port-file "$dir/$name.port" \
    --mode "$mode" --count "$count" --log "$dir/$name.log" >"$dir/$name.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/$name.pid"
  if ! wait_port_file "$dir/$name.port" "$pid"; then
    echo "s3server.sh: the fault proxy did not start:" >&2
    cat "$dir/$name.out" >&2
    exit 1
  fi
  echo "http://127.0.0.1:$(cat "$dir/$name.port")"
  ;;
http)
  # s3server.sh http DIR NAME RANGES(yes|no) HEAD(yes|no) FILES_DIR: a static file server.
  name="$3"; ranges="$4"; head="$5"; files="$6"
  rm -f "$dir/$name.port"
  node "$here/httpserver.js" --dir "$files" --port-file "$dir/$name.port" --ranges "$ranges" \
    --head "$head" --log "$dir/$name.log" >"$dir/$name.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/$name.pid"
  if ! wait_port_file "$dir/$name.port" "$pid"; then
    echo "s3server.sh: the HTTP server did not start:" >&2
    cat "$dir/$name.out" >&2
    exit 1
  fi
  echo "http://127.0.0.1:$(cat "$dir/$name.port")"
  ;;
stop)
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  ;;
*)
  echo "usage: $0 start|proxy|stop DIR ..." >&2; exit 2 ;;
esac
