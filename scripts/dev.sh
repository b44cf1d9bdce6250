#!/usr/bin/env bash
# Run the whole stack locally: DynamoDB Local, a Twilio stand-in that prints
# each SMS, both functions under `cargo lambda watch` (rebuilt on every save),
# and one gateway URL in front of them, like API Gateway. Ctrl-C stops it all.
# Ports: DYNAMODB_PORT (8000), TWILIO_STANDIN_PORT (3010), LAMBDA_PORT (9000),
# GATEWAY_PORT (3000).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
TWILIO_STANDIN_PORT="${TWILIO_STANDIN_PORT:-3010}"
LAMBDA_PORT="${LAMBDA_PORT:-9000}"
GATEWAY_PORT="${GATEWAY_PORT:-3000}"
TABLE=phone-verifications
BASE="http://127.0.0.1:$GATEWAY_PORT"

ensure_tools
for port in "$DYNAMODB_PORT" "$TWILIO_STANDIN_PORT" "$LAMBDA_PORT" "$GATEWAY_PORT"; do
  require_free_port "$port"
done

section "DynamoDB Local"
start_dynamodb_local "$DYNAMODB_PORT"
create_table "$TABLE"

section "Twilio stand-in (every SMS it 'sends' is printed below)"
start_bg - node "$SCRIPTS/twilio-standin.mjs" "$TWILIO_STANDIN_PORT"

section "Building the functions"
# Build up front so compile errors show here, not as a hanging request.
cargo build --bin send-verification-code --bin verify-phone-number

section "cargo lambda watch on 127.0.0.1:$LAMBDA_PORT (rebuilds on save)"
# The functions inherit this environment. Config goes by env, not by
# --env-var/--env-file: cargo-lambda logs those values, and the key is secret.
# RUST_LOG is passed with --env-var so that cargo-lambda's own log stays quiet.
VERIFICATIONS_TABLE="$TABLE" \
TWILIO_API_BASE="http://127.0.0.1:$TWILIO_STANDIN_PORT" \
TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
TWILIO_AUTH_TOKEN=local-dev-token \
TWILIO_FROM_NUMBER=+15005550006 \
CODE_HMAC_KEY="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
  start_bg - env -u RUST_LOG cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --env-var RUST_LOG=info

section "Gateway on $BASE"
LAMBDA_UPSTREAM="http://127.0.0.1:$LAMBDA_PORT" start_bg - node "$SCRIPTS/local-gateway.mjs" "$GATEWAY_PORT"
log "waiting for the functions to answer (the first start compiles; this can take minutes)"
# An empty body is a validation error (4xx): proves the function runs, sends nothing.
wait_http "$BASE/functions/verifyPhoneNumber" 900 -X POST -H 'Content-Type: application/json' -d '{}'
wait_http "$BASE/functions/sendVerificationCode" 900 -X POST -H 'Content-Type: application/json' -d '{}'

section "Ready: $BASE (Parse serverURL)"
cat <<EOF
  Send a code (the Twilio stand-in prints the SMS above/below):
    curl -s -X POST $BASE/functions/sendVerificationCode \\
      -H 'Content-Type: application/json' -d '{"phoneNumber": "+14155550123"}'

  Verify it (put the code from the stand-in's box instead of 123456):
    curl -s -X POST $BASE/functions/verifyPhoneNumber \\
      -H 'Content-Type: application/json' \\
      -d '{"phoneNumber": "+14155550123", "phoneVerificationCode": "123456"}'

  Messages the stand-in received: curl -s http://127.0.0.1:$TWILIO_STANDIN_PORT/messages
  DynamoDB Local: $AWS_ENDPOINT_URL_DYNAMODB (log: .tools/logs/dynamodb-$DYNAMODB_PORT.log)
  Press Ctrl-C to stop everything.
EOF

# Stay up until Ctrl-C, or stop (and clean up) if any server dies.
wait -n "${BG_PIDS[@]}" || true
echo "a background server exited; stopping" >&2
exit 1
