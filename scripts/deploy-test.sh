#!/usr/bin/env bash
# The deploy test: README's Deploy steps, executed against an AWS emulator
# (ministack: CloudFormation with the SAM transform, Lambda running the
# bootstraps as host processes, HTTP API, DynamoDB, SSM, IAM) - no Docker, no
# AWS account. Twice: with the emulator's IAM enforcement off, then on.
#   1. secrets into Parameter Store;  2. sam deploy;  3. assert what was created;
#   4. the Parse JS SDK flow, jose, a signed delivery report and a CORS
#      preflight through the deployed API, and the Verify v2 flow of Twilio's
#      npm and Python libraries (scripts/twilio-verify-flow.mjs, twilio_verify_flow.py),
#      the npm one in the stack's second Verify service too; with IAM on, Twilio's
#      stand-in dead: codes arrive through Plivo, Twilio's circuit opens;
#   5. sam deploy of a changed parameter;  6. sam delete.
# Builds the host-arch (x86_64) bootstraps once: the emulator runs them on
# this machine, so the test deploys template.yaml with its one `Architectures`
# line changed (the arm64 bootstraps that ship run under qemu in test.sh). Ports: EMULATOR_PORT (4566), DEPLOY_STANDIN_PORT (3012).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[[ "${TOOLS_READY:-}" == 1 ]] || ensure_tools

EMULATOR_PORT="${EMULATOR_PORT:-4566}"
STANDIN_PORT="${DEPLOY_STANDIN_PORT:-3012}"
export EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
require_free_port "$EMULATOR_PORT"
require_free_port "$STANDIN_PORT"

STACK=phone-verification-ci
# Every caller comes from 127.0.0.1 in the emulator (so its allowances are
# raised: the failover check alone sends 8 codes); smoke.sh's test number.
# (Its fixed code is a secret: Parameter Store test-phone-numbers, deploy_check.py.)
# The stand-in checks proofs of a human (secret human-proof-secret); a 2 s
# cooldown lets the fraud check ask again for a number it verified. Codes go
# through Twilio, else Plivo (both the stand-in; secret plivo-auth-token).
SETTINGS="TWILIO_API_BASE=http://127.0.0.1:$STANDIN_PORT MAX_REQUESTS_PER_CLIENT_PER_HOUR=1000 MAX_SENDS_PER_CLIENT_PER_HOUR=100 ENABLE_TEST_PHONE_NUMBERS=true TEST_PHONE_NUMBERS_VALID_UNTIL=$(date -u -d '+30 days' +%F) HUMAN_PROOF_VERIFY_URL=http://127.0.0.1:$STANDIN_PORT/siteverify RESEND_COOLDOWN_SECONDS=2 DELIVERY_ROUTES=*=twilio,plivo PLIVO_SENDER=+15005550007 PLIVO_API_BASE=http://127.0.0.1:$STANDIN_PORT"
SECRETS_PATH=/phone-verification/ci
AUTH_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# The Twilio Verify v2 compatible API: this run's service (template parameter
# VerifyServiceSid) and API key (Parameter Store, verify-api-keys: SK...:secret);
# deploy_check.py and scripts/twilio-verify-flow.mjs read them from here.
VERIFY_SERVICE_SID="VA$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
VERIFY_API_KEY_SID="SK$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
VERIFY_API_KEY_SECRET="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
# A second Verify service of the stack (VerifyServices): its own app name,
# 8-digit codes and verifications.
SHOP_SERVICE_SID="VA$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
VERIFY_SERVICES="$SHOP_SERVICE_SID|Shop|8|sms"
# The stack's key may use both services (grant *), not approve without a
# code; a second key may use the shop's service only (issue 20's boundaries).
SHOP_KEY="SKshop$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n'):$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
VERIFY_API_KEYS="$VERIFY_API_KEY_SID:$VERIFY_API_KEY_SECRET:*,$SHOP_KEY:$SHOP_SERVICE_SID"
export VERIFY_SERVICE_SID VERIFY_API_KEY_SID VERIFY_API_KEY_SECRET VERIFY_SERVICES
BUILD_DIR=.aws-sam/build-x86_64
HOST_TEMPLATE=.aws-sam/template-x86_64.yaml
export SETTINGS
check() { "$MINISTACK_VENV/bin/python" "$SCRIPTS/deploy_check.py" "$@"; }
# sam and the checks talk to the emulator, never to AWS.
emulator() { AWS_ENDPOINT_URL="$EMULATOR_URL" "$@"; }

section "Deploy test: sam build for x86_64 (the emulator runs bootstraps on this host)"
started=$SECONDS
mkdir -p .aws-sam
sed 's/^    Architectures: \[arm64\]$/    Architectures: [x86_64]/' template.yaml >"$HOST_TEMPLATE"
[[ "$(diff template.yaml "$HOST_TEMPLATE" | grep -c '^[<>]')" == 2 ]] ||
  { echo "the x86_64 template should differ from template.yaml in one line" >&2; exit 1; }
sam build --template-file "$HOST_TEMPLATE" --base-dir . --build-dir "$BUILD_DIR"

start_bg "$LOGS/deploy-standin.log" node "$SCRIPTS/twilio-standin.mjs" "$STANDIN_PORT"

# The SMS bodies the stand-in received (for NUMBER when given), oldest first,
# one JSON string per line. The stand-in keeps both rounds' messages: a check
# counts the lines before an action and reads those after it. (Read whole,
# never through `grep -q`: under pipefail its early exit fails curl.)
sms_bodies() {
  local query=""
  [[ -z "${1:-}" ]] || query="?to=${1/+/%2B}"
  node -e 'for (const m of JSON.parse(process.argv[1])) console.log(JSON.stringify(m.body ?? ""))' \
    "$(curl -sf "http://127.0.0.1:$STANDIN_PORT/messages$query")"
}

# The update adds AWS End User Messaging's rights: an origination identity and
# a configuration set (the emulator has no sms-voice API: nothing is sent).
AWS_SMS_RESOURCES="arn:aws:sms-voice:us-east-1:000000000000:phone-number/phone-ci,arn:aws:sms-voice:us-east-1:000000000000:configuration-set/otp-ci"
deploy() { # deploy APP_NAME [AWS_SMS_RESOURCES]: README's `sam deploy`, with this test's answers
  emulator sam deploy --template-file "$BUILD_DIR/template.yaml" --stack-name "$STACK" \
    --s3-bucket deploy-artifacts --region us-east-1 --capabilities CAPABILITY_IAM \
    --no-confirm-changeset --no-fail-on-empty-changeset --parameter-overrides \
    TwilioAccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa TwilioSender=+15005550006 PlivoAuthId=MADEPLOYTESTSTANDIN0 \
    "SecretsPath=$SECRETS_PATH" \
    "AppName=\"$1\"" CorsAllowOrigin=https://app.example.com \
    "Settings=\"$SETTINGS\"" "VerifyServiceSid=$VERIFY_SERVICE_SID" \
    "VerifyServices=\"$VERIFY_SERVICES\"" ${2:+"AwsSmsResources=\"$2\""} >"$LOGS/sam-deploy.log" 2>&1 ||
    { tail -30 "$LOGS/sam-deploy.log" >&2; return 1; }
}

for auth in false true; do
  if [[ "$auth" == true ]]; then mode=on; else mode=off; fi
  section "Deploy test: emulator with IAM enforcement $mode"
  # A clean environment: the functions inherit the emulator's.
  start_bg "$LOGS/ministack-$auth.log" env -i PATH="$PATH" HOME="$TOOLS" AUTH="$auth" \
    GATEWAY_PORT="$EMULATOR_PORT" BIND_HOST=127.0.0.1 AWS_ENDPOINT_URL="$EMULATOR_URL" \
    "$MINISTACK_VENV/bin/python" -m ministack
  emulator_pid="${BG_PIDS[-1]}"
  wait_http "$EMULATOR_URL/_ministack/health" 60
  step=$SECONDS
  "$MINISTACK_VENV/bin/aws" --endpoint-url "$EMULATOR_URL" s3 mb s3://deploy-artifacts >/dev/null
  check secrets "$SECRETS_PATH" "$AUTH_TOKEN" "$VERIFY_API_KEYS"
  deploy "Deploy Test"
  log "sam deploy: $((SECONDS - step)) s"
  api_url="$(check api-url "$STACK")"
  if [[ "$auth" == true ]]; then
    # Proof that IAM is enforced on the functions' roles: before the
    # workaround, the emulator's defect denies the scoped GetParameters grant
    # and the function cannot start.
    status="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$api_url/functions/verifyPhoneNumber" -d '{}')"
    [[ "$status" == 5* ]] || { echo "IAM enforcement seems off (got $status before the workaround)" >&2; exit 1; }
    log "IAM is enforced: before the workaround the function cannot read its secrets ($status)"
  fi
  check emulator-fixes "$STACK"
  check created "$STACK" "$SECRETS_PATH"
  log "API: $api_url"
  TWILIO_AUTH_TOKEN="$AUTH_TOKEN" node "$SCRIPTS/e2e-parse-sdk.mjs" "$api_url" "http://127.0.0.1:$STANDIN_PORT"
  node "$SCRIPTS/twilio-verify-flow.mjs" "$api_url" --standin "http://127.0.0.1:$STANDIN_PORT"
  # The same flow in the second service; its SMS name it and carry 8 digits.
  earlier="$(sms_bodies | wc -l)"
  VERIFY_SERVICE_SID="$SHOP_SERVICE_SID" node "$SCRIPTS/twilio-verify-flow.mjs" "$api_url" \
    --standin "http://127.0.0.1:$STANDIN_PORT"
  sent="$(sms_bodies | tail -n "+$((earlier + 1))")"
  [[ "$(wc -l <<<"$sent")" == 2 &&
     "$(grep -cE '^"Your Shop verification code is [0-9]{8}[^0-9]' <<<"$sent")" == 2 ]] ||
    { echo "the second service's SMS did not carry its app name and 8 digits: $sent" >&2; exit 1; }
  log "the second service's 2 SMS name 'Shop' and carry 8 digits"
  "$TWILIO_PYTHON_VENV/bin/python" "$SCRIPTS/twilio_verify_flow.py" "$api_url" \
    --standin "http://127.0.0.1:$STANDIN_PORT"
  "$SCRIPTS/smoke.sh" "$api_url"
  check trust "$api_url" "http://127.0.0.1:$STANDIN_PORT" "$VERIFY_SERVICE_SID" \
    "$VERIFY_API_KEY_SID:$VERIFY_API_KEY_SECRET" "$SHOP_KEY"
  check fraud "$api_url" "http://127.0.0.1:$STANDIN_PORT" "$VERIFY_SERVICE_SID" \
    "$VERIFY_API_KEY_SID:$VERIFY_API_KEY_SECRET"
  if [[ "$auth" == true ]]; then
    # Under the template's IAM: Twilio's stand-in dead, the route's second provider.
    check failover "$api_url" "http://127.0.0.1:$STANDIN_PORT" "$STACK"
  fi

  step=$SECONDS
  deploy "Deploy Test Two" "$AWS_SMS_RESOURCES"
  log "sam deploy (update, with AwsSmsResources): $((SECONDS - step)) s"
  check emulator-fixes "$STACK"
  check updated "$STACK" "Deploy Test Two" "$api_url" "$AWS_SMS_RESOURCES"
  earlier="$(sms_bodies +14155550144 | wc -l)"
  curl -sf -X POST "$api_url/functions/sendVerificationCode" -H 'content-type: application/json' \
    -d '{"phoneNumber": "+14155550144"}' >/dev/null
  sent="$(sms_bodies +14155550144 | tail -n "+$((earlier + 1))")"
  [[ "$sent" == *'Your Deploy Test Two verification code'* ]] ||
    { echo "the updated function did not send with the new app name: ${sent:-no SMS}" >&2; exit 1; }
  log "the updated function sends with the new app name"

  emulator sam delete --stack-name "$STACK" --region us-east-1 --no-prompts >"$LOGS/sam-delete.log" 2>&1 ||
    { tail -20 "$LOGS/sam-delete.log" >&2; exit 1; }
  check deleted "$STACK"
  kill -TERM -- "-$emulator_pid" 2>/dev/null || true
  wait "$emulator_pid" 2>/dev/null || true
done
log "deploy test: $((SECONDS - started)) s"
