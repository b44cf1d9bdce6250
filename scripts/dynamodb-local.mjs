#!/usr/bin/env node
// DynamoDB Local through the AWS SDK, with the table template.yaml defines.
//   node scripts/dynamodb-local.mjs wait URL
//   node scripts/dynamodb-local.mjs create-table URL NAME
// `wait` returns once a ListTables is answered (not just an open port);
// `create-table` creates the table with template.yaml's schema (keys,
// attributes, billing mode, indexes) and enables its TTL, and may run twice.
import {
  CreateTableCommand, DynamoDBClient, ListTablesCommand, ResourceInUseException, UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { table } from './template.mjs';

// This pinned SDK runs on Node 20 (kept for Prism); its notice that later
// versions will need Node 22 says nothing to a local test run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// DynamoDB Local takes any region and letters/digits-only keys; explicit
// credentials keep the SDK from looking for real ones.
const client = (url) => new DynamoDBClient({
  endpoint: url,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
});

async function waitReady(url, seconds = 60) {
  const dynamodb = client(url);
  const deadline = Date.now() + seconds * 1000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      await dynamodb.send(new ListTablesCommand({}));
      return;
    } catch (err) {
      last = err.code || err.cause?.code || err.name || err.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`DynamoDB Local at ${url} did not answer ListTables within ${seconds}s (${last})`);
}

async function createTable(url, name) {
  const dynamodb = client(url);
  const { create, ttl } = table();
  let exists = false;
  try {
    await dynamodb.send(new CreateTableCommand({ TableName: name, ...create }));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw new Error(`CreateTable ${name}: ${err.name}: ${err.message}`);
    exists = true;
  }
  if (ttl?.Enabled) {
    try {
      await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: ttl }));
    } catch (err) {
      // Enabling TTL twice is a ValidationException ("already enabled"): fine.
      if (!/already enabled/i.test(err.message)) throw new Error(`UpdateTimeToLive ${name}: ${err.name}: ${err.message}`);
    }
  }
  const ttlNote = ttl?.Enabled ? ` (TTL on ${ttl.AttributeName})` : '';
  console.log(`table ${name} ${exists ? 'already exists' : 'created'}${ttlNote}`);
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
