#!/usr/bin/env node
// End-to-end check with the real Parse JS SDK (npm `parse`) against a running
// stack: the local one (gateway -> cargo lambda watch -> DynamoDB Local, Twilio
// stand-in) or the one deployed to the AWS emulator (API Gateway -> Lambda).
// Proves a Parse app works unchanged with serverURL pointed at our API, that
// an app backend can check the proof token with `jose` against the JWKS, that
// Twilio's signed delivery reports are taken, and that a browser's CORS
// preflight with every documented header passes.
//   TWILIO_AUTH_TOKEN=... node scripts/e2e-parse-sdk.mjs API_URL TWILIO_STANDIN_URL
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

const Parse = createRequire(import.meta.url)('parse/node');
const [gateway, standin] = process.argv.slice(2);
const authToken = process.env.TWILIO_AUTH_TOKEN;
Parse.initialize('e2eAppId', 'e2eJavaScriptKey');
Parse.serverURL = gateway;

const phone = '+14155550142';
let passed = 0;
let failed = 0;

async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error?.stack || JSON.stringify(error)}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Expects `Parse.Cloud.run` to reject with a Parse.Error of `code`. */
async function rejects(promise, code) {
  const error = await promise.then(
    (result) => { throw new Error(`expected Parse error ${code}, got ${JSON.stringify(result)}`); },
    (e) => e,
  );
  assert(error instanceof Parse.Error, `not a Parse.Error: ${error}`);
  assert(error.code === code, `expected code ${code}, got ${error.code}: ${error.message}`);
  return error;
}

async function lastMessageTo(number) {
  const messages = await (await fetch(`${standin}/messages`)).json();
  const message = messages.reverse().find((m) => m.to === number);
  assert(message, `the stand-in received no SMS for ${number}`);
  return message;
}

async function lastCodeSentTo(number) {
  return (await lastMessageTo(number)).body.match(/\d{4,10}/)?.[0];
}

/** Twilio's POST of a delivery report to the StatusCallback it was given,
 *  signed as Twilio signs (HMAC-SHA1 of the URL and the sorted parameters). */
async function deliveryReport(callback, params, signature) {
  const signed = Object.keys(params).sort().reduce((acc, k) => acc + k + params[k], callback);
  const query = new URL(callback).search;
  return fetch(`${gateway}/twilio/status${query}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature ?? createHmac('sha1', authToken).update(signed).digest('base64'),
    },
    body: new URLSearchParams(params).toString(),
  });
}

let code;
await check('sendVerificationCode returns a pending verification', async () => {
  const result = await Parse.Cloud.run('sendVerificationCode', { phoneNumber: phone });
  assert(result.status === 'pending' && result.phoneNumber === phone, JSON.stringify(result));
  code = await lastCodeSentTo(phone);
  assert(/^\d{6}$/.test(code), `code ${code}`);
});

await check('a wrong code is a Parse.Error 141 "Invalid verification code."', async () => {
  const wrong = `${(Number(code[0]) + 1) % 10}${code.slice(1)}`;
  const error = await rejects(
    Parse.Cloud.run('verifyPhoneNumber', { phoneNumber: phone, phoneVerificationCode: wrong }),
    141,
  );
  assert(error.message === 'Invalid verification code.', error.message);
});

let token;
await check('the right code approves the number', async () => {
  const result = await Parse.Cloud.run('verifyPhoneNumber', { phoneNumber: phone, phoneVerificationCode: code });
  assert(result.status === 'approved' && result.phoneNumber === phone, JSON.stringify(result));
  token = result.token;
});

await check('the used code is refused afterwards (Parse.Error 141)', async () => {
  const error = await rejects(
    Parse.Cloud.run('verifyPhoneNumber', { phoneNumber: phone, phoneVerificationCode: code }),
    141,
  );
  assert(/already/i.test(error.message), error.message);
});

const jwks = createRemoteJWKSet(new URL(`${gateway}/.well-known/jwks.json`));
await check('the proof token verifies against the published JWKS (jose)', async () => {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: 'phone-verification' });
  assert(protectedHeader.alg === 'EdDSA', JSON.stringify(protectedHeader));
  assert(payload.phone_number === phone && payload.phone_number_verified === true, JSON.stringify(payload));
});

await check('a tampered or expired proof token is refused (jose)', async () => {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  claims.phone_number = '+14155550199';
  const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
  const tampered = await jwtVerify(forged, jwks).then(() => null, (e) => e);
  assert(tampered instanceof errors.JWSSignatureVerificationFailed, `tampered: ${tampered}`);
  const later = new Date(Date.now() + 10 * 60 * 1000);
  const expired = await jwtVerify(token, jwks, { currentDate: later }).then(() => null, (e) => e);
  assert(expired instanceof errors.JWTExpired, `expired: ${expired}`);
});

await check('bad input is a Parse.Error 142', async () => {
  await rejects(Parse.Cloud.run('sendVerificationCode', { phoneNumber: '(415) 555-0142' }), 142);
});

await check('a signed "undelivered" report withdraws the code; a forged one is refused', async () => {
  const other = '+14155550143';
  await Parse.Cloud.run('sendVerificationCode', { phoneNumber: other });
  const { statusCallback, body } = await lastMessageTo(other);
  assert(statusCallback?.includes('/twilio/status?verification='), `StatusCallback ${statusCallback}`);
  const params = { MessageSid: 'SM0123', MessageStatus: 'undelivered', To: other, ErrorCode: '30003' };
  const forged = await deliveryReport(statusCallback, params, 'AAAA');
  assert(forged.status === 403, `forged report: ${forged.status} ${await forged.text()}`);
  const report = await deliveryReport(statusCallback, params);
  const answer = await report.json();
  assert(report.status === 200 && answer.result.withdrawn === true, JSON.stringify(answer));
  const withdrawnCode = body.match(/\d{4,10}/)[0];
  await rejects(Parse.Cloud.run('verifyPhoneNumber', { phoneNumber: other, phoneVerificationCode: withdrawnCode }), 141);
});

// Every request header the README documents, as a browser asks for them.
const documentedHeaders = [
  'content-type', 'idempotency-key', 'x-parse-application-id', 'x-parse-client-version',
  'x-parse-installation-id', 'x-parse-javascript-key', 'x-parse-session-token',
];
await check('a browser preflight with every documented header is allowed (CORS)', async () => {
  const preflight = await fetch(`${gateway}/functions/sendVerificationCode`, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://app.example.com',
      'access-control-request-method': 'POST',
      'access-control-request-headers': documentedHeaders.join(','),
    },
  });
  assert([200, 204].includes(preflight.status), `preflight: ${preflight.status}`);
  const allowed = (preflight.headers.get('access-control-allow-headers') || '').toLowerCase();
  const origin = preflight.headers.get('access-control-allow-origin');
  assert(origin === '*' || origin === 'https://app.example.com', `allow-origin ${origin}`);
  for (const header of documentedHeaders) {
    assert(allowed === '*' || allowed.split(/\s*,\s*/).includes(header), `${header} not in "${allowed}"`);
  }
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
