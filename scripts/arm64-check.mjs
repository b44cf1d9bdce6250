#!/usr/bin/env node
// Proves that the arm64 bootstraps `sam build` makes actually run: each one is
// started under qemu-user with a local Lambda Runtime API (scripts/bench-runtime.mjs)
// and answers one API Gateway HTTP API v2 event, against DynamoDB Local and
// the Twilio stand-in. The send bootstrap sends a code; the code is read back
// from the stand-in (GET /messages); the verify bootstrap must approve it.
//   node scripts/arm64-check.mjs SEND_BOOTSTRAP VERIFY_BOOTSTRAP DYNAMODB_URL TABLE STANDIN_URL
// Needs qemu-aarch64-static and the arm64 C library (Debian: qemu-user-static,
// libc6-arm64-cross) unless this machine is arm64. Timings under emulation
// are informational. AWS_* come from the environment (region and keys default
// to DynamoDB Local's us-east-1/test/test). QEMU and QEMU_LD_PREFIX override
// the emulator and the arm64 library root.
// scripts/test.sh runs it after `sam build`; scripts/lib.sh installs qemu.
import { randomBytes, randomInt } from 'node:crypto';
import { accessSync, constants, existsSync, openSync, readSync, closeSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { httpApiEvent, runtimeApi } from './bench-runtime.mjs';

// Each step's limit: init, the answer, each stand-in request. qemu's init
// takes ~1-2 s here; 60 s is for slow CI machines. ARM64_CHECK_TIMEOUT_S overrides.
const STEP_TIMEOUT_MS = 1000 * Number(process.env.ARM64_CHECK_TIMEOUT_S || 60);
if (!(STEP_TIMEOUT_MS > 0)) {
  console.error('ARM64_CHECK_TIMEOUT_S must be a positive number of seconds');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length !== 5) {
  console.error('usage: node scripts/arm64-check.mjs SEND_BOOTSTRAP VERIFY_BOOTSTRAP DYNAMODB_URL TABLE STANDIN_URL');
  process.exit(2);
}
const [sendBootstrap, verifyBootstrap, dynamodbUrl, table, standinArg] = args;
const standin = standinArg.replace(/\/+$/, '');

// --- children: every one is killed when this script ends, however it ends ---
const children = new Set();
process.on('exit', () => { for (const child of children) child.kill('SIGKILL'); });
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

function fail(message) {
  console.error(`arm64 check FAILED: ${message}`);
  process.exit(1);
}

// Rejects with "WHAT timed out" unless `promise` settles within `ms`.
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// --- what runs the bootstraps ----------------------------------------------
function isArm64Elf(path) {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try { readSync(fd, header, 0, 20, 0); } finally { closeSync(fd); }
  // "\x7fELF", then e_machine (bytes 18-19, little-endian) 0xb7 = aarch64.
  return header.readUInt32BE(0) === 0x7f454c46 && header.readUInt16LE(18) === 0xb7;
}

function onPath(name) {
  if (name.includes('/')) return existsSync(name) ? resolve(name) : undefined;
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    const candidate = join(dir, name);
    try { accessSync(candidate, constants.X_OK); return candidate; } catch { /* next */ }
  }
  return undefined;
}

for (const [what, path] of [['send bootstrap', sendBootstrap], ['verify bootstrap', verifyBootstrap]]) {
  if (!existsSync(path)) fail(`${what} ${path} does not exist (run sam build first)`);
  if (!isArm64Elf(path)) fail(`${what} ${path} is not an arm64 (aarch64) ELF executable`);
}

// On an arm64 machine the bootstraps run as they are; elsewhere under qemu-user.
let launcher = [];
if (process.arch !== 'arm64') {
  const qemuName = process.env.QEMU || 'qemu-aarch64-static';
  const qemu = onPath(qemuName);
  const libs = process.env.QEMU_LD_PREFIX || '/usr/aarch64-linux-gnu';
  if (!qemu) fail(`${qemuName} not found: apt-get install qemu-user-static libc6-arm64-cross`);
  if (!existsSync(join(libs, 'lib/ld-linux-aarch64.so.1'))) {
    fail(`no arm64 C library under ${libs} (apt-get install libc6-arm64-cross, or set QEMU_LD_PREFIX)`);
  }
  launcher = [qemu, '-L', libs];
}

// --- the functions' environment: only what each one needs -------------------
const aws = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('AWS_')));
aws.AWS_REGION ??= aws.AWS_DEFAULT_REGION ?? 'us-east-1';
aws.AWS_ACCESS_KEY_ID ??= 'test';
aws.AWS_SECRET_ACCESS_KEY ??= 'test';
aws.AWS_ENDPOINT_URL_DYNAMODB = dynamodbUrl;
if (process.env.RUST_LOG) aws.RUST_LOG = process.env.RUST_LOG;
const hmacKey = randomBytes(24).toString('hex'); // 48 bytes of text, as lib.sh makes it
const identityKey = randomBytes(24).toString('hex');

const sendEnv = {
  ...aws,
  VERIFICATIONS_TABLE: table,
  CODE_HMAC_KEY: hmacKey,
  IDENTITY_HMAC_KEY: identityKey,
  TWILIO_API_BASE: standin,
  TWILIO_ACCOUNT_SID: 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  TWILIO_AUTH_TOKEN: 'arm64-check-token',
  TWILIO_FROM_NUMBER: '+15005550006',
};
const verifyEnv = {
  ...aws,
  VERIFICATIONS_TABLE: table,
  CODE_HMAC_KEY: hmacKey,
  IDENTITY_HMAC_KEY: identityKey,
  ...(process.env.PROOF_SIGNING_KEY ? { PROOF_SIGNING_KEY: process.env.PROOF_SIGNING_KEY } : {}),
};

// --- one bootstrap, one event ------------------------------------------------
// Starts BOOTSTRAP, waits for its first poll (init done), hands it one event,
// waits for the answer, stops it. Returns { initMs, answerMs, statusCode, body }.
async function invokeOnce(name, bootstrap, env, route, params, clientN) {
  let logs = ''; // the function's last output, shown on failure
  const keep = (chunk) => { logs = (logs + chunk).slice(-4000); };
  let initDone; let answered; let failed;
  const init = new Promise((res, rej) => { initDone = res; failed = rej; });
  const answer = new Promise((res, rej) => {
    answered = res;
    const previous = failed;
    failed = (error) => { previous(error); rej(error); };
  });
  init.catch(() => {}); answer.catch(() => {}); // each is awaited in turn
  let handedOutAt;
  let polls = 0;

  const [command, ...launchArgs] = [...launcher, resolve(bootstrap)];
  const { server, child, started } = await runtimeApi({
    command,
    args: launchArgs,
    env,
    functionName: `arm64-check-${name}`,
    stdio: ['ignore', 'pipe', 'pipe'],
    nextEvent: () => {
      polls += 1;
      if (polls > 1) return undefined; // one event only: hold later polls
      handedOutAt = process.hrtime.bigint();
      initDone(handedOutAt);
      return { id: `arm64-check-${name}`, body: httpApiEvent(route, params, clientN, 'arm64-check'), timeoutMs: STEP_TIMEOUT_MS };
    },
    onInitError: (body) => failed(new Error(`init failed: ${body}`)),
    onAnswer: (_id, kind, body, now) => {
      if (kind === 'error') failed(new Error(`invocation error: ${body}`));
      else answered({ body, now });
    },
  });
  children.add(child);
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (error) => failed(new Error(`cannot start ${command}: ${error.message}`)));
  child.on('exit', (code, signal) => {
    children.delete(child);
    failed(new Error(`the process exited (${signal ?? `code ${code}`}) before answering`));
  });

  const stop = () => new Promise((res) => {
    server.closeAllConnections();
    server.close();
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
  });

  try {
    const initAt = await within(STEP_TIMEOUT_MS, 'init (process start -> first poll for an event)', init);
    const { body, now } = await within(STEP_TIMEOUT_MS, 'the answer to the event', answer);
    let response;
    try { response = JSON.parse(body); } catch { throw new Error(`the answer is not JSON: ${body}`); }
    const text = response.isBase64Encoded ? Buffer.from(response.body ?? '', 'base64').toString() : response.body ?? '';
    return {
      initMs: Number(initAt - started) / 1e6,
      answerMs: Number(now - handedOutAt) / 1e6,
      statusCode: response.statusCode,
      body: text,
    };
  } catch (error) {
    await stop();
    fail(`${name} (${bootstrap}): ${error.message}${logs ? `\n--- its last output ---\n${logs.trimEnd()}` : ''}`);
  } finally {
    await stop();
  }
  return undefined; // unreachable: fail() exits
}

function report(name, result) {
  console.log(`${name}: init ${result.initMs.toFixed(0)} ms, answer ${result.answerMs.toFixed(0)} ms `
    + `(under ${launcher.length ? 'qemu-user, informational' : 'native arm64'}) -> ${result.statusCode} ${result.body}`);
}

async function getJson(url, what) {
  const response = await fetch(url, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
    .catch((error) => fail(`${what}: ${error.cause?.message ?? error.message}`));
  if (!response.ok) fail(`${what}: HTTP ${response.status}`);
  return response.json();
}

// --- the check ----------------------------------------------------------------
await getJson(`${standin}/messages`, `Twilio stand-in at ${standin}`);
// A fresh number and client address each run, so cooldowns and allowances
// left in the table by earlier runs do not interfere.
const phone = `+1415555${String(randomInt(10_000)).padStart(4, '0')}`;
const client = randomInt(250);
console.log(`arm64 bootstraps via ${launcher.length ? launcher.join(' ') : 'this arm64 machine'}; number ${phone}`);

const sent = await invokeOnce('send', sendBootstrap, sendEnv, 'sendVerificationCode', { phoneNumber: phone }, client);
report('send', sent);
if (sent.statusCode !== 200) fail(`send answered ${sent.statusCode}, expected 200: ${sent.body}`);

const messages = await getJson(`${standin}/messages`, `reading the code from ${standin}/messages`);
const message = [...messages].reverse().find((m) => m.to === phone);
if (!message) fail(`the Twilio stand-in received no message to ${phone}`);
const code = message.body.match(/\d{4,10}/)?.[0];
if (!code) fail(`no code in the message to ${phone}: ${JSON.stringify(message.body)}`);
console.log(`stand-in: ${message.type} to ${phone} carries code ${code}`);

const verified = await invokeOnce('verify', verifyBootstrap, verifyEnv, 'verifyPhoneNumber',
  { phoneNumber: phone, phoneVerificationCode: code }, client);
report('verify', verified);
let status;
try { status = JSON.parse(verified.body).result?.status; } catch { /* checked below */ }
if (verified.statusCode !== 200 || status !== 'approved') {
  fail(`verify answered ${verified.statusCode} ${verified.body}, expected 200 {"result": {"status": "approved", ...}}`);
}
console.log('arm64 check passed: both bootstraps run; the code sent was approved');
process.exit(0);
