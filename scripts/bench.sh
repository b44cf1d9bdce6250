#!/usr/bin/env bash
# The benchmark: one command, figures for the README's Benchmark section.
#   - handler overhead without I/O (cargo bench, in-memory ports);
#   - each release bootstrap under a local Lambda Runtime API against
#     DynamoDB Local and the Twilio stand-in: cold starts side by side with a
#     floor (bench/cold-start-floor: a bare lambda_http + DynamoDB bootstrap),
#     with the CPU used at init; warm p50/p99 and peak RSS;
#   - arm64 bootstrap and zip sizes (sam build);
#   - cost per million verifications from the measured durations.
# Ports: BENCH_DYNAMODB_PORT (8002), BENCH_STANDIN_PORT (3012). ROUNDS (500),
# COLD_STARTS (20 of each, alternated).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

BENCH_DYNAMODB_PORT="${BENCH_DYNAMODB_PORT:-8002}"
BENCH_STANDIN_PORT="${BENCH_STANDIN_PORT:-3012}"
ROUNDS="${ROUNDS:-500}"
COLD_STARTS="${COLD_STARTS:-20}"
RESULTS="$TOOLS/bench"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

ensure_tools
require_free_port "$BENCH_DYNAMODB_PORT"
require_free_port "$BENCH_STANDIN_PORT"

section "Machine"
log "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"

section "Handler overhead, in-memory ports (cargo bench)"
cargo bench -p integration-tests --bench handler 2>/dev/null | grep -v '^{' | tee "$RESULTS/handler.txt"

section "Release bootstraps (this machine's architecture) and the floor"
cargo build --release --bin send-verification-code --bin verify-phone-number
cargo build --release --manifest-path bench/cold-start-floor/Cargo.toml \
  --target-dir target/cold-start-floor

section "Cold start against the floor, warm latency and peak RSS, against DynamoDB Local"
start_dynamodb_local "$BENCH_DYNAMODB_PORT"
create_table phone-verifications-bench
start_bg "$LOGS/bench-standin.log" node "$SCRIPTS/twilio-standin.mjs" "$BENCH_STANDIN_PORT"
wait_http "http://127.0.0.1:$BENCH_STANDIN_PORT/messages" 30
export VERIFICATIONS_TABLE=phone-verifications-bench \
  TWILIO_API_BASE="http://127.0.0.1:$BENCH_STANDIN_PORT" \
  TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
  TWILIO_AUTH_TOKEN=bench-token \
  TWILIO_FROM_NUMBER=+15005550006 \
  CODE_HMAC_KEY="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
  IDENTITY_HMAC_KEY="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
  MAX_MESSAGES_PER_HOUR=1000000 MAX_MESSAGES_PER_COUNTRY_PER_HOUR=1000000 \
  MAX_SENDS_PER_CLIENT_PER_HOUR=1000000 \
  RUST_LOG=info
# Three runs, each on a fresh block of 10,000 numbers; verify checks a wrong
# code against each code just sent (two writes, as a real wrong guess).
# Fraud protection off: 500 sends to one prefix that never convert would be
# paused after 20, and the runs would time refusals.
for prefix in +1415555 +1212555 +1312555; do
  FRAUD_PROTECTION=off node "$SCRIPTS/bench-runtime.mjs" warm target/release/send-verification-code send "$ROUNDS" "$prefix" | tee -a "$RESULTS/runtime.jsonl"
  FRAUD_PROTECTION=off node "$SCRIPTS/bench-runtime.mjs" warm target/release/verify-phone-number verify "$ROUNDS" "$prefix" | tee -a "$RESULTS/runtime.jsonl"
done
# Then cold starts, once DynamoDB Local's JVM is warm (as DynamoDB always is):
# medians of COLD_STARTS fresh processes each, alternated; the ratio is to
# the floor's spawn to first answer.
node "$SCRIPTS/bench-runtime.mjs" cold "$COLD_STARTS" +1650555 \
  floor=target/cold-start-floor/release/cold-start-floor \
  send=target/release/send-verification-code \
  verify=target/release/verify-phone-number 2>"$RESULTS/cold.jsonl" | sed 's/^/    /'

if [[ "${PROFILE_INIT:-0}" == 1 ]]; then
  section "Where init's CPU goes: instructions under callgrind (release build with symbols)"
  cargo build --profile profiling --bin send-verification-code --bin verify-phone-number
  for function in send-verification-code verify-phone-number; do
    node "$SCRIPTS/bench-runtime.mjs" profile "target/profiling/$function" "$RESULTS/init-$function.callgrind"
    log "$function (inclusive instructions; full profile: callgrind_annotate $RESULTS/init-$function.callgrind)"
    callgrind_annotate --inclusive=yes --auto=no "$RESULTS/init-$function.callgrind" 2>/dev/null |
      grep -E "PROGRAM TOTALS|PhoneNumber::parse( \[.*)?$|numbering_plan::decode \[|consts.rs:core::ops::function::FnOnce::call_once|validator::number_type \[|ConfigLoader::load::\{\{closure\}\} \[|Messages::new \[|describe_table.rs" |
      sed -E 's/ \[.*//; s|/root/.cargo/registry/src/[^/]+/||; s/^/    /' | cut -c1-150
  done
fi

section "arm64 bootstraps (sam build) and their zips"
sam build >"$LOGS/bench-sam-build.log" 2>&1
for function in SendVerificationCodeFunction VerifyPhoneNumberFunction; do
  bootstrap=".aws-sam/build/$function/bootstrap"
  zip_bytes="$(python3 -c 'import io,sys,zipfile
buf=io.BytesIO()
with zipfile.ZipFile(buf,"w",zipfile.ZIP_DEFLATED,compresslevel=9) as z: z.write(sys.argv[1],"bootstrap")
print(len(buf.getvalue()))' "$bootstrap")"
  log "$function: bootstrap $(stat -c %s "$bootstrap") bytes, zip $zip_bytes bytes"
done

section "Cost per 1 million verifications (us-east-1 list prices; assumptions named)"
node - "$RESULTS/runtime.jsonl" "$RESULTS/cold.jsonl" <<'JS'
const fs = require('node:fs');
const lines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map(JSON.parse);
const runs = lines(process.argv[2]).slice(-6);
const cold = Object.fromEntries(lines(process.argv[3]).map((c) => [c.cold_start, c]));
const p50 = (fn) => { const v = runs.filter((r) => r.function === fn).map((r) => r.warm_p50_ms).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
// Assumptions, each named where it is used:
const twilioMs = 300;         // a real Twilio API call (the local stand-in answers in ~1 ms)
const gbSecond = 0.0000133334; // Lambda arm64 duration price
const memoryGb = 0.125;        // 128 MB
const lambdaRequest = 0.20e-6; // per request
const apiRequest = 1.00e-6;    // HTTP API, first 300 M requests a month
const writeUnit = 0.625e-6;    // DynamoDB on-demand, per write request unit
const readUnit = 0.125e-6;     // DynamoDB on-demand, per read request unit
// send: one 7-item transaction (2 units per item); right code: 3 writes, plus
// fraud protection's 2 approval counts.
const writeUnits = 7 * 2 + 3 + 2;
// send: fraud protection's snapshot, 5 eventually consistent item reads of
// 0.5 units (2 restrictions, the prefix, the country this hour and the last;
// unsharded budgets).
const readUnits = 5 * 0.5;
const billedMs = (ms) => Math.ceil(ms); // Lambda bills each invocation by the millisecond
const sendMs = p50('sendVerificationCode') + twilioMs;
const verifyMs = p50('verifyPhoneNumber');
const perMillion = (coldShare) => {
  // Lambda bills the init phase of a cold start too (measured init, this machine).
  const initMs = coldShare * (billedMs(cold.send.init_ms) + billedMs(cold.verify.init_ms));
  const lambda = ((billedMs(sendMs) + billedMs(verifyMs) + initMs) * memoryGb * gbSecond / 1000 + 2 * lambdaRequest) * 1e6;
  return { lambda, api: 2 * apiRequest * 1e6, dynamo: (writeUnits * writeUnit + readUnits * readUnit) * 1e6 };
};
const line = (k, v) => console.log(`    ${k.padEnd(58)} $${v.toFixed(2)}`);
console.log(`    durations: send ${sendMs.toFixed(1)} ms (incl. ${twilioMs} ms for Twilio), verify ${verifyMs.toFixed(1)} ms, init ${cold.send.init_ms.toFixed(1)} / ${cold.verify.init_ms.toFixed(1)} ms; 128 MB arm64`);
for (const share of [0, 1]) {
  const c = perMillion(share);
  console.log(`    with ${share * 100}% of invocations meeting a cold environment:`);
  line('Lambda (duration + requests)', c.lambda);
  line('API Gateway HTTP API', c.api);
  line(`DynamoDB on-demand (${writeUnits} write, ${readUnits} read units)`, c.dynamo);
  line('total per 1M verifications (excl. the SMS)', c.lambda + c.api + c.dynamo);
}
line('hosted verification API at $0.05 each', 50000);
JS
