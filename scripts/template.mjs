// template.yaml, the one definition of the stack, read for the local tools:
// the HTTP API's routes (and how a request matches them) and CORS
// (scripts/local-lambda.mjs) and the table (scripts/dynamodb-local.mjs), so
// none of them keeps a copy that can drift.
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

/**
 * A matcher of requests against an HTTP API's route keys (`routes`: route
 * key -> anything), as API Gateway matches them: `match(method, path)` gives
 * `{ routeKey, target, pathParameters }` or null. A `{Name}` segment of a key
 * takes one path segment (`{Name+}`, greedy, the rest of the path); `ANY`
 * takes every method. Priority as API Gateway's: an exact route first, then
 * the route with the most literal segments (before the first parameter), a
 * greedy one last; a method's own route before its `ANY` one. The values of
 * `pathParameters` are percent-decoded, as the functions receive them.
 */
export function routeMatcher(routes) {
  const exact = new Map();
  const parameterised = [];
  for (const [routeKey, target] of Object.entries(routes)) {
    const found = routeKey.match(/^([A-Z]+) (\/\S*)$/);
    if (!found) throw new Error(`template.yaml: route key ${JSON.stringify(routeKey)} is not "METHOD /path"`);
    const [, method, path] = found;
    if (!path.includes('{')) { exact.set(routeKey, target); continue; }
    const segments = path.split('/').slice(1).map((segment, index, all) => {
      const name = segment.match(/^\{([A-Za-z0-9_]+)(\+?)\}$/);
      if (!name && segment.includes('{')) {
        throw new Error(`template.yaml: route ${routeKey}: a parameter must be a whole segment`);
      }
      if (name?.[2] && index !== all.length - 1) {
        throw new Error(`template.yaml: route ${routeKey}: a greedy parameter must be last`);
      }
      return name ? { name: name[1], greedy: Boolean(name[2]) } : { literal: segment };
    });
    const literals = segments.findIndex((s) => !('literal' in s));
    const greedy = segments.at(-1).greedy;
    parameterised.push({ routeKey, target, method, segments, literals, greedy });
  }
  // The most specific first: no greedy tail, more leading literal segments,
  // more segments, a method of its own rather than ANY.
  parameterised.sort((a, b) => (a.greedy - b.greedy) || (b.literals - a.literals)
    || (b.segments.length - a.segments.length) || ((a.method === 'ANY') - (b.method === 'ANY')));

  const decode = (value) => { try { return decodeURIComponent(value); } catch { return value; } };
  return function match(method, path) {
    for (const routeKey of [`${method} ${path}`, `ANY ${path}`]) {
      if (exact.has(routeKey)) return { routeKey, target: exact.get(routeKey), pathParameters: undefined };
    }
    const parts = path.split('/').slice(1);
    for (const route of parameterised) {
      if (route.method !== method && route.method !== 'ANY') continue;
      const { segments } = route;
      if (route.greedy ? parts.length < segments.length : parts.length !== segments.length) continue;
      const pathParameters = {};
      const matched = segments.every((segment, i) => {
        if ('literal' in segment) return parts[i] === segment.literal;
        const value = segment.greedy ? parts.slice(i).join('/') : parts[i];
        if (value === '') return false; // API Gateway: a parameter is never empty
        pathParameters[segment.name] = decode(value);
        return true;
      });
      if (matched) return { routeKey: route.routeKey, target: route.target, pathParameters };
    }
    return null;
  };
}
