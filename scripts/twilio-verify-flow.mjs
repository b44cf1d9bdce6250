#!/usr/bin/env node
// The Twilio Verify v2 compatible API, driven by Twilio's own Node library
// (npm `twilio`, unchanged): only its HTTP client is swapped for one that
// sends https://verify.twilio.com/... to our API instead (a stack's base URL,
// path prefix kept). Proves an app written against Twilio Verify works with
// its base URL changed: send, a wrong code (pending), fetch, the right code
// (approved), a second check refused (20404), a wrong secret refused (20003),
// and a second verification canceled, then refused (20404).
//   node scripts/twilio-verify-flow.mjs API_URL [--standin TWILIO_STANDIN_URL]
// Env: VERIFY_SERVICE_SID, VERIFY_API_KEY_SID, VERIFY_API_KEY_SECRET (default:
// the local ones of scripts/lib.sh).
import { createRequire } from 'node:module';
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { verifyProofToken } from '../clients/backend/verify-token.mjs';

const twilio = createRequire(import.meta.url)('twilio');

const { positionals, values: options } = parseArgs({
  allowPositionals: true,
  options: { standin: { type: 'string', default: 'http://127.0.0.1:3010' } },
});
const base = (positionals[0] || 'http://127.0.0.1:3000').replace(/\/+$/, '');
const standin = options.standin.replace(/\/+$/, '');
const serviceSid = process.env.VERIFY_SERVICE_SID || 'VA0123456789abcdef0123456789abcdef';
const keySid = process.env.VERIFY_API_KEY_SID || 'SK0123456789abcdef0123456789abcdef';
const keySecret = process.env.VERIFY_API_KEY_SECRET || 'local-verify-secret-0123456789abcdef';
// Twilio's library wants the account of an API key; ours serves any.
const accountSid = 'AC0123456789abcdef0123456789abcdef';
const TWILIO_VERIFY = 'https://verify.twilio.com';

/** The proof token of the last answer (an approval carries it in a header). */
let lastToken;

/** twilio-node's own RequestClient, with Twilio Verify's host replaced by `base`. */
class BaseUrlRequestClient extends twilio.RequestClient {
  request(opts) {
    const uri = new URL(opts.uri);
    if (uri.origin !== TWILIO_VERIFY) throw new Error(`unexpected Twilio host: ${opts.uri}`);
    return super.request({ ...opts, uri: `${base}${uri.pathname}${uri.search}` }).then((response) => {
      lastToken = response.headers?.['x-verification-token'];
      return response;
    });
  }
}

const clientWith = (secret) => twilio(keySid, secret, { accountSid, httpClient: new BaseUrlRequestClient() });
const service = clientWith(keySecret).verify.v2.services(serviceSid);

// Fictional numbers (NANP 555-0100..0199), a fresh pair per run so no
// cooldown of an earlier run applies; not the numbers the other checks use
// (0123, 0142-0144; 0199 is the deploy test's test number, which sends nothing).
const taken = new Set([23, 42, 43, 44, 99]);
const free = [...Array(100).keys()].filter((n) => !taken.has(n));
const pick = () => free.splice(randomInt(free.length), 1)[0];
const number = (n) => `+141555501${String(n).padStart(2, '0')}`;
const phone = number(pick());
const other = number(pick());

let step = 0;
function fail(message) {
  console.log(`FAIL ${message}`);
  console.log(`${step} passed, 1 failed`);
  process.exit(1);
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
/** Runs one step; the first failure ends the run (the steps build on each other). */
async function check(name, body) {
  try {
    await body();
  } catch (error) {
    const detail = error instanceof twilio.RestException
      ? `RestException status ${error.status} code ${error.code}: ${error.message}`
      : error?.stack || String(error);
    fail(`${name}: ${detail}`);
  }
  step += 1;
  console.log(`ok   ${name}`);
}

/** Expects `promise` to reject with Twilio's error `code` and HTTP `status`. */
async function rejects(promise, code, status) {
  const error = await promise.then(
    (result) => { throw new Error(`expected error ${code} (HTTP ${status}), got ${JSON.stringify(result?.toJSON?.() ?? result)}`); },
    (e) => e,
  );
  assert(error instanceof twilio.RestException, `not a RestException: ${error?.stack || error}`);
  assert(error.code === code && error.status === status,
    `expected code ${code} status ${status}, got code ${error.code} status ${error.status}: ${error.message}`);
  assert(typeof error.message === 'string' && error.message && !error.message.startsWith('[HTTP'),
    `no Twilio-shaped error body (message: ${error.message})`);
  return error;
}

/** The code in the last SMS the Twilio stand-in received for `to`. */
async function lastCodeSentTo(to) {
  const answer = await fetch(`${standin}/messages?to=${encodeURIComponent(to)}`);
  assert(answer.ok, `the stand-in's /messages: HTTP ${answer.status}`);
  const message = (await answer.json()).at(-1);
  assert(message, `the stand-in received no SMS for ${to}`);
  const code = message.body.match(/\d{4,10}/)?.[0];
  assert(code, `no code in the SMS to ${to}: ${JSON.stringify(message.body)}`);
  return code;
}

const show = (resource) => JSON.stringify(resource.toJSON());

console.log(`Twilio Verify flow (twilio-node ${createRequire(import.meta.url)('twilio/package.json').version}) `
  + `against ${base}, service ${serviceSid}, numbers ${phone} and ${other}`);

let verification;
let code;
await check(`verifications.create({to: ${phone}, channel: 'sms'}) is pending, with a VE sid`, async () => {
  verification = await service.verifications.create({ to: phone, channel: 'sms' });
  assert(verification.status === 'pending', `status ${verification.status}: ${show(verification)}`);
  assert(/^VE[0-9a-f]{32}$/.test(verification.sid), `sid ${verification.sid}`);
  assert(verification.serviceSid === serviceSid, `serviceSid ${verification.serviceSid}`);
  assert(verification.to === phone && verification.channel === 'sms', show(verification));
});

await check('the stand-in received the SMS with its code', async () => {
  code = await lastCodeSentTo(phone);
});

await check('verificationChecks.create with a wrong code: pending, valid false', async () => {
  const wrong = `${(Number(code[0]) + 1) % 10}${code.slice(1)}`;
  const result = await service.verificationChecks.create({ to: phone, code: wrong });
  assert(result.status === 'pending' && result.valid === false, show(result));
  assert(result.sid === verification.sid, `check sid ${result.sid}, verification ${verification.sid}`);
});

await check('verifications(sid).fetch() is still pending', async () => {
  const fetched = await service.verifications(verification.sid).fetch();
  assert(fetched.sid === verification.sid && fetched.status === 'pending', show(fetched));
  assert(fetched.to === phone && fetched.serviceSid === serviceSid, show(fetched));
});

await check('verificationChecks.create with the right code: approved, valid true', async () => {
  const result = await service.verificationChecks.create({ to: phone, code });
  assert(result.status === 'approved' && result.valid === true, show(result));
  assert(result.sid === verification.sid && result.to === phone, show(result));
});

await check("the approval's proof names this service and the code; a backend asking for another refuses it", async () => {
  assert(lastToken, 'no X-Verification-Token on the approval');
  const claims = await verifyProofToken(lastToken, { apiUrl: base, service: serviceSid, phoneNumber: phone });
  assert(claims.vid === verification.sid && claims.amr.join() === 'otp', JSON.stringify(claims));
  const refused = await verifyProofToken(lastToken, { apiUrl: base }).then(() => null, (e) => e);
  assert(/earned through VA/.test(refused?.message), `a Parse-only backend accepted it: ${refused}`);
});

await check('checking the approved verification again: RestException 20404 (HTTP 404)', async () => {
  await rejects(service.verificationChecks.create({ to: phone, code }), 20404, 404);
});

await check('a client with a wrong secret: RestException 20003 (HTTP 401)', async () => {
  const intruder = clientWith(`${keySecret}-wrong`).verify.v2.services(serviceSid);
  await rejects(intruder.verifications(verification.sid).fetch(), 20003, 401);
});

let second;
await check(`a second verification (${other}) canceled by update({status: 'canceled'})`, async () => {
  second = await service.verifications.create({ to: other, channel: 'sms' });
  assert(second.status === 'pending' && /^VE[0-9a-f]{32}$/.test(second.sid), show(second));
  assert(second.sid !== verification.sid, `the same sid twice: ${second.sid}`);
  // Approving without a code is a right this key lacks.
  await rejects(service.verifications(second.sid).update({ status: 'approved' }), 20403, 403);
  const canceled = await service.verifications(second.sid).update({ status: 'canceled' });
  assert(canceled.sid === second.sid && canceled.status === 'canceled', show(canceled));
});

await check('checking the canceled verification with its code: RestException 20404 (HTTP 404)', async () => {
  const secondCode = await lastCodeSentTo(other);
  await rejects(service.verificationChecks.create({ to: other, code: secondCode }), 20404, 404);
});

console.log(`${step} passed, 0 failed`);
