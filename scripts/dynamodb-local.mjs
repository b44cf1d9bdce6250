#!/usr/bin/env node
// Tiny client for DynamoDB Local's JSON API, so the scripts need neither the
// AWS CLI nor an SDK.
//   node scripts/dynamodb-local.mjs wait URL
//   node scripts/dynamodb-local.mjs create-table URL NAME
// Requests carry a real AWS Signature V4 (DynamoDB Local does not check it,
// but it does insist on a well-formed Authorization header).
import { createHash, createHmac } from 'node:crypto';

const accessKey = process.env.AWS_ACCESS_KEY_ID || 'test';
const secretKey = process.env.AWS_SECRET_ACCESS_KEY || 'test';
const region = process.env.AWS_REGION || 'us-east-1';

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

function sign(url, target, body) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/dynamodb/aws4_request`;
  const headers = {
    'content-type': 'application/x-amz-json-1.0',
    host: url.host,
    'x-amz-date': amzDate,
    'x-amz-target': target,
  };
  const names = Object.keys(headers).sort();
  const canonical = ['POST', url.pathname || '/', '',
    ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), sha256(body)].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = `AWS4${secretKey}`;
  for (const part of [day, region, 'dynamodb', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  delete headers.host; // fetch sets it itself
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, ` +
    `SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

// One DynamoDB API call; resolves to { status, body } (body parsed as JSON).
async function call(baseUrl, operation, payload) {
  const url = new URL(baseUrl);
  const body = JSON.stringify(payload);
  const res = await fetch(url, {
    method: 'POST',
    headers: sign(url, `DynamoDB_20120810.${operation}`, body),
    body,
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = { raw: text }; }
  return { status: res.status, body: json };
}

async function waitReady(url, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const { status, body } = await call(url, 'ListTables', {});
      if (status === 200 && Array.isArray(body.TableNames)) return;
      last = `HTTP ${status} ${JSON.stringify(body)}`;
    } catch (err) {
      last = err.cause?.code || err.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`DynamoDB Local at ${url} did not answer ListTables within ${seconds}s (${last})`);
}

async function createTable(url, name) {
  const created = await call(url, 'CreateTable', {
    TableName: name,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  });
  const exists = String(created.body.__type || '').endsWith('#ResourceInUseException');
  if (created.status !== 200 && !exists) {
    throw new Error(`CreateTable ${name}: HTTP ${created.status} ${JSON.stringify(created.body)}`);
  }
  const ttl = await call(url, 'UpdateTimeToLive', {
    TableName: name,
    TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
  });
  // Enabling TTL twice is a ValidationException ("already enabled"): fine.
  const already = /already enabled/i.test(JSON.stringify(ttl.body));
  if (ttl.status !== 200 && !already) {
    throw new Error(`UpdateTimeToLive ${name}: HTTP ${ttl.status} ${JSON.stringify(ttl.body)}`);
  }
  console.log(`table ${name} ${exists ? 'already exists' : 'created'} (TTL on expires_at)`);
}

const [command, url, name] = process.argv.slice(2);
try {
  if (command === 'wait' && url) await waitReady(url);
  else if (command === 'create-table' && url && name) await createTable(url, name);
  else {
    console.error('usage: dynamodb-local.mjs wait URL | create-table URL NAME');
    process.exit(2);
  }
} catch (err) {
  console.error(`dynamodb-local.mjs: ${err.message}`);
  process.exit(1);
}
