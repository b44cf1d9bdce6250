#!/usr/bin/env node
// One base URL for both functions, as API Gateway gives the deployed stack, so
// a Parse client's `serverURL` can point at http://127.0.0.1:3000.
// `cargo lambda watch` serves each function under its own prefix instead; the
// routes are template.yaml's:
//   POST /functions/sendVerificationCode -> {UPSTREAM}/lambda-url/send-verification-code/functions/sendVerificationCode
//   POST /twilio/status                  -> {UPSTREAM}/lambda-url/send-verification-code/twilio/status
//   POST /functions/verifyPhoneNumber    -> {UPSTREAM}/lambda-url/verify-phone-number/functions/verifyPhoneNumber
//   GET  /.well-known/jwks.json          -> {UPSTREAM}/lambda-url/verify-phone-number/.well-known/jwks.json
//   node scripts/local-gateway.mjs [PORT]   (or GATEWAY_PORT, default 3000;
//   LAMBDA_UPSTREAM, default http://127.0.0.1:9000)
import { createServer, request } from 'node:http';

const port = Number(process.argv[2] || process.env.GATEWAY_PORT || 3000);
const upstream = new URL(process.env.LAMBDA_UPSTREAM || 'http://127.0.0.1:9000');
const routes = {
  'POST /functions/sendVerificationCode': 'send-verification-code',
  'POST /twilio/status': 'send-verification-code',
  'POST /functions/verifyPhoneNumber': 'verify-phone-number',
  'GET /.well-known/jwks.json': 'verify-phone-number',
};

// template.yaml's HttpApi CorsConfiguration.AllowHeaders, so that a header
// missing there fails locally too (the e2e check asks for each documented one).
const allowHeaders = [
  'content-type', 'idempotency-key', 'x-parse-application-id', 'x-parse-client-version',
  'x-parse-installation-id', 'x-parse-javascript-key', 'x-parse-session-token',
].join(',');

const cors = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Max-Age': '600',
  'Access-Control-Expose-Headers': 'Retry-After',
};

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...cors });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://gateway');
  if (req.method === 'OPTIONS') { // CORS preflight: the same answer as the deployed API
    res.writeHead(204, { ...cors, 'Access-Control-Allow-Headers': allowHeaders });
    return res.end();
  }
  const route = `${req.method} ${url.pathname}`;
  const bin = Object.hasOwn(routes, route) ? routes[route] : null;
  if (!bin) {
    return sendJson(res, 404, {
      code: 141, error: `Invalid function: "${url.pathname}"`, reason: 'unknown_function',
    });
  }

  const headers = { ...req.headers, host: upstream.host };
  const proxied = request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: `/lambda-url/${bin}${url.pathname}${url.search}`,
    headers,
  }, (up) => {
    // Ours replace upstream CORS headers (a duplicate Allow-Origin breaks browsers).
    const kept = Object.entries(up.headers).filter(([k]) => !k.startsWith('access-control-'));
    res.writeHead(up.statusCode, { ...Object.fromEntries(kept), ...cors });
    up.pipe(res);
  });
  proxied.on('error', (err) => {
    // Upstream down or still compiling: answer like API Gateway would.
    if (!res.headersSent) sendJson(res, 502, { code: 1, error: 'Bad Gateway', reason: 'upstream_unavailable', detail: err.code || err.message });
    else res.destroy();
  });
  req.pipe(proxied);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`Local gateway on http://127.0.0.1:${port} (${Object.keys(routes).join(', ')}) -> ${upstream.origin}/lambda-url/...`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
