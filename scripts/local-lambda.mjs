#!/usr/bin/env node
// The deployed stack's shape on one machine: API Gateway's HTTP API in front
// of both functions, with the routes and CORS read from template.yaml at
// start (scripts/template.mjs), so there is no copy here; route keys with
// `{Param}` segments match as API Gateway's do, the event carrying the
// template's route key and the `pathParameters`. Each function is a
// pool of bootstrap processes speaking the Lambda Runtime API, one invocation
// per process at a time; when all are busy a new one starts (a cold start),
// up to MAX_CONCURRENCY per function, as Lambda scales its environments.
// Processes whose bootstrap was rebuilt are replaced once idle, so
// `cargo build` in another terminal takes effect on the next request.
//   node scripts/local-lambda.mjs PORT SEND_BOOTSTRAP VERIFY_BOOTSTRAP
// Env: MAX_CONCURRENCY (per function, default 8); FUNCTION_TIMEOUT_MS (default:
// the function's Timeout in template.yaml); TRUST_FORWARDED_FOR=1 takes the client address from
// X-Forwarded-For, so one load generator can act as many clients (tests
// only: API Gateway takes it from the connection). The functions get this
// process's environment.
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import { runtimeApi } from './bench-runtime.mjs';
import { httpApi, readTemplate, routeMatcher } from './template.mjs';

const [port, sendBootstrap, verifyBootstrap] = process.argv.slice(2);
const maxConcurrency = Number(process.env.MAX_CONCURRENCY || 8);
const trustForwardedFor = process.env.TRUST_FORWARDED_FOR === '1';

const template = readTemplate();
const api = httpApi(template);

/**
 * The CORS headers API Gateway adds to the answer to `req`, from the HTTP
 * API's CorsConfiguration (AllowOrigins with CorsAllowOrigin's default), so a
 * header missing there fails locally too (the e2e check asks for each
 * documented one). As API Gateway: only for a request with an allowed Origin
 * header; a preflight (OPTIONS with Access-Control-Request-Method) gets the
 * allowed methods, headers and max age, any other request the exposed headers.
 */
function corsHeaders(req) {
  const { AllowOrigins = [], AllowMethods = [], AllowHeaders = [], ExposeHeaders = [], MaxAge,
    AllowCredentials } = api.cors;
  const origin = req.headers.origin;
  if (!origin) return {};
  const allowed = AllowOrigins.find((o) => o === '*' || o === origin
    || (o.endsWith('://*') && origin.startsWith(o.slice(0, -1))));
  if (!allowed) return {};
  const headers = { 'access-control-allow-origin': allowed === '*' ? '*' : origin };
  if (AllowCredentials) headers['access-control-allow-credentials'] = 'true';
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    if (AllowMethods.length) headers['access-control-allow-methods'] = AllowMethods.join(',');
    if (AllowHeaders.length) headers['access-control-allow-headers'] = AllowHeaders.join(',');
    if (MaxAge !== undefined) headers['access-control-max-age'] = String(MaxAge);
  } else if (ExposeHeaders.length) {
    headers['access-control-expose-headers'] = ExposeHeaders.join(',');
  }
  return headers;
}

/** One function: a pool of processes and a queue of invocations. */
class FunctionPool {
  constructor(name, bootstrap, timeoutMs) {
    Object.assign(this, { name, bootstrap, timeoutMs, instances: new Set(), queue: [], coldStarts: 0 });
  }

  /** Runs one event; resolves to { kind: 'response'|'error'|'timeout'|'crash', body }. */
  invoke(event) {
    return new Promise((resolve) => {
      this.queue.push({ id: randomUUID(), event, resolve });
      this.dispatch();
    });
  }

  dispatch() {
    const built = statSync(this.bootstrap).mtimeMs;
    for (const instance of this.instances) {
      if (instance.poll && instance.built < built) instance.child.kill('SIGTERM'); // rebuilt: replace
    }
    for (const instance of this.instances) {
      if (!this.queue.length) return;
      if (instance.poll && instance.built >= built) this.hand(instance, this.queue.shift());
    }
    const starting = [...this.instances].filter((i) => i.starting).length;
    if (this.queue.length > starting && this.instances.size < maxConcurrency) this.start(built);
  }

  hand(instance, invocation) {
    const poll = instance.poll;
    instance.poll = undefined;
    instance.current = invocation;
    invocation.timer = setTimeout(() => {
      this.finish(instance, 'timeout', '');
      instance.child.kill('SIGKILL'); // as Lambda ends a timed-out environment
    }, this.timeoutMs);
    poll({ id: invocation.id, body: JSON.stringify(invocation.event), timeoutMs: this.timeoutMs });
  }

  finish(instance, kind, body) {
    const invocation = instance.current;
    if (!invocation) return;
    clearTimeout(invocation.timer);
    instance.current = undefined;
    invocation.resolve({ kind, body });
  }

  async start(built) {
    const instance = { built, starting: true };
    this.instances.add(instance);
    this.coldStarts += 1;
    const api = await runtimeApi({
      command: this.bootstrap,
      env: process.env,
      functionName: this.name,
      stdio: ['ignore', 'inherit', 'inherit'],
      nextEvent: () => new Promise((resolve) => {
        instance.starting = false;
        instance.poll = resolve;
        setImmediate(() => this.dispatch());
      }),
      onAnswer: (id, kind, body) => {
        if (instance.current?.id === id) this.finish(instance, kind, body);
      },
      onInitError: (body) => console.error(`${this.name}: init failed: ${body}`),
    });
    instance.child = api.child;
    api.child.on('exit', () => {
      this.instances.delete(instance);
      api.server.close();
      this.finish(instance, 'crash', '');
      if (!this.instances.size && instance.starting) {
        // Init failed: fail what waits rather than restart in a loop.
        for (const waiting of this.queue.splice(0)) waiting.resolve({ kind: 'crash', body: '' });
      } else {
        this.dispatch();
      }
    });
  }

  stop() {
    for (const instance of this.instances) instance.child?.kill('SIGTERM');
  }
}

// One pool per function (by its logical id in template.yaml), named after
// its binary, with its timeout.
const bootstraps = { SendVerificationCodeFunction: sendBootstrap, VerifyPhoneNumberFunction: verifyBootstrap };
const pools = Object.fromEntries(Object.entries(bootstraps).map(([id, bootstrap]) => {
  const binary = template.Resources[id]?.Metadata?.BuildProperties?.Binary;
  if (!binary) throw new Error(`template.yaml has no function ${id} built from a binary`);
  const seconds = template.Resources[id].Properties.Timeout ?? template.Globals?.Function?.Timeout ?? 3;
  if (typeof seconds !== 'number') throw new Error(`template.yaml: ${id}'s Timeout is not a number`);
  return [id, new FunctionPool(binary, bootstrap, Number(process.env.FUNCTION_TIMEOUT_MS || seconds * 1000))];
}));
// template.yaml's routes: route key -> the pool of the function its integration invokes.
const routes = Object.fromEntries(Object.entries(api.routes).map(([key, id]) => {
  if (!pools[id]) throw new Error(`template.yaml routes ${key} to ${id}, which has no bootstrap here`);
  return [key, pools[id]];
}));
// Route keys with `{Param}` segments match as API Gateway's do (template.mjs).
const matchRoute = routeMatcher(routes);

const textTypes = /^(text\/|application\/(json|x-www-form-urlencoded|xml)|[^;]*\+json)/i;

/** The payload-v2 event API Gateway's HTTP API makes of a request. */
function httpApiEvent(req, url, routeKey, pathParameters, body) {
  const headers = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    headers[name] = name in headers ? `${headers[name]},${req.rawHeaders[i + 1]}` : req.rawHeaders[i + 1];
  }
  const cookies = headers.cookie?.split(/;\s*/);
  delete headers.cookie;
  const forwarded = trustForwardedFor && headers['x-forwarded-for']?.split(',')[0].trim();
  const sourceIp = forwarded || req.socket.remoteAddress.replace(/^::ffff:/, '');
  headers['x-forwarded-for'] = sourceIp;
  const text = textTypes.test(headers['content-type'] || '') && isUtf8(body);
  const query = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies && { cookies }),
    headers,
    ...(url.search && { queryStringParameters: query }),
    ...(pathParameters && { pathParameters }),
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: headers.host || `127.0.0.1:${port}`,
      domainPrefix: 'local',
      http: { method: req.method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp, userAgent: headers['user-agent'] || '' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length && { body: text ? body.toString('utf8') : body.toString('base64') }),
    isBase64Encoded: body.length > 0 && !text,
  };
}

/** Answers `req` through `res`, with API Gateway's CORS headers. */
function answer(req, res, status, headers, body) {
  res.writeHead(status, { ...headers, ...corsHeaders(req) });
  res.end(body);
}

/** The HTTP answer API Gateway makes of the function's (or of its failure). */
function fromLambda(req, res, { kind, body }) {
  if (kind === 'timeout') return answer(req, res, 503, { 'content-type': 'application/json' }, '{"message":"Service Unavailable"}');
  if (kind !== 'response') return answer(req, res, 500, { 'content-type': 'application/json' }, '{"message":"Internal Server Error"}');
  const reply = JSON.parse(body);
  const headers = Object.fromEntries(Object.entries(reply.headers || {})
    .filter(([name]) => !name.toLowerCase().startsWith('access-control-'))); // ours replace them
  if (reply.cookies?.length) headers['set-cookie'] = reply.cookies;
  const payload = reply.body ? Buffer.from(reply.body, reply.isBase64Encoded ? 'base64' : 'utf8') : '';
  return answer(req, res, reply.statusCode || 200, headers, payload);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://gateway');
  // API Gateway answers OPTIONS itself (no route of the template has it).
  if (req.method === 'OPTIONS') return answer(req, res, 204, {}, '');
  // The template's route key (`POST /v2/Services/{ServiceSid}/Verifications`)
  // and the path parameters it captured, as API Gateway puts them in the event.
  const route = matchRoute(req.method, url.pathname);
  if (!route) return answer(req, res, 404, { 'content-type': 'application/json' }, '{"message":"Not Found"}');
  const { routeKey, target: pool, pathParameters } = route;
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => { size += chunk.length; if (size <= 10 * 1024 * 1024) chunks.push(chunk); });
  req.on('end', async () => {
    if (size > 10 * 1024 * 1024) { // API Gateway's payload limit
      return answer(req, res, 413, { 'content-type': 'application/json' }, '{"message":"Request Entity Too Large"}');
    }
    fromLambda(req, res, await pool.invoke(httpApiEvent(req, url, routeKey, pathParameters, Buffer.concat(chunks))));
  });
});

server.listen(Number(port), '127.0.0.1', () => {
  console.log(`Local API on http://127.0.0.1:${port}: ${Object.keys(routes).join(', ')}; `
    + `up to ${maxConcurrency} processes per function`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    const starts = Object.values(pools).map((p) => `${p.name} ${p.coldStarts}`).join(', ');
    console.log(`cold starts: ${starts}`);
    Object.values(pools).forEach((pool) => pool.stop());
    process.exit(0);
  });
}
