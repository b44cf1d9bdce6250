// template.yaml, the one definition of the stack, read for the local tools:
// the HTTP API's routes and CORS (scripts/local-lambda.mjs) and the table
// (scripts/dynamodb-local.mjs), so none of them keeps a copy that can drift.
// CloudFormation's short forms (!Ref X, !Sub s, !GetAtt A.B, !If [...]) are
// read as their long forms ({ Ref: 'X' }, { 'Fn::Sub': 's' }, ...).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const TEMPLATE = fileURLToPath(new URL('../template.yaml', import.meta.url));

const INTRINSICS = ['And', 'Base64', 'Cidr', 'Condition', 'Equals', 'FindInMap', 'GetAZs', 'GetAtt',
  'If', 'ImportValue', 'Join', 'Not', 'Or', 'Ref', 'Select', 'Split', 'Sub', 'Transform'];

function longForm(name, value) {
  if (name === 'Ref' || name === 'Condition') return { [name]: value };
  if (name === 'GetAtt' && typeof value === 'string') { // !GetAtt Resource.Attribute
    const dot = value.indexOf('.');
    return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [`Fn::${name}`]: value };
}

// One tag per form the short syntax allows: scalar, sequence, mapping.
const customTags = INTRINSICS.flatMap((name) => [
  { tag: `!${name}`, resolve: (value) => longForm(name, value) },
  { tag: `!${name}`, collection: 'seq', resolve: (seq) => longForm(name, seq.toJSON()) },
  { tag: `!${name}`, collection: 'map', resolve: (map) => longForm(name, map.toJSON()) },
]);

export function readTemplate(path = TEMPLATE) {
  return parse(readFileSync(path, 'utf8'), { customTags });
}

/** The one resource of `type`, as [logicalId, resource]. */
function only(template, type) {
  const found = Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  if (found.length !== 1) throw new Error(`template.yaml: expected one ${type}, found ${found.length}`);
  return found[0];
}

/** A value with `!Ref Parameter` replaced by the parameter's default, as a local stack deploys it. */
function withDefaults(template, value, where) {
  if (Array.isArray(value)) return value.map((v) => withDefaults(template, v, where));
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      const parameter = template.Parameters?.[value.Ref];
      if (parameter && 'Default' in parameter) return parameter.Default;
      throw new Error(`template.yaml: cannot evaluate ${JSON.stringify(value)} in ${where}`);
    }
    return Object.fromEntries(keys.map((k) => [k, withDefaults(template, value[k], where)]));
  }
  return value;
}

/** The logical id a `!Sub integrations/${X}` (or `!Join`) target or a `!GetAtt F.Arn` URI names. */
function referenced(value, where) {
  const sub = value?.['Fn::Sub'];
  const join = value?.['Fn::Join'];
  const name = typeof sub === 'string' ? sub.match(/^integrations\/\$\{([A-Za-z0-9]+)\}$/)?.[1]
    : join?.[0] === '' && join[1]?.[0] === 'integrations/' ? join[1][1]?.Ref
      : value?.['Fn::GetAtt']?.[0] ?? value?.Ref;
  if (!name) throw new Error(`template.yaml: cannot follow ${JSON.stringify(value)} in ${where}`);
  return name;
}

/**
 * The HTTP API: `routes` maps each route key (`POST /twilio/status`) to the
 * logical id of the function its integration invokes; `cors` is its
 * CorsConfiguration with the parameters' defaults filled in.
 */
export function httpApi(template = readTemplate()) {
  const [apiId, api] = only(template, 'AWS::ApiGatewayV2::Api');
  const routes = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::ApiGatewayV2::Route') continue;
    const { RouteKey: key, Target: target } = resource.Properties;
    const integrationId = referenced(target, `${id}.Target`);
    const integration = template.Resources[integrationId];
    if (integration?.Type !== 'AWS::ApiGatewayV2::Integration') {
      throw new Error(`template.yaml: ${id} targets ${integrationId}, not an integration`);
    }
    routes[key] = referenced(integration.Properties.IntegrationUri, `${integrationId}.IntegrationUri`);
  }
  const cors = withDefaults(template, api.Properties.CorsConfiguration ?? {}, `${apiId}.CorsConfiguration`);
  return { routes, cors };
}

// The table properties DynamoDB Local takes (the rest - encryption, backups,
// deletion protection, tags - is AWS's, not the schema's).
const TABLE_PROPERTIES = ['AttributeDefinitions', 'KeySchema', 'BillingMode', 'ProvisionedThroughput',
  'GlobalSecondaryIndexes', 'LocalSecondaryIndexes'];

/**
 * The table: `create` is a CreateTable request without TableName (the
 * template's DynamoDB table properties, which have the API's shape), `ttl` its
 * TimeToLiveSpecification (for UpdateTimeToLive) or undefined.
 */
export function table(template = readTemplate()) {
  const [id, resource] = only(template, 'AWS::DynamoDB::Table');
  const properties = resource.Properties;
  const create = withDefaults(template, Object.fromEntries(TABLE_PROPERTIES
    .filter((name) => name in properties).map((name) => [name, properties[name]])), id);
  const ttl = properties.TimeToLiveSpecification
    && withDefaults(template, properties.TimeToLiveSpecification, `${id}.TimeToLiveSpecification`);
  return { create, ttl };
}
