#!/usr/bin/env bash
# Run the whole stack locally: DynamoDB Local, a Twilio, Plivo and AWS stand-in
# that prints each SMS, and both functions behind one local API Gateway URL, each a pool
# of processes as Lambda runs them (`cargo build` in another terminal reloads
# them), and the web client kit (clients/web) on an origin of its own, so
# the browser calls the API cross-origin as in production. Ctrl-C stops it all.
# Ports: DYNAMODB_PORT (8000), TWILIO_STANDIN_PORT (3010), GATEWAY_PORT (3000),
# DEMO_PORT (3030).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
TWILIO_STANDIN_PORT="${TWILIO_STANDIN_PORT:-3010}"
GATEWAY_PORT="${GATEWAY_PORT:-3000}"
DEMO_PORT="${DEMO_PORT:-3030}"
TABLE=phone-verifications
BASE="http://127.0.0.1:$GATEWAY_PORT"
# The page calls http://127.0.0.1:3000 unless told another API by ?api=.
DEMO="http://127.0.0.1:$DEMO_PORT/"
[[ "$GATEWAY_PORT" == 3000 ]] || DEMO+="?api=$BASE"

ensure_tools
for port in "$DYNAMODB_PORT" "$TWILIO_STANDIN_PORT" "$GATEWAY_PORT" "$DEMO_PORT"; do
  require_free_port "$port"
done

section "DynamoDB Local"
start_dynamodb_local "$DYNAMODB_PORT"
create_table "$TABLE"

start_functions "$TWILIO_STANDIN_PORT" "$GATEWAY_PORT" "$TABLE"

section "Demo page (clients/web), served apart from the API"
start_demo_page "$DEMO_PORT"

section "Ready: $BASE (Parse serverURL)"
cat <<EOF
  Try it in a browser: $DEMO
    (the web client kit; the stand-in prints the code it "sends" above/below)

  Send a code (the Twilio stand-in prints the SMS above/below):
    curl -s -X POST $BASE/functions/sendVerificationCode \\
      -H 'Content-Type: application/json' -d '{"phoneNumber": "+14155550123"}'

  Verify it (put the code from the stand-in's box instead of 123456):
    curl -s -X POST $BASE/functions/verifyPhoneNumber \\
      -H 'Content-Type: application/json' \\
      -d '{"phoneNumber": "+14155550123", "phoneVerificationCode": "123456"}'

  Messages the stand-in received: curl -s http://127.0.0.1:$TWILIO_STANDIN_PORT/messages
  Make a provider fail (docs/local.md; DELIVERY_ROUTES='*=plivo' or '*=aws' scripts/dev.sh
  routes through Plivo or AWS End User Messaging):
    curl -s -X POST http://127.0.0.1:$TWILIO_STANDIN_PORT/control -d '{"provider": "twilio", "mode": "dead"}'
  DynamoDB Local: $AWS_ENDPOINT_URL_DYNAMODB (log: .tools/logs/dynamodb-$DYNAMODB_PORT.log)
  Press Ctrl-C to stop everything.
EOF

# Stay up until Ctrl-C, or stop (and clean up) if any server dies.
wait -n "${BG_PIDS[@]}" || true
echo "a background server exited; stopping" >&2
exit 1
