#!/usr/bin/env node
// Local stand-in for the message providers, for development: speaks Twilio's
// REST wire format for Messages.json and Calls.json, Plivo's for its
// Message and Call APIs and AWS End User Messaging SMS and Voice v2's
// (awsJson 1.0) for SendTextMessage and SendVoiceMessage, prints every "sent"
// SMS/call in a box so the developer can read the code, and never reaches the
// real providers.
//   node scripts/twilio-standin.mjs [PORT]     (or TWILIO_STANDIN_PORT; default 3010)
//   POST /2010-04-01/Accounts/{sid}/Messages.json, .../Calls.json  -> Twilio (any basic auth)
//   POST /v1/Account/{auth_id}/Message/  -> Plivo: JSON {src|powerpack_uuid, dst, text, url?},
//                                 basic auth with that Auth ID; 202 "message(s) queued"
//   POST /v1/Account/{auth_id}/Call/     -> Plivo: JSON {from, to, answer_url, answer_method?,
//                                 hangup_url?}; 201 "call fired", then, as Plivo does when the
//                                 callee picks up, POSTs to answer_url (form-encoded, V3-signed
//                                 with LOCAL_PLIVO_AUTH_TOKEN) and prints what its XML speaks
//   POST / with X-Amz-Target: PinpointSMSVoiceV2.SendTextMessage or .SendVoiceMessage
//                              -> AWS: JSON {DestinationPhoneNumber, OriginationIdentity,
//                                 MessageBody, Context?...}; 200 {"MessageId"} (the
//                                 SigV4 signature is not checked). A message to
//                                 +15005550004 is then reported undelivered
//                                 (TEXT_BLOCKED; a call VOICE_FAILED) as Amazon SNS
//                                 delivers AWS's events: signed with the test key of
//                                 tests/fixtures/sns/, POSTed to STANDIN_AWS_EVENTS_URL
//                                 (when set) from topic STANDIN_AWS_EVENTS_TOPIC_ARN
//   GET /sns/SimpleNotificationService-local.pem -> that key's certificate
//   GET /messages[?to=NUMBER]  -> JSON list of what it received (newest last), each
//                                 with its provider (twilio, plivo, aws)
//   POST /control {"provider": "twilio"|"plivo"|"aws", "mode": "ok"|"dead"|"slow", "delayMs"?}
//                              -> makes a provider answer normally, refuse everything
//                                 (dead: certainly not sent; 503, or AWS's
//                                 ThrottlingException), or only after delayMs (slow,
//                                 default 11000: past the functions' provider timeouts and
//                                 their 10 s Lambda timeout; the message counts as received);
//                                 GET /control shows each provider's mode and how many
//                                 requests it refused while dead (refused)
//   GET /refused[?to=NUMBER]   -> JSON list of the requests a dead provider answered 503
//                                 (newest last): {provider, to, refused_at}
//   POST /siteverify           -> a human check's verdict, as Turnstile's testing
//                                 keys give it: the secret local-human-proof-secret and the token
//                                 XXXX.DUMMY.TOKEN.XXXX pass
// TWILIO_STANDIN_QUIET=1 leaves out the boxes (load tests send thousands).
import { createServer } from 'node:http';
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

const port = Number(process.argv[2] || process.env.TWILIO_STANDIN_PORT || 3010);
const received = [];

const sid = (prefix) => prefix + randomBytes(16).toString('hex');
const rfc2822 = (d) => d.toUTCString().replace('GMT', '+0000'); // Twilio's date format

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body, null, 2));
}

// Twilio's error body: {code, message, more_info, status}.
function twilioError(res, status, code, message) {
  send(res, status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
}

function box(title, lines) {
  if (process.env.TWILIO_STANDIN_QUIET === '1') return;
  const width = Math.max(title.length, ...lines.map((l) => l.length)) + 2;
  const bar = '─'.repeat(width);
  const row = (s) => `│ ${s.padEnd(width - 1)}│`;
  console.log([`┌${bar}┐`, row(title), `├${bar}┤`, ...lines.map(row), `└${bar}┘`].join('\n'));
}

// Twilio's magic test numbers (https://www.twilio.com/docs/iam/test-credentials).
function magicNumberError(res, to) {
  if (to === '+15005550001') {
    twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    return true;
  }
  if (to === '+15005550009') {
    twilioError(res, 400, 21614, "'To' number is not a valid mobile number");
    return true;
  }
  return false;
}

function common(accountSid, kind, id, form, now) {
  return {
    account_sid: accountSid,
    api_version: '2010-04-01',
    date_created: rfc2822(now),
    date_updated: rfc2822(now),
    sid: id,
    to: form.get('To'),
    uri: `/2010-04-01/Accounts/${accountSid}/${kind}/${id}.json`,
  };
}

function createMessage(res, accountSid, form) {
  const to = form.get('To');
  const from = form.get('From');
  const service = form.get('MessagingServiceSid');
  const body = form.get('Body');
  if (!to) return twilioError(res, 400, 21604, "A 'To' phone number is required.");
  if (!from && !service) return twilioError(res, 400, 21603, "A 'From' phone number is required.");
  if (!body) return twilioError(res, 400, 21602, 'Message body is required.');
  if (magicNumberError(res, to)) return;

  const now = new Date();
  const id = sid('SM');
  // GSM-7 segments hold 160 chars (153 when concatenated); UCS-2 70 (67).
  const gsm = /^[\x20-\x7E\n\r]*$/.test(body);
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  const segments = body.length <= single ? 1 : Math.ceil(body.length / multi);
  const message = {
    ...common(accountSid, 'Messages', id, form, now),
    body,
    date_sent: null,
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from: from || null,
    messaging_service_sid: service || null,
    num_media: '0',
    num_segments: String(segments),
    price: null,
    price_unit: 'USD',
    status: 'queued',
    subresource_uris: {
      media: `/2010-04-01/Accounts/${accountSid}/Messages/${id}/Media.json`,
      feedback: `/2010-04-01/Accounts/${accountSid}/Messages/${id}/Feedback.json`,
    },
  };
  received.push({ provider: 'twilio', type: 'sms', to, from: from || service, body, sid: id, statusCallback: form.get('StatusCallback'), received_at: now.toISOString() });
  box(`SMS to ${to}`, body.split('\n'));
  send(res, 201, message);
}

function createCall(res, accountSid, form) {
  const to = form.get('To');
  const from = form.get('From');
  const twiml = form.get('Twiml');
  if (!to) return twilioError(res, 400, 21201, 'No called number is specified');
  if (!from) return twilioError(res, 400, 21213, 'No caller ID is specified');
  if (!twiml && !form.get('Url')) return twilioError(res, 400, 21205, 'Url parameter is required.');
  if (magicNumberError(res, to)) return;

  const now = new Date();
  const id = sid('CA');
  const call = {
    ...common(accountSid, 'Calls', id, form, now),
    answered_by: null,
    caller_name: null,
    direction: 'outbound-api',
    duration: null,
    end_time: null,
    forwarded_from: null,
    from,
    from_formatted: from,
    parent_call_sid: null,
    phone_number_sid: null,
    price: null,
    price_unit: 'USD',
    queue_time: '0',
    start_time: null,
    status: 'queued',
    to_formatted: to,
    subresource_uris: {
      recordings: `/2010-04-01/Accounts/${accountSid}/Calls/${id}/Recordings.json`,
    },
  };
  received.push({ provider: 'twilio', type: 'call', to, from, twiml, sid: id, statusCallback: form.get('StatusCallback'), received_at: now.toISOString() });
  box(`Voice call to ${to}`, (twiml || form.get('Url')).split('\n'));
  send(res, 201, call);
}

// Plivo's error body: {api_id, error}.
function plivoError(res, status, error) {
  send(res, status, { api_id: randomUUID(), error });
}

// POST /v1/Account/{auth_id}/Message/ with Plivo's JSON body.
function createPlivoMessage(res, body) {
  let message;
  try {
    message = JSON.parse(body);
  } catch {
    return plivoError(res, 400, 'invalid json data');
  }
  const { src, powerpack_uuid: powerpack, dst, text, url } = message ?? {};
  if (!src && !powerpack) return plivoError(res, 400, 'src parameter not present');
  if (!dst) return plivoError(res, 400, 'dst parameter not present');
  if (!text) return plivoError(res, 400, 'text parameter not present');
  const to = `+${String(dst).replace(/^\+/, '')}`;
  const uuid = randomUUID();
  received.push({ provider: 'plivo', type: 'sms', to, from: src || powerpack, body: text, sid: uuid, statusCallback: url ?? null, received_at: new Date().toISOString() });
  box(`SMS to ${to} (Plivo)`, String(text).split('\n'));
  send(res, 202, { api_id: randomUUID(), message: 'message(s) queued', message_uuid: [uuid] });
}

// AWS's error body (awsJson 1.0): {__type, message, ...members}.
function awsError(res, status, type, message, members = {}) {
  res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amzn-ErrorType': type });
  res.end(JSON.stringify({ __type: `com.amazonaws.pinpointsmsvoicev2#${type}`, message, ...members }));
}

// SendTextMessage or SendVoiceMessage (`operation`) with AWS's JSON body.
function createAwsMessage(res, operation, body) {
  let message;
  try {
    message = JSON.parse(body);
  } catch {
    return awsError(res, 400, 'ValidationException', 'Could not parse the request', { Reason: 'CANNOT_PARSE' });
  }
  const { DestinationPhoneNumber: to, OriginationIdentity: from, MessageBody: text, Context: context } = message ?? {};
  for (const [name, value] of [['DestinationPhoneNumber', to], ['OriginationIdentity', from], ['MessageBody', text]]) {
    if (!value) return awsError(res, 400, 'ValidationException', `${name} is required`, { Reason: 'MISSING_PARAMETER', Fields: [{ Name: name, Message: 'required' }] });
  }
  const id = randomUUID();
  const type = operation === 'SendVoiceMessage' ? 'call' : 'sms';
  const entry = { provider: 'aws', type, to, from, body: text, sid: id, context: context ?? null, received_at: new Date().toISOString() };
  received.push(entry);
  box(`${type === 'call' ? 'Voice call' : 'SMS'} to ${to} (AWS)`, String(text).split('\n'));
  res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
  res.end(JSON.stringify({ MessageId: id }));
  if (to === '+15005550004') setTimeout(() => postAwsEvent(type === 'call' ? 'VOICE_FAILED' : 'TEXT_BLOCKED', entry), 500);
}

// AWS's delivery events as Amazon SNS delivers them: an HTTPS notification
// signed (SignatureVersion 2, RSA PKCS#1 v1.5 over SHA256 of SNS's text to
// sign) with the fixture key whose certificate SNS_CERT_PATH serves.
const SNS_CERT_PATH = '/sns/SimpleNotificationService-local.pem';
const fixture = (name) => readFileSync(new URL(`../tests/fixtures/sns/${name}`, import.meta.url), 'utf8');

function modPow(base, exponent, modulus) {
  let result = 1n;
  for (base %= modulus; exponent > 0n; exponent >>= 1n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
  }
  return result;
}

function snsSignature(text) {
  const key = Object.fromEntries(fixture('signing-key.txt').split('\n')
    .filter((line) => /^[nd]=/.test(line)).map((line) => [line[0], BigInt(`0x${line.slice(2)}`)]));
  const sha256Info = Buffer.from('3031300d060960864801650304020105000420', 'hex');
  const digest = Buffer.concat([sha256Info, createHash('sha256').update(text).digest()]);
  const length = Math.ceil(key.n.toString(16).length / 2);
  const block = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(length - digest.length - 3, 0xff), Buffer.from([0]), digest]);
  const signature = modPow(BigInt(`0x${block.toString('hex')}`), key.d, key.n);
  return Buffer.from(signature.toString(16).padStart(length * 2, '0'), 'hex').toString('base64');
}

function postAwsEvent(eventType, message) {
  const url = process.env.STANDIN_AWS_EVENTS_URL;
  const topic = process.env.STANDIN_AWS_EVENTS_TOPIC_ARN;
  if (!url || !topic) return;
  const event = {
    eventType, eventVersion: '1.0', eventTimestamp: Date.now(), isFinal: true,
    destinationPhoneNumber: message.to, messageId: message.sid,
    messageStatus: eventType.replace(/^(TEXT|VOICE)_/, ''), context: message.context ?? {},
  };
  const envelope = {
    Type: 'Notification', MessageId: randomUUID(), TopicArn: topic, Message: JSON.stringify(event),
    Timestamp: new Date().toISOString(), SignatureVersion: '2', SigningCertURL: `http://127.0.0.1:${port}${SNS_CERT_PATH}`,
  };
  const signed = ['Message', 'MessageId', 'Timestamp', 'TopicArn', 'Type'].map((name) => `${name}\n${envelope[name]}\n`).join('');
  envelope.Signature = snsSignature(signed);
  const headers = { 'Content-Type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-topic-arn': topic };
  fetch(url, { method: 'POST', headers, body: JSON.stringify(envelope) })
    .then(async (answer) => console.log(`Stand-in: AWS event ${eventType} for ${message.to}: ${answer.status} ${await answer.text()}`))
    .catch((error) => console.log(`Stand-in: AWS event ${eventType} not delivered: ${error.message}`));
}

// Plivo's V3 signature of a POST of `params` to `url`: base64 HMAC-SHA256,
// keyed by the auth token, over the URL without query, `?` and its sorted
// query, `.` when there are both, the sorted params' names and values, `.`
// and the nonce (plivo-node's utils/v3Security.js).
function plivoV3Signature(token, url, params, nonce) {
  const u = new URL(url);
  const sorted = (pairs) => [...pairs].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const query = sorted(u.searchParams).map(([k, v]) => `${k}=${v}`).join('&');
  const form = sorted(Object.entries(params)).map(([k, v]) => k + v).join('');
  let text = `${u.protocol}//${u.host}${u.pathname}`;
  if (query || form) text += `?${query}`;
  if (query && form) text += '.';
  text += `${form}.${nonce}`;
  return createHmac('sha256', token).update(text).digest('base64');
}

const xmlText = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
  .replace(/&apos;/g, "'").replace(/&amp;/g, '&');

// What Plivo does when the callee picks up: fetches the call's answer_url
// (signed) and speaks its XML; here the <Speak> texts are printed, and kept
// as the call's `spoken` (GET /messages).
async function answerPlivoCall(call) {
  const { to, from, answer_url: answerUrl, sid: requestUuid } = call;
  const params = {
    CallUUID: randomUUID(), CallStatus: 'in-progress', Direction: 'outbound', Event: 'StartApp',
    From: from, To: to.replace(/^\+/, ''), ALegRequestUUID: requestUuid, RequestUUID: requestUuid,
  };
  const nonce = String(Date.now()) + randomBytes(4).toString('hex');
  const token = process.env.LOCAL_PLIVO_AUTH_TOKEN || 'local-plivo-token';
  let status;
  let xml;
  try {
    const answer = await fetch(answerUrl, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Plivo-Signature-V3': plivoV3Signature(token, answerUrl, params, nonce),
        'X-Plivo-Signature-V3-Nonce': nonce,
      },
      body: new URLSearchParams(params).toString(),
    });
    status = answer.status;
    xml = await answer.text();
  } catch (error) {
    return box(`Voice call to ${to} (Plivo): answer_url unreachable`, [String(error.message)]);
  }
  if (status !== 200) return box(`Voice call to ${to} (Plivo): answer_url answered ${status}`, [xml.slice(0, 200)]);
  const spoken = [...xml.matchAll(/<Speak\b[^>]*>([^<]*)<\/Speak>/g)].map((m) => xmlText(m[1]));
  call.spoken = spoken.join(' ');
  box(`Voice call to ${to} (Plivo)`, spoken);
}

// POST /v1/Account/{auth_id}/Call/ with Plivo's JSON body.
function createPlivoCall(res, body) {
  let call;
  try {
    call = JSON.parse(body);
  } catch {
    return plivoError(res, 400, 'invalid json data');
  }
  const { from, to: dst, answer_url: answerUrl, hangup_url: hangupUrl } = call ?? {};
  if (!from) return plivoError(res, 400, 'from parameter not present');
  if (!dst) return plivoError(res, 400, 'to parameter not present');
  if (!answerUrl) return plivoError(res, 400, 'answer_url parameter not present');
  const to = `+${String(dst).replace(/^\+/, '')}`;
  const uuid = randomUUID();
  // `spoken` is filled in once the answer_url has been fetched.
  const entry = { provider: 'plivo', type: 'call', to, from, answer_url: answerUrl, spoken: null, sid: uuid, statusCallback: hangupUrl ?? null, received_at: new Date().toISOString() };
  received.push(entry);
  send(res, 201, { api_id: randomUUID(), message: 'call fired', request_uuid: uuid });
  // The callee "picks up" once our answer has left.
  setImmediate(() => answerPlivoCall(entry));
}

// Each provider's mode (POST /control): ok, dead (refuses everything, nothing
// taken) or slow (the answer comes only after delayMs).
const modes = { twilio: { mode: 'ok' }, plivo: { mode: 'ok' }, aws: { mode: 'ok' } };
const refused = []; // what a dead provider answered 503 (GET /refused)
const SLOW_DEFAULT_MS = 11_000;
const controls = () => Object.fromEntries(Object.entries(modes).map(([p, m]) =>
  [p, { ...m, refused: refused.filter((r) => r.provider === p).length }]));

function control(res, body) {
  let wanted;
  try {
    wanted = JSON.parse(body);
  } catch {
    wanted = null;
  }
  const { provider, mode, delayMs } = wanted ?? {};
  const delay = delayMs ?? SLOW_DEFAULT_MS;
  if (!(provider in modes) || !['ok', 'dead', 'slow'].includes(mode) || !(Number.isInteger(delay) && delay >= 0)) {
    return send(res, 400, { error: 'expected {"provider": "twilio"|"plivo"|"aws", "mode": "ok"|"dead"|"slow", "delayMs"?: integer}' });
  }
  modes[provider] = mode === 'slow' ? { mode, delayMs: delay } : { mode };
  console.log(`Stand-in: ${provider} is now ${mode}${mode === 'slow' ? ` (${delay} ms)` : ''}`);
  send(res, 200, controls());
}

// Answers a provider's request as its mode says: `serve` runs at once (ok),
// after the delay (slow), or never, a 503 in its stead (dead; recorded with
// the recipient `to`).
function asMode(provider, res, to, serve) {
  const { mode, delayMs } = modes[provider];
  if (mode === 'dead') {
    refused.push({ provider, to: to ?? null, refused_at: new Date().toISOString() });
    if (provider === 'plivo') return plivoError(res, 503, 'service unavailable');
    // AWS's refusal before doing anything (its 5xx may mean "maybe sent").
    if (provider === 'aws') return awsError(res, 400, 'ThrottlingException', 'Rate exceeded');
    return twilioError(res, 503, 20503, 'Service Unavailable');
  }
  if (mode === 'slow') return setTimeout(serve, delayMs);
  serve();
}

// A field of a JSON body, undefined when the body is not JSON.
function jsonField(body, name) {
  try {
    return JSON.parse(body)?.[name];
  } catch {
    return undefined;
  }
}

const HUMAN_PROOF_SECRET = 'local-human-proof-secret';
const HUMAN_PROOF_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/messages') {
      const to = url.searchParams.get('to');
      return send(res, 200, to ? received.filter((m) => m.to.replace(/^whatsapp:/, '') === to) : received);
    }
    if (req.method === 'GET' && path === '/refused') {
      const to = url.searchParams.get('to');
      return send(res, 200, to ? refused.filter((r) => r.to?.replace(/^whatsapp:/, '') === to) : refused);
    }

    // A human check's siteverify (Turnstile's shape, as its testing keys
    // behave): the local secret and Cloudflare's dummy token pass.
    if (req.method === 'POST' && path === '/siteverify') {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const success = form.get('secret') === HUMAN_PROOF_SECRET && form.get('response') === HUMAN_PROOF_TOKEN;
      box(`Human check: ${success ? 'passed' : 'failed'}`, []);
      return send(res, 200, success ? { success } : { success, 'error-codes': ['invalid-input-response'] });
    }

    if (req.method === 'GET' && path === SNS_CERT_PATH) {
      res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
      return res.end(fixture('cert.pem'));
    }

    if (path === '/control') {
      if (req.method === 'GET') return send(res, 200, controls());
      if (req.method === 'POST') return control(res, Buffer.concat(chunks).toString());
    }

    // Basic auth: the user (any password, as with Twilio's test credentials).
    const [scheme, token] = (req.headers.authorization || '').split(' ');
    const [user, password] = Buffer.from(token || '', 'base64').toString().split(':');
    const basicUser = scheme?.toLowerCase() === 'basic' ? user : '';

    const plivo = path.match(/^\/v1\/Account\/([^/]+)\/(Message|Call)\/?$/);
    if (req.method === 'POST' && plivo) {
      // Plivo checks the Auth ID of the path against the credentials.
      if (basicUser !== plivo[1] || !password) return plivoError(res, 401, 'authentication failed');
      const body = Buffer.concat(chunks).toString();
      const isMessage = plivo[2] === 'Message';
      const dst = jsonField(body, isMessage ? 'dst' : 'to');
      const create = isMessage ? createPlivoMessage : createPlivoCall;
      return asMode('plivo', res, dst && `+${String(dst).replace(/^\+/, '')}`, () => create(res, body));
    }

    const target = /^PinpointSMSVoiceV2\.(SendTextMessage|SendVoiceMessage)$/.exec(req.headers['x-amz-target'] ?? '');
    if (req.method === 'POST' && path === '/' && target) {
      const body = Buffer.concat(chunks).toString();
      return asMode('aws', res, jsonField(body, 'DestinationPhoneNumber'), () => createAwsMessage(res, target[1], body));
    }

    const match = path.match(/^\/2010-04-01\/Accounts\/([^/]+)\/(Messages|Calls)\.json$/);
    if (req.method !== 'POST' || !match) {
      return twilioError(res, 404, 20404, `The requested resource ${path} was not found`);
    }
    if (!basicUser) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Twilio API"');
      return twilioError(res, 401, 20003, 'Authenticate');
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString());
    asMode('twilio', res, form.get('To'), () => {
      if (match[2] === 'Messages') createMessage(res, match[1], form);
      else createCall(res, match[1], form);
    });
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`Twilio, Plivo and AWS stand-in listening on http://127.0.0.1:${port} (GET /messages lists what it received; POST /control kills or slows a provider)`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
