#!/usr/bin/env python3
"""The Twilio Verify v2 compatible API, driven by Twilio's own Python library
(PyPI `twilio`, unchanged): only its HTTP client is swapped for one that sends
https://verify.twilio.com/... to our API instead. Send, a wrong code
(pending), fetch, the right code (approved), a second check refused (20404),
a wrong secret refused (20003).

    twilio_verify_flow.py API_URL [--standin TWILIO_STANDIN_URL]

Env: VERIFY_SERVICE_SID, VERIFY_API_KEY_SID, VERIFY_API_KEY_SECRET (default:
the local ones of scripts/lib.sh).
"""

import argparse
import json
import os
import random
import re
import sys
import urllib.parse
import urllib.request

import twilio
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_VERIFY = "https://verify.twilio.com"

parser = argparse.ArgumentParser()
parser.add_argument("base", nargs="?", default="http://127.0.0.1:3000")
parser.add_argument("--standin", default="http://127.0.0.1:3010")
args = parser.parse_args()
base, standin = args.base.rstrip("/"), args.standin.rstrip("/")
service_sid = os.environ.get("VERIFY_SERVICE_SID") or "VA0123456789abcdef0123456789abcdef"
key_sid = os.environ.get("VERIFY_API_KEY_SID") or "SK0123456789abcdef0123456789abcdef"
key_secret = os.environ.get("VERIFY_API_KEY_SECRET") or "local-verify-secret-0123456789abcdef"
# The library wants the account of an API key; ours serves any.
account_sid = "AC0123456789abcdef0123456789abcdef"


class BaseUrlHttpClient(TwilioHttpClient):
    """twilio-python's own client, with Twilio Verify's host replaced by `base`."""

    def request(self, method, url, *rest, **options):
        if not url.startswith(TWILIO_VERIFY + "/"):
            raise AssertionError(f"unexpected Twilio host: {url}")
        return super().request(method, base + url[len(TWILIO_VERIFY):], *rest, **options)


def client_with(secret):
    return Client(key_sid, secret, account_sid, http_client=BaseUrlHttpClient())


service = client_with(key_secret).verify.v2.services(service_sid)
# Fictional numbers (NANP 555-0100..0199) the node flow and the other checks
# leave alone (they use 415-555-01xx); a fresh one per run.
phone = f"+1617555{random.randrange(100, 200):04d}"
steps = 0


def step(name, body):
    global steps
    try:
        body()
    except Exception as error:  # noqa: BLE001 - report whatever broke the step
        print(f"FAIL {name}: {error!r}")
        print(f"{steps} passed, 1 failed")
        sys.exit(1)
    steps += 1
    print(f"ok   {name}")


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def rejects(call, code, status):
    try:
        result = call()
    except TwilioRestException as error:
        expect(
            (error.code, error.status) == (code, status),
            f"expected code {code} status {status}, got {error.code} {error.status}: {error.msg}",
        )
        return
    raise AssertionError(f"expected error {code}, got {result}")


def last_code_sent_to(to):
    query = urllib.parse.urlencode({"to": to})
    with urllib.request.urlopen(f"{standin}/messages?{query}") as answer:
        messages = json.load(answer)
    expect(messages, f"the stand-in received no SMS for {to}")
    found = re.search(r"\d{4,10}", messages[-1]["body"])
    expect(found, f"no code in the SMS to {to}")
    return found.group(0)


print(f"Twilio Verify flow (twilio-python {twilio.__version__}) against {base}, number {phone}")
state = {}


def create():
    verification = service.verifications.create(to=phone, channel="sms")
    expect(verification.status == "pending", f"status {verification.status}")
    expect(re.fullmatch(r"VE[0-9a-f]{32}", verification.sid), f"sid {verification.sid}")
    state["sid"] = verification.sid
    state["code"] = last_code_sent_to(phone)


def wrong_code():
    code = state["code"]
    wrong = f"{(int(code[0]) + 1) % 10}{code[1:]}"
    result = service.verification_checks.create(to=phone, code=wrong)
    expect((result.status, result.valid) == ("pending", False), f"{result.status} {result.valid}")


def fetch():
    fetched = service.verifications(state["sid"]).fetch()
    expect((fetched.sid, fetched.status) == (state["sid"], "pending"), fetched.status)


def right_code():
    result = service.verification_checks.create(to=phone, code=state["code"])
    expect((result.status, result.valid) == ("approved", True), f"{result.status} {result.valid}")


step(f"verifications.create(to={phone}, channel='sms') is pending; the SMS carries the code", create)
step("verification_checks.create with a wrong code: pending, valid False", wrong_code)
step("verifications(sid).fetch() is still pending", fetch)
step("verification_checks.create with the right code: approved, valid True", right_code)
step(
    "checking it again: TwilioRestException 20404 (HTTP 404)",
    lambda: rejects(
        lambda: service.verification_checks.create(to=phone, code=state["code"]), 20404, 404
    ),
)
step(
    "a client with a wrong secret: TwilioRestException 20003 (HTTP 401)",
    lambda: rejects(
        lambda: client_with(key_secret + "-wrong")
        .verify.v2.services(service_sid)
        .verifications(state["sid"])
        .fetch(),
        20003,
        401,
    ),
)
print(f"{steps} passed, 0 failed")
