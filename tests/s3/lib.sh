# Shared setup for the S3 shell tests (sourced). Starts a private s3rver under $WORK and stops it,
# and any fault proxies, on exit. Provides: $EP (endpoint), $HFS3 (the `hyperfold s3` command),
# awsx (Debian's awscli pointed at the server), fail MSG.
set -euo pipefail
S3DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/hf_s3_test.XXXXXX)"
SERVER="$S3DIR/s3server.sh"
cleanup() {
  "$SERVER" stop "$WORK" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A clean AWS environment: only the test server's credentials, no user files.
export HOME="$WORK/home"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE AWS_ENDPOINT_URL || true
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""

# `hyperfold s3` if the main binary has the subcommand, else the test driver built from
# tests/s3/test_unit.c (same hf_cmd_s3).
HFS3=()
if [ -n "${HYPERFOLD:-}" ] && "$HYPERFOLD" s3 --help >/dev/null 2>&1; then
  HFS3=("$HYPERFOLD" s3)
else
  for cand in "${HF_BUILD_DIR:-build}/tests/s3_test_unit" "${HF_S3_DRIVER:-}"; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then HFS3=("$cand" s3); break; fi
  done
fi
[ ${#HFS3[@]} -gt 0 ] || fail "neither \$HYPERFOLD s3 nor the s3_test_unit driver is available"
hfs3() { "${HFS3[@]}" "$@"; }

AWS_BIN=/usr/bin/aws
[ -x "$AWS_BIN" ] || fail "Debian's awscli (/usr/bin/aws) is not installed"

EP="$("$SERVER" start "$WORK" bkt other)"
awsx() { "$AWS_BIN" --endpoint-url "$EP" "$@"; }
awscp() { "$AWS_BIN" --endpoint-url "$EP" s3 cp --only-show-errors "$@"; }
