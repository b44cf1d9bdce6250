#!/usr/bin/env node
// Your backend's side of a phone verification: the app sends you the proof
// token it got from verifyPhoneNumber; never trust the app's word, check the
// token offline against the API's public keys (GET {API}/.well-known/jwks.json).
//
//   npm install                      (in this folder: jose)
//   node verify-token.mjs API_URL TOKEN
//   PROOF_AUDIENCE=my-backend node verify-token.mjs API_URL TOKEN   (when the API sets one)
//   PROOF_SERVICE=VA... node verify-token.mjs API_URL TOKEN   (a token of a Verify service)
//
// or import { verifyProofToken } from './verify-token.mjs' in your server.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { pathToFileURL } from 'node:url';

const keySets = new Map(); // one cached, rate-limited JWKS fetcher per API

/**
 * The token's claims once its EdDSA signature, issuer, audience, lifetime and
 * claims are checked; throws (a jose error, or Error) otherwise.
 *  - issuer:   PROOF_ISSUER of the API (default "phone-verification")
 *  - audience: PROOF_AUDIENCE of the API; set one in production, so that a
 *              token minted for another backend is refused
 *  - phoneNumber: the E.164 number your user claims (optional)
 *  - service:  where the token must have been earned (`svc`): "parse" (the
 *              Parse endpoints, the default) or your Verify service SID
 *              ("VA..."); a list accepts each of them
 *  - methods:  how it may have been earned (`amr`): ["otp"] by default, the
 *              user typed the code; add "backend" only to accept a backend's
 *              approval without a code (the Verify API's Status=approved)
 */
export async function verifyProofToken(token, {
  apiUrl, issuer = 'phone-verification', audience, phoneNumber, service = 'parse', methods = ['otp'],
} = {}) {
  const jwksUrl = `${String(apiUrl).replace(/\/+$/, '')}/.well-known/jwks.json`;
  if (!keySets.has(jwksUrl)) keySets.set(jwksUrl, createRemoteJWKSet(new URL(jwksUrl)));
  const { payload } = await jwtVerify(token, keySets.get(jwksUrl), {
    algorithms: ['EdDSA'],
    issuer,
    ...(audience ? { audience } : {}),
    requiredClaims: ['sub', 'phone_number', 'phone_number_verified', 'svc', 'vid', 'amr', 'iat', 'exp', 'jti'],
  });
  const services = [service].flat();
  if (!services.includes(payload.svc)) {
    throw new Error(`the token was earned through ${payload.svc}, not ${services.join(' or ')}`);
  }
  if (!Array.isArray(payload.amr) || !payload.amr.length || !payload.amr.every((m) => methods.includes(m))) {
    throw new Error(`the token was earned by ${JSON.stringify(payload.amr)}, not ${methods.join(' or ')}`);
  }
  if (payload.phone_number_verified !== true || typeof payload.phone_number !== 'string') {
    throw new Error('the token does not state a verified phone number');
  }
  if (phoneNumber && payload.phone_number !== phoneNumber) {
    throw new Error(`the token is for ${payload.phone_number}, not ${phoneNumber}`);
  }
  // A token works until `exp` (5 minutes by default). To accept each one once,
  // remember payload.jti until payload.exp and refuse a jti seen before (a
  // conditional put in your database, Redis SET NX EX, ...).
  return payload;
}

// Run as a command: prints the claims, or why the token is refused (exit 1).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [apiUrl, token] = process.argv.slice(2);
  if (!apiUrl || !token) {
    console.error('usage: node verify-token.mjs API_URL TOKEN   (env: PROOF_ISSUER, PROOF_AUDIENCE, PROOF_SERVICE, PROOF_METHODS)');
    process.exit(2);
  }
  try {
    const payload = await verifyProofToken(token, {
      apiUrl,
      issuer: process.env.PROOF_ISSUER || undefined,
      audience: process.env.PROOF_AUDIENCE || undefined,
      service: process.env.PROOF_SERVICE || undefined,
      methods: process.env.PROOF_METHODS ? process.env.PROOF_METHODS.split(',') : undefined,
    });
    console.log(JSON.stringify(payload, null, 2));
  } catch (error) {
    console.error(`refused: ${error.code ?? error.name}: ${error.message}`);
    process.exit(1);
  }
}
