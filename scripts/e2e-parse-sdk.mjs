#!/usr/bin/env node
// End-to-end check with the real Parse JS SDK (npm `parse`) against the local
// stack (gateway -> cargo lambda watch -> DynamoDB Local, Twilio stand-in):
// proves a Parse app works unchanged with serverURL pointed at our API, and
// that an app backend can check the proof token with `jose` against the JWKS.
//   node scripts/e2e-parse-sdk.mjs GATEWAY_URL TWILIO_STANDIN_URL
import { createRequire } from 'node:module';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

const Parse = createRequire(import.meta.url)('parse/node');
const [gateway, standin] = process.argv.slice(2);
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

async function lastCodeSentTo(number) {
  const messages = await (await fetch(`${standin}/messages`)).json();
  const message = messages.reverse().find((m) => m.to === number);
  assert(message, `the stand-in received no SMS for ${number}`);
  return message.body.match(/\d{4,10}/)?.[0];
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

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
