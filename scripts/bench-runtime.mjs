#!/usr/bin/env node
// Runs one release bootstrap under a minimal Lambda Runtime API (the same
// HTTP protocol Lambda speaks to custom runtimes) and measures, on this
// machine: cold start (process start -> first answered request, and the
// first request alone, which init's connection warm-up should keep fast), warm
// latency of each later request, and the peak RSS of the process.
//   node scripts/bench-runtime.mjs BOOTSTRAP send|verify ROUNDS PHONE_PREFIX
// The function's configuration comes from the environment.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [bootstrap, kind, roundsArg, prefix] = process.argv.slice(2);
const rounds = Number(roundsArg);
const route = kind === 'send' ? 'sendVerificationCode' : 'verifyPhoneNumber';
const phone = (n) => `${prefix}${String(n).padStart(4, '0')}`;
const params = (n) => (kind === 'send'
  ? { phoneNumber: phone(n) }
  : { phoneNumber: phone(n), phoneVerificationCode: '000000' });
const event = (n) => JSON.stringify({
  version: '2.0', routeKey: `POST /functions/${route}`, rawPath: `/functions/${route}`, rawQueryString: '',
  headers: { 'content-type': 'application/json', host: 'bench.local' },
  requestContext: {
    accountId: '123456789012', apiId: 'bench', domainName: 'bench.local', domainPrefix: 'bench',
    http: { method: 'POST', path: `/functions/${route}`, protocol: 'HTTP/1.1', sourceIp: `198.51.100.${n % 250}`, userAgent: 'bench' },
    requestId: `r${n}`, routeKey: `POST /functions/${route}`, stage: '$default', time: '25/Nov/2026:10:00:00 +0000', timeEpoch: Date.now(),
  },
  body: JSON.stringify(params(n)), isBase64Encoded: false,
});

let next = 0;
const handedOut = new Map(); // request id -> time the event was handed out
const latencies = [];
const statuses = {};
let started;
let firstAnswer;
let firstRequestMs;
let child;
let done;
const finished = new Promise((resolve) => { done = resolve; });

const server = createServer((req, res) => {
  const url = req.url;
  if (req.method === 'GET' && url.endsWith('/invocation/next')) {
    if (next >= rounds) return; // hold the poll: the benchmark is over
    const id = `bench-${next}`;
    handedOut.set(id, process.hrtime.bigint());
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': id,
      'Lambda-Runtime-Deadline-Ms': String(Date.now() + 10_000),
      'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:bench',
      'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000;Sampled=0',
    });
    res.end(event(next));
    next += 1;
    return;
  }
  const answered = url.match(/invocation\/([^/]+)\/(response|error)$/);
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    res.writeHead(202).end();
    if (url.endsWith('/init/error')) { console.error(`init error: ${body}`); process.exit(1); }
    if (!answered) return;
    const now = process.hrtime.bigint();
    const status = JSON.parse(body).statusCode ?? 'error';
    statuses[status] = (statuses[status] || 0) + 1;
    if (firstAnswer === undefined) {
      firstAnswer = now;
      firstRequestMs = Number(now - handedOut.get(answered[1])) / 1e6;
    } else latencies.push(Number(now - handedOut.get(answered[1])) / 1e6);
    if (latencies.length + 1 === rounds) done();
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  started = process.hrtime.bigint();
  child = spawn(bootstrap, [], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      AWS_LAMBDA_FUNCTION_NAME: `bench-${kind}`,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_STREAM_NAME: 'bench',
      AWS_LAMBDA_LOG_GROUP_NAME: 'bench',
      AWS_LAMBDA_LOG_FORMAT: 'JSON',
    },
  });
});

await finished;
const peakRssKb = Number(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1]);
child.kill('SIGKILL');
server.close();
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
console.log(JSON.stringify({
  function: route,
  rounds,
  statuses,
  cold_start_ms: Number(firstAnswer - started) / 1e6,
  first_request_ms: firstRequestMs,
  warm_p50_ms: at(0.5),
  warm_p99_ms: at(0.99),
  peak_rss_mb: peakRssKb / 1024,
}));
process.exit(0);
