#!/usr/bin/env node
// Load on the local stack (scripts/local-lambda.mjs started with
// TRUST_FORWARDED_FOR=1, so that each flow can come from its own address):
// CLIENTS concurrent users for SECONDS of whole verifications (send, read the
// code from the Twilio stand-in, a wrong code, the right one, a reuse), while
// attackers test the limits every few seconds under that load:
//   - 30 parallel sends to one number: exactly one is sent (cooldown);
//   - 30 parallel wrong codes for one code: exactly MAX_CHECK_ATTEMPTS are
//     evaluated, then even the right code is refused;
//   - one address sending to 3x its allowance of new numbers: exactly
//     MAX_SENDS_PER_CLIENT_PER_HOUR are sent.
// Prints throughput, latency (p50/p99) per request kind and errors, and exits
// 1 if any answer was unexpected or any limit was off by even one.
//   node scripts/load.mjs API_URL STANDIN_URL [SECONDS=60] [CLIENTS=20]
// Env: MAX_CHECK_ATTEMPTS (5), MAX_SENDS_PER_CLIENT_PER_HOUR (10): the stack's,
// whose hourly message budgets must allow the run's thousands of sends.
//
// Failover scenario (issue 19), against a stack started with
// DELIVERY_ROUTES='*=twilio,plivo' and a fresh table (the breakers' state):
//   FAILOVER=1 node scripts/load.mjs API_URL STANDIN_URL [SECONDS=120] [CLIENTS=20]
// The same load (users and attackers; the limits must hold while sends fail
// over too), and the primary dies: 20 s into the run it POSTs the stand-in's
// /control twilio dead (503 to everything: certainly not sent), at 40 s ok.
// Then it reads the stand-in's /messages and /refused for this run's numbers
// and reports: sends that failed (answered neither 200 nor a limit refusal
// the attacks provoke: must be 0, as every send Twilio refuses goes to Plivo
// well within the deadline), messages per provider, numbers whose message
// count differs from their accepted (200) sends (a duplicate: more messages;
// a lost code: fewer; both must be 0), the time from the kill to the last
// attempt Twilio refused (the breaker opened), and from Twilio's return to
// its first message again (the breaker's 60 s cooldown and one probe: the run
// must last past ~85 s, hence 120 s). Exits 1 on any of those being off.
const failover = process.env.FAILOVER === '1';
const [api, standin, secondsArg = failover ? '120' : '60', clientsArg = '20'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const clients = Number(clientsArg);
const maxAttempts = Number(process.env.MAX_CHECK_ATTEMPTS || 5);
const clientSends = Number(process.env.MAX_SENDS_PER_CLIENT_PER_HOUR || 10);

// Unique valid US numbers and client addresses for this run.
const run = Date.now() % 700;
let numbers = 0;
const phone = () => {
  const n = numbers++;
  return `+1415${200 + ((run + Math.floor(n / 10000)) % 800)}${String(n % 10000).padStart(4, '0')}`;
};
let addresses = 0;
const address = () => {
  const n = addresses++;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};

const latencies = {}; // kind -> ms[]
const unexpected = [];
let requests = 0;
// Every send's answer, by number (the failover report's reckoning).
const accepted = new Map(); // number -> sends answered 200
const limitRefusals = new Set(['resend_too_soon', 'too_many_codes_from_client']);
let failedSends = 0;

async function call(kind, fn, params, from) {
  const started = performance.now();
  const res = await fetch(`${api}/functions/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify(params),
  });
  const body = await res.json();
  (latencies[kind] ??= []).push(performance.now() - started);
  requests += 1;
  if (fn === 'sendVerificationCode') {
    const sent = accepted.get(params.phoneNumber) ?? 0;
    accepted.set(params.phoneNumber, sent + (res.status === 200 ? 1 : 0));
    if (res.status !== 200 && !limitRefusals.has(body.reason)) failedSends += 1;
  }
  return { status: res.status, reason: body.reason, body };
}

function expect(what, answer, status, reason) {
  if (answer.status !== status || answer.reason !== reason) {
    unexpected.push(`${what}: ${answer.status} ${answer.reason ?? ''} (expected ${status} ${reason ?? ''})`);
  }
}

async function codeSentTo(number) {
  const res = await fetch(`${standin}/messages?to=${encodeURIComponent(number)}`);
  const messages = await res.json();
  return messages.at(-1)?.body.match(/\b(\d{6})\b/)[1];
}

/** Sends a code to `number` (expecting it to go) and reads it from the stand-in. */
async function sendCode(number, from) {
  const sent = await call('send', 'sendVerificationCode', { phoneNumber: number }, from);
  expect('send', sent, 200);
  return sent.status === 200 ? codeSentTo(number) : undefined;
}

const wrongCode = (code) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

async function verification() {
  const number = phone();
  const from = address();
  const code = await sendCode(number, from);
  if (!code) return;
  const check = (c) => call('verify', 'verifyPhoneNumber', { phoneNumber: number, phoneVerificationCode: c }, from);
  expect('wrong code', await check(wrongCode(code)), 400, 'incorrect_code');
  expect('right code', await check(code), 200);
  expect('reuse', await check(code), 409, 'code_already_used');
}

const count = (answers, reason) => answers.filter((a) => a.reason === reason).length;
const limits = { cooldown: 0, attempts: 0, allowance: 0 };

async function attackCooldown() {
  const number = phone();
  const answers = await Promise.all(Array.from({ length: 30 }, () => (
    call('send (attack)', 'sendVerificationCode', { phoneNumber: number }, address()))));
  const sent = answers.filter((a) => a.status === 200).length;
  if (sent !== 1 || count(answers, 'resend_too_soon') !== 29) {
    unexpected.push(`cooldown: ${sent} of 30 parallel sends to one number were sent`);
  }
  limits.cooldown += 1;
}

async function attackAttempts() {
  const number = phone();
  const from = address();
  const code = await sendCode(number, from);
  if (!code) return;
  const answers = await Promise.all(Array.from({ length: 30 }, () => call(
    'verify (attack)', 'verifyPhoneNumber', { phoneNumber: number, phoneVerificationCode: wrongCode(code) }, address())));
  const evaluated = count(answers, 'incorrect_code');
  const after = await call('verify (attack)', 'verifyPhoneNumber', { phoneNumber: number, phoneVerificationCode: code }, from);
  if (evaluated !== maxAttempts || count(answers, 'max_attempts_reached') !== 30 - maxAttempts
    || after.reason !== 'max_attempts_reached') {
    unexpected.push(`attempts: ${evaluated} of 30 parallel wrong codes evaluated, then the right code got ${after.status} ${after.reason}`);
  }
  limits.attempts += 1;
}

async function attackAllowance() {
  const from = address();
  const answers = await Promise.all(Array.from({ length: 3 * clientSends }, () => (
    call('send (attack)', 'sendVerificationCode', { phoneNumber: phone() }, from))));
  const sent = answers.filter((a) => a.status === 200).length;
  if (sent !== clientSends || count(answers, 'too_many_codes_from_client') !== 2 * clientSends) {
    unexpected.push(`allowance: one address got ${sent} of ${3 * clientSends} sends through (allowance ${clientSends})`);
  }
  limits.allowance += 1;
}

const deadline = performance.now() + seconds * 1000;
const started = performance.now();
let flows = 0;
const user = async () => {
  while (performance.now() < deadline) {
    await verification().catch((error) => unexpected.push(`flow: ${error.message}`));
    flows += 1;
  }
};
const attacker = async () => {
  while (performance.now() < deadline) {
    for (const attack of [attackCooldown, attackAttempts, attackAllowance]) {
      await attack().catch((error) => unexpected.push(`attack: ${error.message}`));
    }
    await new Promise((resolve) => { setTimeout(resolve, 3000); });
  }
};
// The failover scenario's outage: Twilio dead from KILL_AT to BACK_AT.
const KILL_AT = 20_000;
const BACK_AT = 40_000;
const outage = {};
async function setTwilio(mode) { // -> when it was asked
  const asked = Date.now();
  const res = await fetch(`${standin}/control`, { method: 'POST', body: JSON.stringify({ provider: 'twilio', mode }) });
  if (!res.ok) unexpected.push(`control: twilio ${mode} answered ${res.status}`);
  return asked;
}
const timers = [];
if (failover) {
  const at = (ms, mode, key) => timers.push(setTimeout(async () => { outage[key] = await setTwilio(mode); }, ms));
  at(KILL_AT, 'dead', 'killed');
  at(BACK_AT, 'ok', 'back');
}
await Promise.all([...Array.from({ length: clients }, user), attacker()]);
const elapsed = (performance.now() - started) / 1000;
if (failover && !outage.back) {
  // A run shorter than the outage: Twilio comes back now, not after the run.
  timers.forEach(clearTimeout);
  if (!outage.killed) unexpected.push('failover: the run ended before Twilio was killed');
  else outage.back = await setTwilio('ok');
}

const percentile = (values, p) => values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];
console.log(`${clients} users and 1 attacker for ${elapsed.toFixed(0)} s: ${flows} verifications, `
  + `${requests} requests, ${(requests / elapsed).toFixed(0)} requests/s`);
console.log('| request | count | p50 ms | p99 ms |\n|---|---|---|---|');
for (const [kind, values] of Object.entries(latencies)) {
  console.log(`| ${kind} | ${values.length} | ${percentile(values, 0.5).toFixed(1)} | ${percentile(values, 0.99).toFixed(1)} |`);
}
console.log(`limits checked under load: cooldown ${limits.cooldown}x, check attempts ${limits.attempts}x, `
  + `client allowance ${limits.allowance}x; unexpected answers: ${unexpected.length}`);
if (failover) await failoverReport();
for (const line of unexpected.slice(0, 20)) console.log(`  ${line}`);
process.exit(unexpected.length ? 1 : 0);

async function failoverReport() {
  const ofRun = (list) => list.filter((m) => accepted.has(m.to));
  const messages = ofRun(await (await fetch(`${standin}/messages`)).json());
  const refused = ofRun(await (await fetch(`${standin}/refused`)).json());
  const perNumber = new Map();
  const perProvider = {};
  for (const m of messages) {
    perNumber.set(m.to, (perNumber.get(m.to) ?? 0) + 1);
    perProvider[m.provider] = (perProvider[m.provider] ?? 0) + 1;
  }
  let duplicates = 0;
  let lost = 0;
  for (const [number, sends] of accepted) {
    const got = perNumber.get(number) ?? 0;
    if (got > sends) duplicates += 1;
    if (got < sends) lost += 1;
  }
  const time = (m) => Date.parse(m.received_at ?? m.refused_at);
  const seconds = (ms) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);
  const twilioRefused = refused.filter((r) => r.provider === 'twilio').map(time);
  const lastRefused = twilioRefused.length ? Math.max(...twilioRefused) : undefined;
  const twilioAgain = messages.filter((m) => m.provider === 'twilio' && time(m) >= outage.back).map(time);
  const firstAgain = twilioAgain.length ? Math.min(...twilioAgain) : undefined;
  const plivoTimes = messages.filter((m) => m.provider === 'plivo').map(time);
  const total = [...accepted.values()].reduce((a, b) => a + b, 0);

  console.log('\nFailover: Twilio dead from 20 s to 40 s of the run (DELIVERY_ROUTES=*=twilio,plivo)');
  console.log('| | figure |\n|---|---|');
  console.log(`| sends accepted (200) | ${total}, to ${accepted.size} numbers |`);
  console.log(`| sends failed (neither 200 nor a provoked limit refusal) | ${failedSends} |`);
  console.log(`| messages per provider | ${Object.entries(perProvider).map(([p, n]) => `${p} ${n}`).join(', ')} |`);
  console.log(`| numbers with more messages than accepted sends (duplicates) | ${duplicates} |`);
  console.log(`| numbers with fewer messages than accepted sends (lost) | ${lost} |`);
  console.log(`| Twilio dead: the kill to its return, as the timers fired | ${seconds(outage.back - outage.killed)} |`);
  console.log(`| attempts Twilio refused (503) | ${twilioRefused.length} |`);
  console.log(`| circuit opened: the kill to the last attempt Twilio refused | ${lastRefused === undefined ? 'never' : seconds(lastRefused - outage.killed)} |`);
  console.log(`| circuit closed: Twilio's return to its first message again | ${firstAgain === undefined ? 'never' : seconds(firstAgain - outage.back)} |`);
  if (plivoTimes.length) {
    console.log(`| messages through Plivo: first, last after the kill | ${seconds(Math.min(...plivoTimes) - outage.killed)}, ${seconds(Math.max(...plivoTimes) - outage.killed)} |`);
  }

  if (failedSends) unexpected.push(`failover: ${failedSends} sends failed`);
  if (duplicates || lost) unexpected.push(`failover: ${duplicates} numbers got a duplicate, ${lost} lost a code`);
  if (lastRefused === undefined) unexpected.push('failover: Twilio refused no attempt (no send during the outage?)');
  if (firstAgain === undefined) unexpected.push('failover: no message through Twilio after its return (the circuit did not close within the run)');
}
