#!/usr/bin/env bash
# Smoke test of a deployed stack, through its public URL, with a test number
# (so nothing is sent; its send and checks count as any number's): send, a
# wrong code, the right code, bad input, the JWKS. Enable the test number on
# the stack first: its fixed code is a secret,
#   aws ssm put-parameter --type SecureString --name <SecretsPath>/test-phone-numbers --value +14155550199=123456
#   Settings="ENABLE_TEST_PHONE_NUMBERS=true TEST_PHONE_NUMBERS_VALID_UNTIL=2026-12-31"
#   scripts/smoke.sh https://abc123.execute-api.us-east-1.amazonaws.com [+14155550199 123456]
set -euo pipefail
api="${1:?usage: scripts/smoke.sh API_URL [TEST_NUMBER CODE]}"
number="${2:-+14155550199}"
code="${3:-123456}"
wrong="$(( (${code:0:1} + 1) % 10 ))${code:1}"
failures=0

call() { # call NAME JSON -> "STATUS BODY"
  curl -s -X POST "$api/functions/$1" -H 'content-type: application/json' -d "$2" \
    -w '\n%{http_code}' --max-time 30 | { read -r body; read -r status; echo "$status $body"; }
}
expect() { # expect DESCRIPTION "STATUS BODY" STATUS TEXT
  if [[ "$2" == "$3 "*"$4"* ]]; then echo "ok   $1"
  else echo "FAIL $1: got $2"; failures=$((failures + 1)); fi
}

expect "sendVerificationCode answers pending" \
  "$(call sendVerificationCode "{\"phoneNumber\": \"$number\"}")" 200 '"status":"pending"'
expect "a wrong code is incorrect_code" \
  "$(call verifyPhoneNumber "{\"phoneNumber\": \"$number\", \"phoneVerificationCode\": \"$wrong\"}")" 400 '"reason":"incorrect_code"'
expect "the right code is approved" \
  "$(call verifyPhoneNumber "{\"phoneNumber\": \"$number\", \"phoneVerificationCode\": \"$code\"}")" 200 '"status":"approved"'
expect "bad input is a 400 with a reason" \
  "$(call sendVerificationCode '{}')" 400 '"reason":"missing_parameter"'
jwks="$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$api/.well-known/jwks.json")"
expect "the JWKS answers (404 when proof tokens are off)" "$jwks " "$jwks" ""
[[ "$jwks" == 200 || "$jwks" == 404 ]] || { echo "FAIL jwks status $jwks"; failures=$((failures + 1)); }

echo "$((5 - failures)) passed, $failures failed"
exit $((failures > 0))
