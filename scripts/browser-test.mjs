#!/usr/bin/env node
// The web client kit (clients/web) in a real browser: Debian's headless
// Chromium driven by playwright-core, the page served from its own origin and
// calling the API on another one, so every call is a cross-origin (CORS) one
// as in production. Through the page, as a user would:
//   - send a code, type the code the Twilio stand-in received: "verified",
//     and the decoded proof token, which clients/backend/verify-token.mjs
//     then checks against the JWKS, as an app backend would;
//   - a wrong code: the reason and "4 attempts left";
//   - a resend inside the cooldown: the wait the Retry-After header gives;
//   - "Call me instead", offered with its countdown while the SMS is pending;
//   - WebOTP: the code the browser hands over (stubbed: no SMS reaches a
//     desktop) fills in and is submitted.
// Fails on any console error, page error or failed request (a CORS refusal
// is all three), except the API's expected 4xx answers.
// Screenshots go to .tools/artifacts/browser/; UPDATE_SCREENSHOTS=1 also
// copies them to docs/screenshots/.
//   node scripts/browser-test.mjs PAGE_URL API_URL STANDIN_URL
// (CHROMIUM=/path/to/chromium to use another build than Debian's.)
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { verifyProofToken } from '../clients/backend/verify-token.mjs';

const [pageUrl, api, standin] = process.argv.slice(2);
if (!standin) {
  console.error('usage: node scripts/browser-test.mjs PAGE_URL API_URL STANDIN_URL');
  process.exit(2);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const artifacts = `${root}.tools/artifacts/browser`;
const docs = `${root}docs/screenshots`;
const started = performance.now();
const url = `${pageUrl.replace(/\/*$/, '/')}?api=${encodeURIComponent(api)}`;

// Each check builds on the one before (one page, one user): the first
// failure ends the run, with whatever the browser reported meanwhile.
const problems = [];
let passed = 0;
let failed = 0;
async function check(name, body) {
  if (failed) return;
  try {
    await body();
    assert(problems.length === 0, 'the browser reported:');
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error?.stack || error}${problems.map((p) => `\n  ${p}`).join('')}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// Numbers no other test uses (fictional 555-01xx, area code 312), and none
// this stand-in has sent to: per-number limits outlive a run in the table.
const used = new Set((await (await fetch(`${standin}/messages`)).json()).map((m) => m.to));
const fresh = Array.from({ length: 100 }, (_, i) => `+1312555${String(100 + i).padStart(4, '0')}`)
  .filter((n) => !used.has(n));
assert(fresh.length >= 3, 'the stand-in has sent to every +1 312 555 01xx number: restart the stack');
const [numberA, numberB, numberC] = fresh;

async function codeSentTo(number) {
  const messages = await (await fetch(`${standin}/messages?to=${encodeURIComponent(number)}`)).json();
  const code = messages.at(-1)?.body.match(/\d{4,10}/)?.[0];
  assert(code, `the stand-in received no code for ${number}`);
  return code;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // This machine's network is closed: no QUIC, no Google services at start.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({
  viewport: { width: 560, height: 400 }, // fullPage: as tall as the content
  locale: 'en-US',
  timezoneId: 'UTC',
});
context.setDefaultTimeout(15_000);

async function newPage() {
  const page = await context.newPage();
  const apiFunctions = `${api.replace(/\/+$/, '')}/functions/`;
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Chromium logs every 4xx it fetched; the API's are the page's to show.
    const expected = /^Failed to load resource: the server responded with a status of 4\d\d /.test(message.text()) &&
      message.location().url.startsWith(apiFunctions);
    if (!expected) problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.url().startsWith(apiFunctions) && !response.headers()['access-control-allow-origin']) {
      problems.push(`no access-control-allow-origin on ${response.url()}`);
    }
  });
  return page;
}

await mkdir(artifacts, { recursive: true });
const shots = [];
async function screenshot(page, name) {
  const path = `${artifacts}/${name}.png`;
  await page.evaluate(() => document.activeElement?.blur()); // no focus ring in the picture
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  shots.push(name);
}

const text = (page, selector) => page.locator(selector).innerText();

/** The API's answer to the call of FUNCTION that ACTION makes the page do;
 *  throws at once if the browser refuses it (CORS) or cannot make it. */
async function answerTo(page, fn, action) {
  const matches = (r) => r.url().endsWith(`/functions/${fn}`);
  const answer = page.waitForResponse(matches);
  const failure = page.waitForEvent('requestfailed', matches).then((r) => {
    throw new Error(`the browser could not call ${fn}: ${r.failure()?.errorText} (CORS?)`);
  });
  const outcome = Promise.race([answer, failure]);
  outcome.catch(() => {}); // handled by our caller, even when ACTION throws first
  await action();
  return outcome;
}

async function sendFromPage(page, number) {
  await page.fill('#phone', number);
  return answerTo(page, 'sendVerificationCode', () => page.click('#send'));
}

const page = await newPage();
let token;

await check('the page and the API are on different origins (CORS is exercised)', async () => {
  assert(new URL(pageUrl).origin !== new URL(api).origin, `${pageUrl} and ${api}`);
  await page.goto(url);
  assert((await text(page, '#api-base')) === api.replace(/\/+$/, ''), 'the page does not show the ?api= base');
  assert(await page.evaluate(() => 'OTPCredential' in window), 'this Chromium has no WebOTP');
  const codeInput = page.locator('#code');
  assert((await codeInput.getAttribute('autocomplete')) === 'one-time-code', 'no autocomplete="one-time-code"');
  assert((await codeInput.getAttribute('inputmode')) === 'numeric', 'no inputmode="numeric"');
});

await check(`sending a code to ${numberA} shows where it went, the resend countdown and the call fallback`, async () => {
  const response = await sendFromPage(page, numberA);
  assert(response.status() === 200, `send: ${response.status()} ${await response.text()}`);
  await page.waitForSelector('main[data-state="code-sent"]');
  const sentTo = await text(page, '#sent-to');
  assert(sentTo.includes(`by text message to ${numberA}`) && sentTo.includes('for 5 attempts'), sentTo);
  assert(await page.locator('#resend').isDisabled(), 'resend is enabled inside the cooldown');
  const hint = await text(page, '#resend-hint');
  assert(/new code in \d+ s\./.test(hint), hint);
  // The SMS's fallback, a call, is offered before the cooldown ends.
  const fallback = await text(page, '#fallback');
  assert(await page.locator('#fallback').isDisabled() && /^Call me instead in \d+ s$/.test(fallback), fallback);
  await screenshot(page, '1-code-sent');
});

await check('typing the code the SMS carried shows "Verified" and the decoded proof token', async () => {
  await page.fill('#code', await codeSentTo(numberA));
  const response = await answerTo(page, 'verifyPhoneNumber', () => page.click('#verify'));
  assert(response.status() === 200, `verify: ${response.status()} ${await response.text()}`);
  token = (await response.json()).result.token;
  await page.waitForSelector('main[data-state="verified"]');
  assert((await text(page, '#verified-text')).includes(numberA), await text(page, '#verified-text'));
  const header = JSON.parse(await text(page, '#token-header'));
  const payload = JSON.parse(await text(page, '#token-payload'));
  assert(header.alg === 'EdDSA' && header.kid, JSON.stringify(header));
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  assert(JSON.stringify(payload) === JSON.stringify(claims), 'the page decoded other claims than the token has');
  assert(payload.phone_number === numberA && payload.phone_number_verified === true, JSON.stringify(payload));
  await screenshot(page, '4-verified');
});

await check("the page's token passes clients/backend/verify-token.mjs (JWKS), for its number only", async () => {
  const payload = await verifyProofToken(token, { apiUrl: api, phoneNumber: numberA });
  assert(payload.phone_number === numberA && payload.jti, JSON.stringify(payload));
  const other = await verifyProofToken(token, { apiUrl: api, phoneNumber: numberB }).then(() => null, (e) => e);
  assert(/not \+1312/.test(other?.message), `a token for ${numberA} passed as ${numberB}`);
  const foreign = await verifyProofToken(token, { apiUrl: api, audience: 'another-backend' }).then(() => null, (e) => e);
  assert(foreign?.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED', `audience: ${foreign}`);
  // A backend that asked for a Verify service's tokens, or for backend
  // approvals only, refuses this Parse code check's token.
  const service = await verifyProofToken(token, { apiUrl: api, service: 'VA0123456789abcdef0123456789abcdef' }).then(() => null, (e) => e);
  assert(/earned through parse/.test(service?.message), `service: ${service}`);
  const method = await verifyProofToken(token, { apiUrl: api, methods: ['backend'] }).then(() => null, (e) => e);
  assert(/earned by \["otp"\]/.test(method?.message), `method: ${method}`);
});

await check(`a wrong code for ${numberB} shows incorrect_code and "4 attempts left"`, async () => {
  await page.click('#again');
  const sent = await sendFromPage(page, numberB);
  assert(sent.status() === 200, `send: ${sent.status()}`);
  await page.waitForSelector('main[data-state="code-sent"]');
  const code = await codeSentTo(numberB);
  await page.fill('#code', `${(Number(code[0]) + 1) % 10}${code.slice(1)}`);
  const checked = await answerTo(page, 'verifyPhoneNumber', () => page.click('#verify'));
  assert(checked.status() === 400, `verify: ${checked.status()}`);
  await page.waitForSelector('main[data-state="error"]');
  const error = await text(page, '#error');
  assert(error.includes('Invalid verification code.'), error);
  assert((await page.locator('#error-details').getAttribute('data-reason')) === 'incorrect_code', error);
  assert(error.includes('4 attempts left'), error);
  await screenshot(page, '2-wrong-code');
});

await check('sending again inside the cooldown shows resend_too_soon and the Retry-After wait', async () => {
  await page.click('#change');
  assert((await page.inputValue('#phone')) === numberB, 'the number was not kept');
  const response = await sendFromPage(page, numberB);
  assert(response.status() === 429, `send: ${response.status()}`);
  const retryAfter = Number(response.headers()['retry-after']);
  assert(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${response.headers()['retry-after']}`);
  await page.waitForSelector('main[data-state="error"]');
  const error = await text(page, '#error');
  assert((await page.locator('#error-details').getAttribute('data-reason')) === 'resend_too_soon', error);
  assert(error.includes(`Retry-After\n${retryAfter} s`) || error.includes(`Retry-After\t${retryAfter} s`), error);
  const wait = Number(error.match(/Please wait (\d+) s before trying again/)?.[1]);
  assert(wait <= retryAfter && wait >= retryAfter - 2, `countdown ${wait} for Retry-After ${retryAfter}: ${error}`);
  await screenshot(page, '3-resend-cooldown');
});

await check(`WebOTP: the code the browser hands over for ${numberC} fills in and is submitted`, async () => {
  // Chrome on Android resolves navigator.credentials.get({otp}) with the
  // code of the SMS; here the test hands it over.
  const webOtpPage = await newPage();
  await webOtpPage.addInitScript(() => {
    const get = navigator.credentials.get.bind(navigator.credentials);
    navigator.credentials.get = (options) => {
      if (!options?.otp) return get(options);
      window.webOtpRequested = options.otp.transport.join();
      return new Promise((resolve, reject) => {
        window.deliverSms = (code) => resolve({ type: 'otp', id: '', code });
        options.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    };
  });
  await webOtpPage.goto(url);
  assert((await sendFromPage(webOtpPage, numberC)).status() === 200, 'send failed');
  await webOtpPage.waitForSelector('main[data-state="code-sent"]');
  assert((await webOtpPage.evaluate(() => window.webOtpRequested)) === 'sms', 'no WebOTP request for sms');
  const code = await codeSentTo(numberC);
  const response = await answerTo(webOtpPage, 'verifyPhoneNumber', () => webOtpPage.evaluate((c) => window.deliverSms(c), code));
  assert(response.status() === 200, 'the WebOTP code was not approved');
  await webOtpPage.waitForSelector('main[data-state="verified"]');
  await webOtpPage.close();
});

await check('no console error, page error, failed request or CORS refusal', async () => {});

await browser.close();
if (process.env.UPDATE_SCREENSHOTS === '1') {
  await mkdir(docs, { recursive: true });
  for (const name of shots) await copyFile(`${artifacts}/${name}.png`, `${docs}/${name}.png`);
  console.log(`     screenshots copied to docs/screenshots/ (${shots.join(', ')})`);
}

// The README shows what this test sees: every screenshot it links is one
// taken here, and the committed copy has the size of this run's.
await check('the README shows screenshots this test takes, at their size', async () => {
  const size = (png) => `${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`; // the IHDR chunk
  const readme = await readFile(`${root}README.md`, 'utf8');
  const linked = [...readme.matchAll(/docs\/screenshots\/([\w-]+)\.png/g)].map((m) => m[1]);
  assert(linked.length > 0, 'the README links no screenshot');
  for (const name of linked) {
    assert(shots.includes(name), `the README shows ${name}.png, which this test does not take`);
    const taken = size(await readFile(`${artifacts}/${name}.png`));
    const shown = size(await readFile(`${docs}/${name}.png`));
    assert(taken === shown, `${name}.png: taken ${taken}, the README's copy ${shown} (UPDATE_SCREENSHOTS=1)`);
  }
});
console.log(`     screenshots: .tools/artifacts/browser/ (${((performance.now() - started) / 1000).toFixed(1)} s)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
