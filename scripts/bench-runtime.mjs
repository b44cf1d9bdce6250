#!/usr/bin/env node
// Runs release bootstraps under a minimal Lambda Runtime API (the same HTTP
// protocol Lambda speaks to custom runtimes) and measures them on this machine.
//   node scripts/bench-runtime.mjs warm BOOTSTRAP send|verify ROUNDS PHONE_PREFIX
//     one process: cold start, then warm latency (p50/p99) and peak RSS;
//   node scripts/bench-runtime.mjs profile BOOTSTRAP OUT
//     init alone under callgrind (instructions per function), until the
//     first poll for an event;
//   node scripts/bench-runtime.mjs cold STARTS PHONE_PREFIX NAME=BOOTSTRAP...
//     STARTS fresh processes of each bootstrap, alternated, the first named
//     the floor: spawn to first answer, init, the first answer alone, and the
//     CPU the process used by the end of init and after its first answer.
//     A name starting with send or verify is that function (send-before=...
//     compares two builds); PHONE_PREFIX has 3 digits less than a number.
// The functions' configuration comes from the environment.
// Also a module: `runtimeApi` and `httpApiEvent` are what scripts/arm64-check.mjs uses.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
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
//   nextEvent(hrtime) -> { id, body, timeoutMs? } to hand out an event, undefined to hold
//   the poll, or a promise of either;
//   onAnswer(id, 'response'|'error', body, hrtime) for each answer;
//   onInitError(body) when the function reports that its init failed.
// Resolves to { server, child, started } once the process is spawned.
export function runtimeApi({
  command, args = [], env, functionName, nextEvent, onAnswer, onInitError, stdio = ['ignore', 'ignore', 'inherit'],
}) {
  const hand = (res, event) => {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': event.id,
      'Lambda-Runtime-Deadline-Ms': String(Date.now() + (event.timeoutMs ?? 10_000)),
      'Lambda-Runtime-Invoked-Function-Arn': `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
      'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000;Sampled=0',
    });
    res.end(event.body);
  };
  const server = createServer((req, res) => {
    const url = req.url;
    if (req.method === 'GET' && url.endsWith('/invocation/next')) {
      const event = nextEvent(process.hrtime.bigint());
      if (event instanceof Promise) return event.then((later) => later && hand(res, later));
      if (event) hand(res, event); // else hold the poll
      return;
    }
    const answered = url.match(/invocation\/([^/]+)\/(response|error)$/);
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
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

async function warm(bootstrap, kind, roundsArg, prefix) {
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

// CPU time the process has used so far, in ms: all its threads, from
// /proc/<pid>/task/*/schedstat (nanoseconds; /proc/<pid>/stat counts 10 ms ticks).
function cpuMs(pid) {
  return readdirSync(`/proc/${pid}/task`).reduce((sum, task) => {
    try { return sum + Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) / 1e6; } catch { return sum; }
  }, 0);
}

// One cold start: spawn, init (until the first poll for an event), the first
// request (handed out -> answered), with the CPU used at both points.
async function coldStart(bootstrap, name, kind, event) {
  let initDone; let cpuInit; let answered;
  const result = new Promise((resolve, reject) => { answered = resolve; setTimeout(() => reject(new Error(`${name}: no answer in 20 s`)), 20_000); });
  const api = await runtimeApi({
    command: bootstrap,
    env: process.env,
    functionName: `bench-${name}`,
    stdio: ['ignore', 'ignore', 'ignore'], // logs are written (as on Lambda), not shown
    nextEvent: (now) => {
      if (initDone !== undefined) return undefined;
      initDone = now; cpuInit = cpuMs(api.child.pid);
      return { id: `${name}-cold`, body: event };
    },
    onInitError: (body) => { console.error(`${name}: init error: ${body}`); process.exit(1); },
    onAnswer: (_id, kind, body, now) => answered({ kind, body, now, cpu: cpuMs(api.child.pid) }),
  });
  const { server, child, started } = api;
  const answer = await result;
  child.kill('SIGKILL');
  server.close();
  const status = answer.kind === 'response' ? JSON.parse(answer.body).statusCode : 'error';
  // A send must send; a wrong code's check answers 400 after its writes.
  if (!(status === 200 || (kind === 'verify' && status === 400))) throw new Error(`${name}: first answer ${status}: ${answer.body}`);
  return {
    total_ms: Number(answer.now - started) / 1e6,
    init_ms: Number(initDone - started) / 1e6,
    first_ms: Number(answer.now - initDone) / 1e6,
    cpu_init_ms: cpuInit,
    cpu_first_ms: answer.cpu,
  };
}

async function cold(startsArg, prefix, ...named) {
  const bootstraps = named.map((pair) => pair.split('='));
  const runs = Object.fromEntries(bootstraps.map(([name]) => [name, []]));
  const routes = { send: 'sendVerificationCode', verify: 'verifyPhoneNumber' };
  for (let n = 0; n < Number(startsArg); n += 1) {
    for (const [name, bootstrap] of bootstraps) {
      // One number per start; verify checks a wrong code against the number
      // its send counterpart (verify-x: send-x) has just sent a code to.
      const sender = bootstraps.findIndex(([other]) => other === name.replace(/^verify/, 'send'));
      const phone = `${prefix}${Math.max(sender, 0)}${String(n).padStart(3, '0')}`;
      // A name starting with send or verify (send, verify-before...) is that function.
      const kind = Object.keys(routes).find((k) => name.startsWith(k));
      const params = kind === 'verify' ? { phoneNumber: phone, phoneVerificationCode: '000000' } : { phoneNumber: phone };
      runs[name].push(await coldStart(bootstrap, name, kind, httpApiEvent(routes[kind] ?? name, params, n)));
    }
  }
  const median = (values) => { const v = [...values].sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
  const medians = Object.fromEntries(Object.entries(runs).map(([name, list]) => [name,
    Object.fromEntries(Object.keys(list[0]).map((key) => [key, median(list.map((run) => run[key]))]))]));
  const floor = medians[bootstraps[0][0]];
  const ms = (value) => `${value.toFixed(1)} ms`;
  console.log(`| medians of ${startsArg} cold starts | spawn to first answer | init | first answer | CPU at end of init | CPU after first answer | ratio to the floor |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, m] of Object.entries(medians)) {
    console.log(`| ${name} | ${ms(m.total_ms)} | ${ms(m.init_ms)} | ${ms(m.first_ms)} | ${ms(m.cpu_init_ms)} | ${ms(m.cpu_first_ms)} | ${(m.total_ms / floor.total_ms).toFixed(2)}x |`);
    console.error(JSON.stringify({ cold_start: name, starts: Number(startsArg), ...m, ratio_to_floor: m.total_ms / floor.total_ms }));
  }
}

// Init under callgrind: stopped when it first asks for an event.
async function profile(bootstrap, out) {
  const api = await runtimeApi({
    command: 'valgrind',
    args: ['--tool=callgrind', `--callgrind-out-file=${out}`, bootstrap],
    env: process.env,
    functionName: 'profile',
    stdio: ['ignore', 'ignore', 'ignore'],
    nextEvent: () => { api.child.kill('SIGTERM'); }, // callgrind writes its file on the way out
    onAnswer: () => {},
    onInitError: (body) => { console.error(`init error: ${body}`); process.exit(1); },
  });
  await new Promise((resolve) => { api.child.on('exit', resolve); });
  api.server.close();
}

// Run as a command (not imported)?
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'warm') await warm(...args);
  else if (mode === 'cold') await cold(...args);
  else if (mode === 'profile') await profile(...args);
  else { console.error('usage: bench-runtime.mjs warm|cold|profile ...'); process.exit(2); }
}
