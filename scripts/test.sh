#!/usr/bin/env bash
# Everything CI checks (.ci/run calls exactly this): formatting, clippy, the
# whole test suite against a real DynamoDB Local and Prism serving Twilio's
# official OpenAPI spec, the SAM template (cfn-lint, sam validate, checkov,
# sam build), the arm64 bootstraps run under qemu, and the deploy test
# (scripts/deploy-test.sh: deployed to an AWS emulator and exercised).
# `scripts/test.sh --quick`: only formatting, clippy and the unit tests (no
# services, nothing installed), for a fast loop while editing.
# Ports: TEST_DYNAMODB_PORT (8001), PRISM_PORT (4010), MOTO_PORT (5001),
# E2E_STANDIN_PORT (3011), E2E_GATEWAY_PORT (3001), LOAD_STANDIN_PORT (3013),
# LOAD_PORT (3002), FAILOVER_STANDIN_PORT (3014), FAILOVER_PORT (3003),
# E2E_DEMO_PORT (3031) - apart from dev.sh's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

TEST_DYNAMODB_PORT="${TEST_DYNAMODB_PORT:-8001}"
PRISM_PORT="${PRISM_PORT:-4010}"
MOTO_PORT="${MOTO_PORT:-5001}"
TWILIO_SPEC="$TWILIO_SPECS/twilio_api_v2010.json" # from @twilio/cli-core@9.0.0 (lib.sh)

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

if [[ "${1:-}" == --quick ]]; then
  section "Unit tests"
  cargo test --workspace --lib
  section "Quick checks passed (the whole suite: scripts/test.sh)"
  exit 0
fi

ensure_tools
require_free_port "$TEST_DYNAMODB_PORT"
require_free_port "$PRISM_PORT"
require_free_port "$MOTO_PORT"
for port in "${E2E_STANDIN_PORT:-3011}" "${E2E_GATEWAY_PORT:-3001}" "${LOAD_STANDIN_PORT:-3013}" "${LOAD_PORT:-3002}" \
  "${FAILOVER_STANDIN_PORT:-3014}" "${FAILOVER_PORT:-3003}" "${E2E_DEMO_PORT:-3031}"; do
  require_free_port "$port"
done

section "DynamoDB Local, Prism (Twilio API 2010 spec), moto (SSM Parameter Store)"
start_dynamodb_local "$TEST_DYNAMODB_PORT"
log "Prism on http://127.0.0.1:$PRISM_PORT (log: .tools/logs/prism.log)"
start_bg "$LOGS/prism.log" prism mock -h 127.0.0.1 -p "$PRISM_PORT" "$TWILIO_SPEC"
# Prism answers 404 on / once it is up.
wait_http "http://127.0.0.1:$PRISM_PORT/" 60 || { tail -20 "$LOGS/prism.log" >&2; exit 1; }

export TWILIO_PRISM_URL="http://127.0.0.1:$PRISM_PORT"
log "moto SSM on http://127.0.0.1:$MOTO_PORT (log: .tools/logs/moto.log)"
start_bg "$LOGS/moto.log" moto_server -H 127.0.0.1 -p "$MOTO_PORT"
wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" 60 || { tail -20 "$LOGS/moto.log" >&2; exit 1; }
export AWS_ENDPOINT_URL_SSM="http://127.0.0.1:$MOTO_PORT"

section "cargo test"
# The property tests (shared/src/fuzz_tests.rs) run 1000 cases each.
PROPTEST_CASES=1000 cargo test --workspace

section "End to end: the Parse JS SDK against the local stack (scripts/dev.sh's)"
create_table phone-verifications
# One client (this machine) makes every request of the e2e checks and of
# schemathesis: its hourly allowances are raised; the limits have their own tests.
MAX_SENDS_PER_CLIENT_PER_HOUR=100000 MAX_REQUESTS_PER_CLIENT_PER_HOUR=100000 \
  start_functions "${E2E_STANDIN_PORT:-3011}" "${E2E_GATEWAY_PORT:-3001}" phone-verifications
TWILIO_AUTH_TOKEN="$LOCAL_TWILIO_AUTH_TOKEN" \
  node "$SCRIPTS/e2e-parse-sdk.mjs" "http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}" "http://127.0.0.1:${E2E_STANDIN_PORT:-3011}"

section "End to end: the Kotlin client kit (clients/android) on the JVM against the same stack"
# The kit's portable part, compiled by kotlinc from npm (cached per content in
# .tools/kotlin-kit/), with clients/android/check/KitCheck.kt: send, a resend
# too soon (Retry-After), the code from the stand-in's SMS through the kit's
# OneTimeCodeSource, a wrong code, the right code, its reuse, and the proof
# token checked against the JWKS with the JDK's Ed25519.
build_kotlin_kit
java -cp "$KOTLIN_KIT_CLASSPATH" com.example.phoneverification.check.KitCheckKt \
  "http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}" "http://127.0.0.1:${E2E_STANDIN_PORT:-3011}"

section "Schemathesis: openapi.yaml against the local stack (checks, fuzzing, send-then-verify links)"
# Options in tests/schemathesis.toml. A fixed seed keeps CI repeatable.
if ! "$SCHEMATHESIS_VENV/bin/schemathesis" --config-file tests/schemathesis.toml run openapi.yaml \
  --url "http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}" --checks all --exclude-checks unsupported_method \
  --max-examples 100 --seed 1 --no-color >"$LOGS/schemathesis.log" 2>&1; then
  cat "$LOGS/schemathesis.log" >&2
  echo "schemathesis found failures (above)" >&2
  exit 1
fi
sed -n '/^Test Phases/,$p' "$LOGS/schemathesis.log" | grep -v '^\s*$'

section "Browser: the demo page in headless Chromium (WebOTP page, CORS from another origin)"
# clients/web served on its own origin against the e2e stack: send, a wrong
# code, a resend too soon, the right code, the proof token checked by
# clients/backend/verify-token.mjs. Screenshots: .tools/artifacts/browser/.
start_demo_page "${E2E_DEMO_PORT:-3031}"
node "$SCRIPTS/browser-test.mjs" "http://127.0.0.1:${E2E_DEMO_PORT:-3031}" \
  "http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}" "http://127.0.0.1:${E2E_STANDIN_PORT:-3011}"

section "Twilio Verify v2 compatible API: the twilio npm library, unchanged, against the local stack"
# Only its HTTP client is swapped, for one sending https://verify.twilio.com
# to the local gateway: send, wrong code, fetch, right code, reuse refused
# (20404), a wrong secret refused (20003), a canceled verification refused.
VERIFY_SERVICE_SID="$LOCAL_VERIFY_SERVICE_SID" VERIFY_API_KEY_SID="$LOCAL_VERIFY_API_KEY_SID" \
  VERIFY_API_KEY_SECRET="$LOCAL_VERIFY_API_KEY_SECRET" \
  node "$SCRIPTS/twilio-verify-flow.mjs" "http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}" \
  --standin "http://127.0.0.1:${E2E_STANDIN_PORT:-3011}"

section "Twilio Verify v2 compatible API: the twilio Python library, unchanged, against the local stack's second service"
# The stack's second Verify service (VERIFY_SERVICES): 8-digit codes of its own.
VERIFY_SERVICE_SID="$LOCAL_SECOND_SERVICE_SID" VERIFY_API_KEY_SID="$LOCAL_VERIFY_API_KEY_SID" \
  VERIFY_API_KEY_SECRET="$LOCAL_VERIFY_API_KEY_SECRET" \
  "$TWILIO_PYTHON_VENV/bin/python" "$SCRIPTS/twilio_verify_flow.py" \
  "http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}" --standin "http://127.0.0.1:${E2E_STANDIN_PORT:-3011}"

section "Schemathesis: Twilio's Verify v2 spec (the four operations we serve) against the local stack"
# Twilio's own spec (tests/twilio-spec/twilio_verify_v2.json), restricted to
# CreateVerification, CreateVerificationCheck, FetchVerification and
# UpdateVerification, with the local API key (HTTP Basic) and our one service
# SID in the path (any other SID is 404 20404). The checks:
#   not_a_server_error, content_type_conformance, response_schema_conformance,
#     response_headers_conformance: every answer the spec documents (201/200,
#     and 429) is JSON of Twilio's schema for it; nothing answers 5xx.
#   negative_data_rejection: a request the spec calls invalid (no To or
#     Channel, a Status out of its enum, a malformed VerificationSid...) is
#     refused with a 4xx.
#   positive_data_acceptance: a valid request with the key is never refused
#     for its credentials (401/403); the spec cannot say which To is a phone
#     number, which code is right or which VE... SID exists, so 400 (invalid
#     number or channel) and 404 (20404, no such pending verification) are
#     expected too, and 429 (limits).
#   ignored_auth: without the key, or with a wrong one, the answer is 401.
# Left out: status_code_conformance, as Twilio's spec documents only the
# success answers (and 429 for create), while Twilio (and we) answer 400, 401
# and 404 with its error body {code, message, more_info, status};
# unsupported_method and allow_header_conformance (API Gateway answers a method
# a route lacks with 404 "Not Found" before any function runs: no 405);
# use_after_free, ensure_resource_availability and object_level_authorization
# (the spec has no links between operations, and one key owns the service).
# It calls with the local key that may approve without a code, so that
# Status=approved is answered as the spec documents (the other key's 20403
# is checked by the twilio-node flow).
# Random strings are rarely phone numbers, SIDs or codes, so the settings
# (written here) give the generated requests our service SID, and often
# numbers of 212-555-01xx (fictional, apart from the flow's 415-555-01xx),
# channels and codes, and the SIDs of four verifications made first: checks
# and fetches get the first two (wrong codes: 200 pending until the attempts
# run out), cancels the other two, so that answers about real verifications
# are checked against the spec too. A fixed seed keeps CI repeatable.
verify_api="http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}/v2/Services/$LOCAL_VERIFY_SERVICE_SID"
verification_sids=()
for n in 01 02 03 04; do
  answer="$(curl -s -u "$LOCAL_VERIFY_API_KEY_SID:$LOCAL_VERIFY_API_KEY_SECRET" \
    --data-urlencode "To=+121255501$n" -d Channel=sms "$verify_api/Verifications")"
  sid="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["sid"])' "$answer" 2>/dev/null)" ||
    { echo "could not create a verification for +121255501$n: $answer" >&2; exit 1; }
  verification_sids+=("\"$sid\"")
done
cat >"$TOOLS/schemathesis-verify.toml" <<EOF
[parameters]
"path.ServiceSid" = "$LOCAL_VERIFY_SERVICE_SID"
"body.Channel" = { dictionary = "channels", probability = 0.7 }
"body.Code" = { dictionary = "codes", probability = 0.7 }

[dictionaries.channels]
values = ["sms", "call", "whatsapp"]

[dictionaries.codes]
values = ["000000", "123456", "999999", "0000"]

[dictionaries.numbers]
values = [$(for n in $(seq 0 99); do printf '"+121255501%02d", ' "$n"; done | sed 's/, $//')]

[dictionaries.pending-numbers]
values = ["+12125550101", "+12125550102"]

[dictionaries.pending]
values = [${verification_sids[0]}, ${verification_sids[1]}]

[dictionaries.all]
values = [${verification_sids[0]}, ${verification_sids[1]}, ${verification_sids[2]}, ${verification_sids[3]}]

[dictionaries.to-cancel]
values = [${verification_sids[2]}, ${verification_sids[3]}]

[[operations]]
include-operation-id = "CreateVerification"
parameters = { "body.To" = { dictionary = "numbers", probability = 0.7 } }

[[operations]]
include-operation-id = "CreateVerificationCheck"
parameters = { "body.To" = { dictionary = "pending-numbers", probability = 0.5 }, "body.VerificationSid" = { dictionary = "pending", probability = 0.5 } }

[[operations]]
include-operation-id = "FetchVerification"
parameters = { "path.Sid" = { dictionary = "all", probability = 0.7 } }

[[operations]]
include-operation-id = "UpdateVerification"
parameters = { "path.Sid" = { dictionary = "to-cancel", probability = 0.7 } }

[checks.positive_data_acceptance]
expected-statuses = ["200", "201", "400", "404", "429"]
EOF
if ! "$SCHEMATHESIS_VENV/bin/schemathesis" --config-file "$TOOLS/schemathesis-verify.toml" \
  run "$TWILIO_SPECS/twilio_verify_v2.json" --url "http://127.0.0.1:${E2E_GATEWAY_PORT:-3001}" \
  --include-operation-id CreateVerification --include-operation-id CreateVerificationCheck \
  --include-operation-id FetchVerification --include-operation-id UpdateVerification \
  --auth "$LOCAL_VERIFY_APPROVER_KEY_SID:$LOCAL_VERIFY_APPROVER_KEY_SECRET" \
  --checks not_a_server_error,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,positive_data_acceptance,ignored_auth \
  --max-examples 100 --seed 1 --no-color >"$LOGS/schemathesis-verify.log" 2>&1; then
  cat "$LOGS/schemathesis-verify.log" >&2
  echo "schemathesis found failures in the Twilio Verify API (above)" >&2
  exit 1
fi
sed -n '/^Test Phases/,$p' "$LOGS/schemathesis-verify.log" | grep -v '^\s*$'

section "Load: 20 users for ${LOAD_SECONDS:-60} s of whole verifications, the limits attacked meanwhile"
# Its own stack: each flow comes from its own address (X-Forwarded-For is
# trusted here only), and the hourly message budgets allow thousands of sends.
# Fraud protection is off here: the load's numbers share one prefix and its
# limit attacks never convert, which fraud protection rightly pauses (its own
# test: tests/tests/integration/fraud.rs); this check is about the static
# limits under concurrency.
create_table load-test
start_bg "$LOGS/load-standin.log" env TWILIO_STANDIN_QUIET=1 node "$SCRIPTS/twilio-standin.mjs" "${LOAD_STANDIN_PORT:-3013}"
MAX_MESSAGES_PER_HOUR=1000000 MAX_MESSAGES_PER_COUNTRY_PER_HOUR=1000000 TRUST_FORWARDED_FOR=1 FRAUD_PROTECTION=off \
  RUST_LOG=warn API_LOG="$LOGS/load-api.log" start_api "${LOAD_PORT:-3002}" load-test "${LOAD_STANDIN_PORT:-3013}"
node "$SCRIPTS/load.mjs" "http://127.0.0.1:${LOAD_PORT:-3002}" "http://127.0.0.1:${LOAD_STANDIN_PORT:-3013}" \
  "${LOAD_SECONDS:-60}" 20

section "Load with failover: Twilio dead from 20 s to 40 s of 120 s, routes *=twilio,plivo"
# The same load on a stack of its own (a fresh table: the breakers' state),
# Twilio and Plivo both on its stand-in; load.mjs kills and revives Twilio
# through the stand-in's /control and exits 1 on a failed send, a duplicate or
# lost code, or a circuit that did not open and close (docs/providers.md).
create_table load-failover-test
start_bg "$LOGS/load-failover-standin.log" env TWILIO_STANDIN_QUIET=1 node "$SCRIPTS/twilio-standin.mjs" "${FAILOVER_STANDIN_PORT:-3014}"
DELIVERY_ROUTES='*=twilio,plivo' MAX_MESSAGES_PER_HOUR=1000000 MAX_MESSAGES_PER_COUNTRY_PER_HOUR=1000000 \
  TRUST_FORWARDED_FOR=1 FRAUD_PROTECTION=off RUST_LOG=warn API_LOG="$LOGS/load-failover-api.log" \
  start_api "${FAILOVER_PORT:-3003}" load-failover-test "${FAILOVER_STANDIN_PORT:-3014}"
FAILOVER=1 node "$SCRIPTS/load.mjs" "http://127.0.0.1:${FAILOVER_PORT:-3003}" "http://127.0.0.1:${FAILOVER_STANDIN_PORT:-3014}" 120 20

section "template.yaml: cfn-lint, sam validate --lint, checkov, sam build (arm64)"
cfn-lint template.yaml
sam validate --lint
# Offline (no download of Prisma Cloud's guideline texts); 0 failed checks, and
# each skipped one carries its reason in the template's Metadata.
"$CHECKOV_VENV/bin/checkov" -f template.yaml --framework cloudformation --compact \
  --skip-download 2>/dev/null | grep -E "Passed checks|FAILED" || true
"$CHECKOV_VENV/bin/checkov" -f template.yaml --framework cloudformation --quiet --compact \
  --skip-download >/dev/null 2>&1 || { echo "checkov reports failed checks" >&2; exit 1; }
sam build
for function in SendVerificationCodeFunction VerifyPhoneNumberFunction; do
  bootstrap=".aws-sam/build/$function/bootstrap"
  # ELF e_machine (bytes 18-19) is 0xb7 for aarch64.
  [[ "$(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' ')" == b700 ]] ||
    { echo "$bootstrap is not an arm64 executable" >&2; exit 1; }
  log "$function: $(stat -c %s "$bootstrap") bytes"
done
# The verify function holds no Twilio client: no Twilio URL or form field in it.
for marker in api.twilio.com StatusCallback; do
  grep -q "$marker" .aws-sam/build/SendVerificationCodeFunction/bootstrap ||
    { echo "send bootstrap lacks $marker (marker check broken?)" >&2; exit 1; }
  ! grep -q "$marker" .aws-sam/build/VerifyPhoneNumberFunction/bootstrap ||
    { echo "verify bootstrap contains Twilio code ($marker)" >&2; exit 1; }
done
log "the verify bootstrap contains no Twilio client"

section "The arm64 bootstraps under qemu-user: send a code, approve it"
create_table arm64-check
node "$SCRIPTS/arm64-check.mjs" \
  .aws-sam/build/SendVerificationCodeFunction/bootstrap \
  .aws-sam/build/VerifyPhoneNumberFunction/bootstrap \
  "$AWS_ENDPOINT_URL_DYNAMODB" arm64-check "http://127.0.0.1:${E2E_STANDIN_PORT:-3011}"

scripts/deploy-test.sh

section "All checks passed"
