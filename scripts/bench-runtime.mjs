#!/usr/bin/env node
// Runs one release bootstrap under a minimal Lambda Runtime API (the same
// HTTP protocol Lambda speaks to custom runtimes) and measures, on this
// machine: cold start (process start -> first answered request, and the
// first request alone, which init's connection warm-up should keep fast), warm
// latency of each later request, and the peak RSS of the process.
//   node scripts/bench-runtime.mjs BOOTSTRAP send|verify ROUNDS PHONE_PREFIX
// The function's configuration comes from the environment.
// Also a module: `runtimeApi` and `httpApiEvent` are what scripts/arm64-check.mjs uses.
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

// An API Gateway HTTP API (payload v2) event for POST /functions/ROUTE.
export const httpApiEvent = (route, params, n, name = 'bench') => JSON.stringify({
  version: '2.0', routeKey: `POST /functions/${route}`, rawPath: `/functions/${route}`, rawQueryString: '',
  headers: { 'content-type': 'application/json', host: `${name}.local` },
  requestContext: {
    accountId: '123456789012', apiId: name, domainName: `${name}.local`, domainPrefix: name,
    http: { method: 'POST', path: `/functions/${route}`, protocol: 'HTTP/1.1', sourceIp: `198.51.100.${n % 250}`, userAgent: name },
    requestId: `r${n}`, routeKey: `POST /functions/${route}`, stage: '$default', time: '25/Nov/2026:10:00:00 +0000', timeEpoch: Date.now(),
  },
  body: JSON.stringify(params), isBase64Encoded: false,
});

// Serves the Runtime API on a free port of 127.0.0.1 and starts `command`
// (the bootstrap, or an emulator running it) against it.
//   nextEvent() -> { id, body } to hand out an event, or undefined to hold the poll;
//   onAnswer(id, 'response'|'error', body, hrtime) for each answer;
//   onInitError(body) when the function reports that its init failed.
// Resolves to { server, child, started } once the process is spawned.
export function runtimeApi({
  command, args = [], env, functionName, nextEvent, onAnswer, onInitError, stdio = ['ignore', 'ignore', 'inherit'],
}) {
  const server = createServer((req, res) => {
    const url = req.url;
    if (req.method === 'GET' && url.endsWith('/invocation/next')) {
      const event = nextEvent();
      if (!event) return; // hold the poll
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Lambda-Runtime-Aws-Request-Id': event.id,
        'Lambda-Runtime-Deadline-Ms': String(Date.now() + (event.timeoutMs ?? 10_000)),
        'Lambda-Runtime-Invoked-Function-Arn': `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
        'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000;Sampled=0',
      });
      res.end(event.body);
      return;
    }
    const answered = url.match(/invocation\/([^/]+)\/(response|error)$/);
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      res.writeHead(202).end();
      if (url.endsWith('/init/error')) return onInitError(body);
      if (answered) onAnswer(answered[1], answered[2], body, process.hrtime.bigint());
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      const started = process.hrtime.bigint();
      const child = spawn(command, args, {
        stdio,
        env: {
          ...env,
          AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
          AWS_LAMBDA_FUNCTION_NAME: functionName,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
          AWS_LAMBDA_LOG_STREAM_NAME: functionName,
          AWS_LAMBDA_LOG_GROUP_NAME: functionName,
          AWS_LAMBDA_LOG_FORMAT: 'JSON',
        },
      });
      resolve({ server, child, started });
    });
  });
}

async function bench() {
  const [bootstrap, kind, roundsArg, prefix] = process.argv.slice(2);
  const rounds = Number(roundsArg);
  const route = kind === 'send' ? 'sendVerificationCode' : 'verifyPhoneNumber';
  const phone = (n) => `${prefix}${String(n).padStart(4, '0')}`;
  const params = (n) => (kind === 'send'
    ? { phoneNumber: phone(n) }
    : { phoneNumber: phone(n), phoneVerificationCode: '000000' });

  let next = 0;
  const handedOut = new Map(); // request id -> time the event was handed out
  const latencies = [];
  const statuses = {};
  let firstAnswer;
  let firstRequestMs;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });

  const { server, child, started } = await runtimeApi({
    command: bootstrap,
    env: process.env,
    functionName: `bench-${kind}`,
    nextEvent: () => {
      if (next >= rounds) return undefined; // the benchmark is over
      const id = `bench-${next}`;
      handedOut.set(id, process.hrtime.bigint());
      const body = httpApiEvent(route, params(next), next);
      next += 1;
      return { id, body };
    },
    onInitError: (body) => { console.error(`init error: ${body}`); process.exit(1); },
    onAnswer: (id, _kind, body, now) => {
      const status = JSON.parse(body).statusCode ?? 'error';
      statuses[status] = (statuses[status] || 0) + 1;
      if (firstAnswer === undefined) {
        firstAnswer = now;
        firstRequestMs = Number(now - handedOut.get(id)) / 1e6;
      } else latencies.push(Number(now - handedOut.get(id)) / 1e6);
      if (latencies.length + 1 === rounds) done();
    },
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
}

// Run as a command (not imported)?
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) await bench();
