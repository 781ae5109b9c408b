#!/usr/bin/env node
// Drives a catalogue of real requests against a running `lgsp dev` and checks every answer
// against docs/openapi.yaml: the status is documented for the operation, the Content-Type is
// a documented media type, the body validates against the documented schema (ajv, JSON
// Schema 2020-12, with the whole OpenAPI document registered so '#/components/...' resolves),
// and the documented required headers are present and valid; an NDJSON body is checked line
// by line against its schema's `contentSchema`. One line per check, a summary, exit 1 on any
// mismatch.
//
// usage: node validate-responses.mjs --api http://127.0.0.1:28080 --admin http://127.0.0.1:29464
//          --samples samples.jsonl [--spec ../../docs/openapi.yaml] [--config dev.yaml]
//          [--ministry-key K] [--telecom-key K] [--citizen-app-key K] [--commune-key K]
//          [--bank-key K] [--rate-key K] [--quota-key K] --citizen-idp PATH --citizen-idp-dir DIR
// --samples: the output of `lgsp seed --config F --samples 1` (one subject per registry; the
//   civil-status one is an event: a death when the sampled events hold one, else usually a
//   marriage, with its spouse).
// --config: the running stack's config file; when given, POST /admin/reload is also driven
//   into its 422 answer by appending a bad key to the file for a moment (then restored), and
//   its `batches` limits are read (a bulk job over `max_records` is provoked when it is set).
// --citizen-idp / --citizen-idp-dir: the citizen identity provider's stand-in
//   (lgsp-citizen-idp) and its directory, whose JWKS the stack's auth.citizen trusts: it signs
//   the Citizen-Token of every access-log read and consent call.
// --commune-key: the partner granted procedure.birth-registration (config/dev.yaml's
//   demo-commune): it starts birth registrations, whose newborns' access logs are read.
// --bank-key: the partner registered for credit-scoring, a purpose that needs the citizen's
//   consent (config/dev.yaml's demo-bank, consents.purposes): it looks citizens up under the
//   consent the citizen app records for it.
// --rate-key / --quota-key: partners with a tiny rate limit (granted population.verify and
//   procedure.birth-registration) / a daily quota of 3 and citizen.profile without lookups
//   (contract_test.sh adds them); their checks are skipped without them.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const out = {
    spec: path.join(here, '../../docs/openapi.yaml'),
    'ministry-key': 'demo-key-for-local-use-only',
    'telecom-key': 'demo-verify-only-key',
    'citizen-app-key': 'demo-citizen-app-key',
    'commune-key': 'demo-commune-key',
    'electricity-key': 'demo-electricity-key',
    'bank-key': 'demo-bank-key',
  };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${argv[i]} (see the usage at the top of this file)`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['api', 'admin', 'samples', 'citizen-idp', 'citizen-idp-dir']) {
    if (!out[k]) throw new Error(`--${k} is required (see the usage at the top of this file)`);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const SPEC_ID = 'urn:lgsp:openapi';
const spec = YAML.parse(fs.readFileSync(args.spec, 'utf8'));

// ---- the spec, resolved ----------------------------------------------------------------
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...spec, $id: SPEC_ID });
const validators = new Map();
function validatorFor(schema) {
  // Schemas inside responses are compiled as references into the registered document when
  // they are $refs, else as-is with their $refs made absolute.
  const key = JSON.stringify(schema);
  if (!validators.has(key)) {
    const absolute = JSON.parse(key, (k, v) => (k === '$ref' && typeof v === 'string' && v.startsWith('#') ? SPEC_ID + v : v));
    validators.set(key, ajv.compile(absolute));
  }
  return validators.get(key);
}

function pointer(ref) {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  return ref.slice(2).split('/').reduce((node, part) => {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === undefined || !(key in node)) throw new Error(`unresolvable $ref ${ref}`);
    return node[key];
  }, spec);
}
const deref = (node) => (node && node.$ref ? deref(pointer(node.$ref)) : node);

// ---- a minimal HTTP/1.1 client over net: malformed requests, GET with bodies, huge bodies ----
function rawExchange(base, bytes, { settleMs = 0 } = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      if (buf.length === 0) return resolve(null);  // closed without an answer
      try {
        resolve(parseResponse(buf));
      } catch (e) {
        reject(e);
      }
    };
    const timer = setTimeout(() => {
      socket.destroy();
      if (chunks.length) finish();
      else reject(new Error('no answer within 15 s'));
    }, 15000);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (e) => {
      // A refusal may reset the connection while the request is still being written; the
      // answer read so far is what counts.
      if (chunks.length) finish();
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(e);
      }
    });
    socket.on('connect', () => {
      if (settleMs > 0) {
        socket.write(bytes);  // incomplete on purpose: the server's read timeout answers
      } else {
        socket.end(bytes);
      }
    });
  });
}

function parseResponse(buf) {
  const sep = buf.indexOf('\r\n\r\n');
  if (sep < 0) throw new Error(`not an HTTP response: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
  const head = buf.subarray(0, sep).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  if (!m) throw new Error(`bad status line ${head[0]}`);
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = buf.subarray(sep + 4);
  if (/\bchunked\b/i.test(headers['transfer-encoding'] || '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

/// The payload of a chunked body (RFC 9112 7.1); throws when it is cut short (no last chunk),
/// which is how a streamed answer that failed midway shows.
function dechunk(buf) {
  const parts = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) throw new Error(`chunked body cut short after ${at} bytes`);
    const size = parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0], 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size at byte ${at}`);
    if (size === 0) return Buffer.concat(parts);
    if (eol + 2 + size + 2 > buf.length) throw new Error(`chunked body cut short after ${at} bytes`);
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

function request(base, method, target, { headers = {}, body } = {}) {
  const url = new URL(base);
  const payload = body === undefined ? Buffer.alloc(0)
    : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  let text = `${method} ${target} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) text += `${k}: ${v}\r\n`;
  if (body !== undefined || method === 'POST') text += `Content-Length: ${payload.length}\r\n`;
  return rawExchange(base, Buffer.concat([Buffer.from(text + '\r\n', 'latin1'), payload]));
}

// ---- checks ------------------------------------------------------------------------------
let checks = 0;
let failures = 0;
let requests = 0;
function check(label, ok, detail = '') {
  checks += 1;
  if (!ok) failures += 1;
  console.log(ok ? `PASS  ${label}` : `FAIL  ${label}${detail ? `: ${detail}` : ''}`);
  return ok;
}

function mediaType(value) {
  const [base, ...params] = String(value).split(';').map((s) => s.trim().toLowerCase());
  return { base, params: params.filter(Boolean).sort().join(';') };
}

/// The documented path a concrete one falls under (`/v1/batches/job-…` is
/// `/v1/batches/{id}`); itself when none has parameters that match.
function templateOf(route) {
  if (spec.paths[route]) return route;
  for (const p of Object.keys(spec.paths)) {
    if (!p.includes('{')) continue;
    const re = new RegExp(`^${p.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+')}$`);
    if (re.test(route)) return p;
  }
  return route;
}

/// Which part of the spec documents this answer: the operation, or a component response for
/// routes the spec does not list.
function documentedResponses(server, method, target, component) {
  if (component) return { where: component, responses: { [component.status]: pointer(`#/components/responses/${component.name}`) } };
  const route = templateOf(target.split('?')[0]);
  const item = spec.paths[route];
  if (!item) throw new Error(`catalogue entry ${method} ${target} names no documented path; give it a component`);
  const isAdmin = (item.servers || []).some((s) => /9464|admin/i.test(s.url + (s.description || '')));
  if (isAdmin !== (server === 'admin')) throw new Error(`${target} is documented on the other port`);
  // Another method on a documented path is answered by that path's operation's 405.
  const op = item[method.toLowerCase()] || Object.values(item).find((v) => v && v.responses);
  return { where: `${op.operationId}`, responses: op.responses };
}

/// The request schema must agree with the gateway's validation: a body it refused as
/// invalid (400 validation) must fail the documented schema, and a body that got past
/// validation (200, 201, 202, 404 subject/consent not found, 403 purpose/field/consent, 422
/// consent-rejected) must pass it.
function checkRequestSchema(entry, tag, where, status, answer) {
  if (entry.component || entry.raw || (entry.method || 'POST') !== 'POST' || entry.target.includes('?')) return;
  const type = answer && typeof answer === 'object' ? String(answer.type || '').replace('urn:lgsp:problem:', '') : '';
  let expectValid;
  if (status === 400 && type === 'validation') expectValid = false;
  else if (status === 200 || status === 201 || status === 202 || (status === 404 && ['subject-not-found', 'consent-not-found'].includes(type))
    || (status === 403 && ['purpose-not-allowed', 'field-not-allowed', 'consent-required', 'consent-invalid', 'consent-out-of-scope'].includes(type))
    || (status === 422 && type === 'consent-rejected')) expectValid = true;
  else return;  // refused before validation ran (401, 403 operation, 415, 429, ...)
  if (entry.requestSchemaCannotTell) {
    console.log(`SKIP  ${tag} request schema: ${entry.requestSchemaCannotTell}`);
    return;
  }
  const op = Object.values(spec.paths[templateOf(entry.target)] || {}).find((o) => o && o.operationId === where);
  if (!op || !op.requestBody || !deref(op.requestBody).content['application/json']) return;
  const schema = deref(op.requestBody).content['application/json'].schema;
  let value;
  try {
    value = typeof entry.body === 'string' ? JSON.parse(entry.body) : entry.body;
  } catch {
    check(`${tag} request body is refused by the request schema too (not JSON)`, !expectValid);
    return;
  }
  const validate = validatorFor(schema);
  const ok = validate(value);
  check(`${tag} request schema ${expectValid ? 'accepts' : 'refuses'} the body like the gateway`, ok === expectValid,
    ok ? `the schema accepts ${JSON.stringify(value).slice(0, 200)}` : ajv.errorsText(validate.errors, { dataVar: 'request' }));
}

async function exercise(entry) {
  const { name, server = 'api', method = 'POST', target, expect } = entry;
  const base = server === 'api' ? args.api : args.admin;
  let res;
  try {
    res = entry.exchange ? await entry.exchange()
      : entry.raw ? await rawExchange(base, entry.raw, { settleMs: entry.settleMs || 0 }) : await request(base, method, target, entry);
  } catch (e) {
    check(`${name}: answered`, false, e.message);
    return null;
  }
  requests += 1;
  if (res === null) {
    if (entry.mayClose) {
      console.log(`WARN  ${name}: the connection was closed without an answer (${entry.mayClose})`);
      return null;
    }
    check(`${name}: answered`, false, 'the connection was closed without an answer');
    return null;
  }
  const tag = `${name} [${method} ${target} -> ${res.status}]`;
  const expected = [].concat(expect);
  check(`${tag} status is the one provoked (${expected.join(' or ')})`, expected.includes(res.status), `got ${res.status} ${res.body.slice(0, 300)}`);

  const { where, responses } = documentedResponses(server, method, target, entry.component);
  const documented = responses[String(res.status)];
  if (!check(`${tag} status ${res.status} documented for ${where}`, documented !== undefined, `documented: ${Object.keys(responses).join(', ')}`)) return res;
  const response = deref(documented);

  // Content-Type: one of the documented media types (parameters compared when documented).
  const content = response.content || {};
  const got = mediaType(res.headers['content-type'] || '');
  const key = Object.keys(content).find((k) => {
    const want = mediaType(k);
    return want.base === got.base && (!want.params || want.params === got.params);
  });
  if (!check(`${tag} Content-Type "${res.headers['content-type']}" documented`, key !== undefined, `documented: ${Object.keys(content).join(', ') || '(no body)'}`)) return res;

  // Body: against the documented schema.
  let body = res.body;
  if (got.base === 'application/json' || got.base.endsWith('+json')) {
    try {
      body = JSON.parse(res.body);
    } catch (e) {
      check(`${tag} body is JSON`, false, e.message);
      return res;
    }
  }
  const validate = validatorFor(content[key].schema);
  const valid = validate(body);
  check(`${tag} body matches the schema`, valid, valid ? '' : `${ajv.errorsText(validate.errors, { dataVar: 'body' })}; body ${res.body.slice(0, 400)}`);
  // NDJSON: every line against the schema of one line (the string schema's contentSchema).
  const lineSchema = content[key].schema && deref(content[key].schema).contentSchema;
  if (lineSchema && got.base === 'application/x-ndjson') {
    const lines = res.body.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const lv = validatorFor(lineSchema);
    const bad = [];
    lines.forEach((l, i) => {
      let v;
      try {
        v = JSON.parse(l);
      } catch (e) {
        bad.push(`line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
        return;
      }
      if (!lv(v)) bad.push(`line ${i + 1}: ${ajv.errorsText(lv.errors, { dataVar: 'line' })}; ${l.slice(0, 300)}`);
    });
    check(`${tag} each of the ${lines.length} NDJSON lines matches the contentSchema`, bad.length === 0, bad.slice(0, 3).join(' | '));
  }

  // Headers: documented required ones present; every documented one present is valid.
  for (const [hname, hdef] of Object.entries(response.headers || {})) {
    const h = deref(hdef);
    const value = res.headers[hname.toLowerCase()];
    if (value === undefined) {
      if (h.required) check(`${tag} header ${hname} present (required)`, false, 'missing');
      continue;
    }
    const hv = validatorFor(h.schema);
    check(`${tag} header ${hname} valid`, hv(value), hv.errors ? `${JSON.stringify(value)}: ${ajv.errorsText(hv.errors)}` : '');
  }
  // The behaviour the description promises beyond the schemas.
  if (body && typeof body === 'object' && 'request_id' in body) {
    check(`${tag} body request_id equals X-Request-Id`, body.request_id === res.headers['x-request-id']);
  }
  if (entry.problemType) {
    check(`${tag} problem type is ${entry.problemType}`, body && body.type === `urn:lgsp:problem:${entry.problemType}`, `got ${body && body.type}`);
  }
  if (entry.extra) entry.extra(res, body);
  checkRequestSchema(entry, tag, where, res.status, body);
  return { ...res, json: body };
}

// ---- the catalogue -----------------------------------------------------------------------
const samples = Object.fromEntries(
  fs.readFileSync(args.samples, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)).map((s) => [s.registry, s]),
);
for (const r of ['population', 'insurance', 'vehicle', 'civil-status']) if (!samples[r]) throw new Error(`--samples has no ${r} subject`);
const P = samples.population;
const I = samples.insurance;
const V = samples.vehicle;
const C = samples['civil-status'];
const UNKNOWN_ID = '096399999999';  // well-formed (province 096, born 2099), never seeded
const auth = (key) => ({ Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' });
const ministry = auth(args['ministry-key']);
const telecom = auth(args['telecom-key']);
const citizenApp = auth(args['citizen-app-key']);
// The citizen app carrying the citizen's own token (signed by the identity provider's stand-in).
const citizenToken = (id) => execFileSync(args['citizen-idp'], ['--dir', args['citizen-idp-dir'], '--citizen', id]).toString().trim();
const citizenAppFor = (id) => ({ ...citizenApp, 'Citizen-Token': citizenToken(id) });
const purpose = 'contract-test';
// The bank states a purpose that needs the citizen's consent (consents.purposes); the citizen
// app grants, lists and revokes consents for its own stated purpose.
const bank = auth(args['bank-key']);
const CONSENTED = 'credit-scoring';
const SELF = 'citizen-self-service';
const NO_CONSENT = `cs-${'0'.repeat(32)}`;  // well-formed, never granted
// A consent refusal's errors: exactly one, under `field`, whose detail reads `detail` if given.
const consentError = (what, field, detail) => (_res, b) => check(`${what}: errors name ${field}${detail ? ` (${detail})` : ''}, and only it`,
  b && Array.isArray(b.errors) && b.errors.length === 1 && b.errors[0].field === field && (!detail || b.errors[0].detail === detail), JSON.stringify(b && b.errors));

// The civil-status claims the sample allows: its death, else `deceased: false` (whose grade
// the sample cannot tell: it comes from a few events, the citizen may have died); its
// marriage, else `deceased: false` again. Only the claims made may be graded.
const civilDied = C.kind === 'death';
const civilDeath = civilDied ? { deceased: true, date_of_death: C.event_date } : { deceased: false };
const civilMarriage = C.spouse_citizen_id ? { spouse_citizen_id: C.spouse_citizen_id, marriage_date: C.event_date } : { deceased: false };
const civilYearOnly = civilDied ? { date_of_death: C.event_date.slice(0, 4) }
  : C.spouse_citizen_id ? { spouse_citizen_id: C.spouse_citizen_id, marriage_date: C.event_date.slice(0, 4) } : null;
const sameKeys = (o, keys) => JSON.stringify(Object.keys(o || {}).sort()) === JSON.stringify([...keys].sort());
const civilGrades = (what, claims, expected) => (_res, b) => {
  check(`${what}: fields grades the claims made, no more (${Object.keys(claims).join(', ')})`, sameKeys(b.fields, Object.keys(claims)), JSON.stringify(b.fields));
  check(`${what}: no facts members`, sameKeys(b, ['request_id', 'match', 'subject_found', 'fields', 'source']), Object.keys(b).join());
  if (expected) {
    check(`${what}: subject_found, match ${expected.match}, grades ${JSON.stringify(expected.fields)}`,
      b.subject_found === true && b.match === expected.match && sameKeys(b.fields, Object.keys(expected.fields))
        && Object.entries(expected.fields).every(([k, g]) => b.fields[k] === g), JSON.stringify(b));
  }
};
const civilEvents = (what, fields) => (_res, b) => {
  const evs = b.events || [];
  const always = fields.filter((f) => f !== 'spouse_citizen_id');
  check(`${what}: each event has exactly the fields asked, spouse_citizen_id on marriages only`,
    evs.length > 0 && evs.every((e) => sameKeys(e, e.kind === 'marriage' && fields.includes('spouse_citizen_id') ? fields : always)), JSON.stringify(evs).slice(0, 400));
  check(`${what}: oldest first`, evs.every((e, i) => i === 0 || evs[i - 1].event_date <= e.event_date), evs.map((e) => e.event_date).join());
  check(`${what}: the sample's ${C.kind} is listed`, evs.some((e) => e.kind === C.kind && e.event_date === C.event_date
    && (C.kind !== 'marriage' || e.spouse_citizen_id === C.spouse_citizen_id)), JSON.stringify(evs).slice(0, 400));
};
const civilFields = ['kind', 'event_date', 'registration_number', 'place_of_registration', 'registered_on', 'spouse_citizen_id', 'status'];

// The interactive (POST, JSON) partner paths; bulk jobs and procedures (which answer GET
// too) have their own checks below.
const apiPaths = Object.keys(spec.paths).filter((p) => p.startsWith('/v1/') && !p.startsWith('/v1/batches') && !p.startsWith('/v1/procedures')
  && p !== '/v1/changes');
const catalogue = [
  // Successes, every operation.
  { name: 'population.verify match', target: '/v1/population/verify', headers: ministry, expect: 200,
    body: { citizen_id: P.citizen_id, full_name: P.full_name, date_of_birth: P.date_of_birth, gender: P.gender, purpose, on_behalf_of: 'officer-1', procedure_code: '1.0001' } },
  { name: 'population.verify unknown subject', target: '/v1/population/verify', headers: ministry, expect: 200,
    body: { citizen_id: UNKNOWN_ID, full_name: 'Nguyễn Văn An', purpose } },
  { name: 'population.verify partial, quota headers, trace kept', target: '/v1/population/verify', expect: 200,
    headers: { ...telecom, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    body: { citizen_id: P.citizen_id, full_name: P.full_name.normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/g, 'd').replace(/Đ/g, 'D'), date_of_birth: P.date_of_birth.slice(0, 4), gender: P.gender === 'male' ? 'nam' : 'nữ', purpose: 'telecom-subscriber-registration' },
    extra: (res) => {
      check('population.verify telecom: X-Quota-Limit sent for a partner with a quota', res.headers['x-quota-limit'] !== undefined);
      check('population.verify telecom: traceparent keeps the caller\'s trace id', (res.headers.traceparent || '').startsWith('00-4bf92f3577b34da6a3ce929d0e0e4736-'), res.headers.traceparent);
    } },
  { name: 'population.verify mismatch, nulls as absent', target: '/v1/population/verify', headers: ministry, expect: 200,
    body: { citizen_id: P.citizen_id, date_of_birth: '1901-01-01', gender: null, on_behalf_of: null, purpose } },
  { name: 'population.lookup all granted fields', target: '/v1/population/lookup', headers: ministry, expect: 200,
    body: { citizen_id: P.citizen_id, purpose } },
  { name: 'population.lookup for a lawful investigation (withheld from the access log)', target: '/v1/population/lookup', headers: ministry, expect: 200,
    body: { citizen_id: P.citizen_id, purpose, lawful_investigation: 'VKS-2026/123' } },
  { name: 'population.lookup named fields', target: '/v1/population/lookup', headers: ministry, expect: 200,
    body: { citizen_id: P.citizen_id, fields: ['full_name', 'permanent_address'], purpose } },
  { name: 'insurance.verify', target: '/v1/insurance/verify', headers: ministry, expect: 200,
    body: { citizen_id: I.citizen_id, health_insurance_card: I.health_insurance_card.toLowerCase(), valid_on: I.coverage_end, purpose } },
  { name: 'insurance.verify unknown subject', target: '/v1/insurance/verify', headers: ministry, expect: 200,
    body: { citizen_id: UNKNOWN_ID, health_insurance_card: I.health_insurance_card, purpose } },
  { name: 'insurance.lookup by social insurance number', target: '/v1/insurance/lookup', headers: ministry, expect: 200,
    body: { social_insurance_number: I.social_insurance_number, purpose } },
  { name: 'insurance.lookup by citizen', target: '/v1/insurance/lookup', headers: ministry, expect: 200,
    body: { citizen_id: I.citizen_id, social_insurance_number: null, fields: ['status', 'coverage_end', 'registered_hospital', 'benefit_level'], purpose } },
  { name: 'vehicle.verify', target: '/v1/vehicle/verify', headers: ministry, expect: 200,
    body: { plate_number: V.plate_number, citizen_id: V.citizen_id, purpose } },
  { name: 'vehicle.verify unknown plate', target: '/v1/vehicle/verify', headers: ministry, expect: 200,
    body: { plate_number: '99Z-999.99', citizen_id: V.citizen_id, purpose } },
  { name: 'vehicle.lookup by plate (compact spelling)', target: '/v1/vehicle/lookup', headers: ministry, expect: 200,
    body: { plate_number: V.plate_number.replace(/[-.]/g, '').toLowerCase(), purpose } },
  { name: 'vehicle.lookup by owner', target: '/v1/vehicle/lookup', headers: ministry, expect: 200,
    body: { citizen_id: V.citizen_id, purpose } },
  { name: 'vehicle.lookup owner with no vehicles', target: '/v1/vehicle/lookup', headers: ministry, expect: 200,
    body: { citizen_id: UNKNOWN_ID, fields: ['plate_number'], purpose } },
  { name: `civil-status.verify deceased (${C.kind} sample)`, target: '/v1/civil-status/verify', headers: ministry, expect: 200,
    body: { citizen_id: C.citizen_id, ...civilDeath, purpose, on_behalf_of: 'officer-1', procedure_code: '1.0001' },
    extra: civilGrades('civil-status.verify deceased', civilDeath, civilDied ? { match: true, fields: { deceased: 'exact', date_of_death: 'exact' } } : null) },
  { name: `civil-status.verify marriage (${C.kind} sample)`, target: '/v1/civil-status/verify', headers: ministry, expect: 200,
    body: { citizen_id: C.citizen_id, ...civilMarriage, purpose },
    extra: civilGrades('civil-status.verify marriage', civilMarriage, C.spouse_citizen_id ? { match: true, fields: { spouse_citizen_id: 'exact', marriage_date: 'exact' } }
      : civilDied ? { match: false, fields: { deceased: 'mismatch' } } : null) },
  ...(civilYearOnly ? [{ name: 'civil-status.verify year only (partial)', target: '/v1/civil-status/verify', headers: ministry, expect: 200,
    body: { citizen_id: C.citizen_id, ...civilYearOnly, purpose },
    extra: civilGrades('civil-status.verify year only', civilYearOnly, { match: false, fields: civilDied ? { date_of_death: 'partial' } : { spouse_citizen_id: 'exact', marriage_date: 'partial' } }) }] : []),
  { name: 'civil-status.verify unknown subject', target: '/v1/civil-status/verify', headers: ministry, expect: 200,
    body: { citizen_id: UNKNOWN_ID, deceased: false, purpose },
    extra: (_res, b) => {
      check('civil-status.verify unknown subject: subject_found and match false', b.subject_found === false && b.match === false, JSON.stringify(b));
      check('civil-status.verify unknown subject: nothing graded', Object.keys(b.fields || {}).length === 0, JSON.stringify(b.fields));
    } },
  { name: 'civil-status.lookup all granted fields', target: '/v1/civil-status/lookup', headers: ministry, expect: 200,
    body: { citizen_id: C.citizen_id, purpose }, extra: civilEvents('civil-status.lookup all granted fields', civilFields) },
  { name: 'civil-status.lookup named fields', target: '/v1/civil-status/lookup', headers: ministry, expect: 200,
    body: { citizen_id: C.citizen_id, fields: ['kind', 'event_date', 'spouse_citizen_id'], purpose },
    extra: civilEvents('civil-status.lookup named fields', ['kind', 'event_date', 'spouse_citizen_id']) },
  { name: 'citizen.profile every registry', target: '/v1/citizen-profile', headers: ministry, expect: 200,
    body: { citizen_id: P.citizen_id, purpose } },
  { name: 'citizen.profile some registries', target: '/v1/citizen-profile', headers: ministry, expect: 200,
    body: { citizen_id: I.citizen_id, registries: ['insurance', 'vehicle'], purpose } },
  { name: 'citizen.profile unknown citizen', target: '/v1/citizen-profile', headers: ministry, expect: 200,
    body: { citizen_id: UNKNOWN_ID, purpose } },
  { name: 'citizen.profile civil-status', target: '/v1/citizen-profile', headers: ministry, expect: 200,
    body: { citizen_id: C.citizen_id, registries: ['civil-status'], purpose },
    extra: (_res, b) => check('citizen.profile civil-status: the one part asked, ok, with events',
      sameKeys(b.parts, ['civil-status']) && b.parts['civil-status'].status === 'ok' && (b.parts['civil-status'].events || []).length > 0, JSON.stringify(b).slice(0, 400)) },

  // 400 validation, one per kind of invalid input, on every operation.
  ...[
    ['body not JSON', '/v1/population/verify', '{"citizen_id":'],
    ['body empty', '/v1/population/lookup', ''],
    ['body an array', '/v1/insurance/verify', '[]'],
    ['unknown member', '/v1/population/lookup', { citizen_id: P.citizen_id, purpose, colour: 'red' }],
    ['purpose missing', '/v1/population/verify', { citizen_id: P.citizen_id, full_name: 'A' }],
    ['purpose empty', '/v1/population/verify', { citizen_id: P.citizen_id, full_name: 'A', purpose: '' }],
    ['purpose too long', '/v1/population/verify', { citizen_id: P.citizen_id, full_name: 'A', purpose: 'p'.repeat(201) }],
    ['purpose not a string', '/v1/population/verify', { citizen_id: P.citizen_id, full_name: 'A', purpose: 7 }],
    ['on_behalf_of too long', '/v1/population/verify', { citizen_id: P.citizen_id, full_name: 'A', purpose, on_behalf_of: 'o'.repeat(129) }],
    ['procedure_code too long', '/v1/population/verify', { citizen_id: P.citizen_id, full_name: 'A', purpose, procedure_code: 'c'.repeat(65) }],
    ['citizen_id too short', '/v1/population/verify', { citizen_id: '12345', date_of_birth: '2000', purpose }],
    ['citizen_id not digits', '/v1/population/lookup', { citizen_id: '00130000031X', purpose }],
    ['citizen_id unknown province', '/v1/citizen-profile', { citizen_id: '003300000313', purpose }],
    ['citizen_id century after 2099', '/v1/insurance/lookup', { citizen_id: '001600000313', purpose }],
    ['legacy 9-digit id where only 12 digits are accepted', '/v1/vehicle/verify', { plate_number: V.plate_number, citizen_id: '012345678', purpose }],
    ['date_of_birth not ISO', '/v1/population/verify', { citizen_id: P.citizen_id, date_of_birth: '01/05/1999', purpose }],
    ['date_of_birth impossible date', '/v1/population/verify', { citizen_id: P.citizen_id, date_of_birth: '1999-02-30', purpose }],
    ['gender unknown', '/v1/population/verify', { citizen_id: P.citizen_id, gender: 'M', purpose }],
    ['full_name blank', '/v1/population/verify', { citizen_id: P.citizen_id, full_name: '   ', purpose }],
    ['no claim to verify', '/v1/population/verify', { citizen_id: P.citizen_id, purpose }],
    ['health_insurance_card malformed', '/v1/insurance/verify', { citizen_id: I.citizen_id, health_insurance_card: 'DN9740000007919', purpose }],
    ['valid_on not a date', '/v1/insurance/verify', { citizen_id: I.citizen_id, health_insurance_card: I.health_insurance_card, valid_on: 'tomorrow', purpose }],
    ['both citizen_id and social_insurance_number', '/v1/insurance/lookup', { citizen_id: I.citizen_id, social_insurance_number: I.social_insurance_number, purpose }],
    ['neither citizen_id nor social_insurance_number', '/v1/insurance/lookup', { purpose }],
    ['social_insurance_number not 10 digits', '/v1/insurance/lookup', { social_insurance_number: '12345', purpose }],
    ['fields empty', '/v1/insurance/lookup', { social_insurance_number: I.social_insurance_number, fields: [], purpose }],
    ['fields unknown name', '/v1/population/lookup', { citizen_id: P.citizen_id, fields: ['full_name', 'blood_type'], purpose }],
    ['fields not an array', '/v1/vehicle/lookup', { citizen_id: V.citizen_id, fields: 'brand', purpose }],
    ['plate_number malformed', '/v1/vehicle/verify', { plate_number: 'ABC-123', citizen_id: V.citizen_id, purpose }],
    // Refused by normalize_plate: the trailing space is the first separator, so it is taken
    // as the end of a (too long) series. `${V.plate_number} ` (with a dash) is accepted.
    ['compact plate_number with a trailing space', '/v1/vehicle/lookup', { plate_number: `${V.plate_number.replace(/[-.]/g, '')} `, purpose }],
    ['neither plate_number nor citizen_id', '/v1/vehicle/lookup', { purpose }],
    ['registries unknown name', '/v1/citizen-profile', { citizen_id: P.citizen_id, registries: ['tax'], purpose }],
    ['registries empty', '/v1/citizen-profile', { citizen_id: P.citizen_id, registries: [], purpose }],
    ['civil-status no claim to verify', '/v1/civil-status/verify', { citizen_id: C.citizen_id, purpose }, { field: 'deceased' }],
    ['civil-status deceased not a boolean', '/v1/civil-status/verify', { citizen_id: C.citizen_id, deceased: 'true', purpose }, { field: 'deceased' }],
    ['civil-status spouse_citizen_id equal to citizen_id', '/v1/civil-status/verify', { citizen_id: C.citizen_id, spouse_citizen_id: C.citizen_id, purpose },
      { field: 'spouse_citizen_id', cannotTell: 'JSON Schema cannot compare two members (spouse_citizen_id must differ from citizen_id)' }],
    ['civil-status date_of_death not ISO', '/v1/civil-status/verify', { citizen_id: C.citizen_id, date_of_death: '14/03/2021', purpose }, { field: 'date_of_death' }],
    ['civil-status marriage_date impossible date', '/v1/civil-status/verify', { citizen_id: C.citizen_id, marriage_date: '1999-02-30', purpose }, { field: 'marriage_date' }],
    ['civil-status legacy 9-digit id', '/v1/civil-status/lookup', { citizen_id: '012345678', purpose }, { field: 'citizen_id' }],
    ['civil-status fields unknown name', '/v1/civil-status/lookup', { citizen_id: C.citizen_id, fields: ['kind', 'cause_of_death'], purpose }, { field: 'fields' }],
  ].map(([what, target, body, { field, cannotTell } = {}]) => ({ name: `400 ${what}`, target, headers: ministry, body: typeof body === 'string' ? body : body, expect: 400, problemType: 'validation',
    requestSchemaCannotTell: cannotTell,
    extra: field ? (_res, b) => check(`400 ${what}: errors name ${field}, and only it`, b && Array.isArray(b.errors) && b.errors.length > 0 && b.errors.every((e) => e.field === field), JSON.stringify(b && b.errors)) : undefined })),
  ...[
    ['page_size 0', { citizen_id: P.citizen_id, purpose, page_size: 0 }],
    ['page_size 101', { citizen_id: P.citizen_id, purpose, page_size: 101 }],
    ['page_size not a JSON integer (5.0)', `{"citizen_id":"${P.citizen_id}","purpose":"${purpose}","page_size":5.0}`],
    ['page_token not a token', { citizen_id: P.citizen_id, purpose, page_token: 'abc' }],
    ['citizen_id legacy on the access log', { citizen_id: '012345678', purpose }],
  ].map(([what, body]) => ({ name: `400 access-log ${what}`, target: '/v1/audit/access-log', headers: citizenApp, body, expect: 400, problemType: 'validation',
    requestSchemaCannotTell: typeof body === 'string' ? 'JSON Schema cannot tell 5.0 from 5; the gateway wants an integer literal' : undefined })),

  { name: '400 consent_id malformed', target: '/v1/population/lookup', headers: bank, body: { citizen_id: P.citizen_id, purpose: CONSENTED, consent_id: '001099012345' },
    expect: 400, problemType: 'validation', extra: consentError('400 consent_id malformed', 'consent_id') },

  // 401: no credentials, unknown key, malformed header.
  { name: '401 no credentials', target: '/v1/population/verify', headers: { 'Content-Type': 'application/json' }, body: {}, expect: 401, problemType: 'unauthenticated' },
  { name: '401 unknown API key', target: '/v1/population/lookup', headers: auth('not-a-key'), body: { citizen_id: P.citizen_id, purpose }, expect: 401, problemType: 'unauthenticated' },
  { name: '401 not a Bearer header', target: '/v1/citizen-profile', headers: { Authorization: 'Basic ZGVtbzpkZW1v', 'Content-Type': 'application/json' }, body: {}, expect: 401, problemType: 'unauthenticated' },
  { name: '401 access log without credentials', target: '/v1/audit/access-log', headers: { 'Content-Type': 'application/json' }, body: {}, expect: 401, problemType: 'unauthenticated' },
  { name: "401 access log without the citizen's token", target: '/v1/audit/access-log', headers: citizenApp, body: { citizen_id: P.citizen_id, purpose }, expect: 401, problemType: 'citizen-token-required' },
  { name: '401 access log with a refused citizen token', target: '/v1/audit/access-log', headers: { ...citizenApp, 'Citizen-Token': 'e30.e30.c2ln' }, body: { citizen_id: P.citizen_id, purpose }, expect: 401, problemType: 'invalid-citizen-token' },
  { name: "401 consent list without the citizen's token", target: '/v1/consents/list', headers: citizenApp, body: { citizen_id: P.citizen_id, purpose: SELF }, expect: 401, problemType: 'citizen-token-required' },

  // 403: operation, field, purpose.
  { name: '403 operation (verify-only partner looks up)', target: '/v1/population/lookup', headers: telecom, body: { citizen_id: P.citizen_id, purpose: 'telecom-subscriber-registration' }, expect: 403, problemType: 'operation-not-allowed' },
  { name: '403 operation (citizen app verifies)', target: '/v1/insurance/verify', headers: citizenApp, body: {}, expect: 403, problemType: 'operation-not-allowed' },
  { name: "403 access log with another citizen's token", target: '/v1/audit/access-log', headers: citizenAppFor(UNKNOWN_ID), body: { citizen_id: P.citizen_id, purpose }, expect: 403, problemType: 'citizen-mismatch' },
  { name: '403 withholding not granted', target: '/v1/population/verify', headers: telecom, body: { citizen_id: P.citizen_id, full_name: 'A', purpose: 'telecom-subscriber-registration', lawful_investigation: 'VKS-2026/1' }, expect: 403, problemType: 'withholding-not-allowed' },
  { name: '403 operation (ministry reads an access log)', target: '/v1/audit/access-log', headers: ministry, body: { citizen_id: P.citizen_id, purpose }, expect: 403, problemType: 'operation-not-allowed' },
  { name: '403 operation (telecom asks for a profile)', target: '/v1/citizen-profile', headers: telecom, body: { citizen_id: P.citizen_id, purpose }, expect: 403, problemType: 'operation-not-allowed' },
  { name: '403 operation (verify-only partner on vehicles)', target: '/v1/vehicle/verify', headers: telecom, body: {}, expect: 403, problemType: 'operation-not-allowed' },
  { name: '403 operation (verify-only partner on civil status)', target: '/v1/civil-status/verify', headers: telecom, body: {}, expect: 403, problemType: 'operation-not-allowed' },
  { name: '403 field not granted (vehicle engine_number)', target: '/v1/vehicle/lookup', headers: ministry, body: { plate_number: V.plate_number, fields: ['engine_number', 'chassis_number'], purpose }, expect: 403, problemType: 'field-not-allowed' },
  { name: '403 field not granted (insurance citizen_id)', target: '/v1/insurance/lookup', headers: ministry, body: { social_insurance_number: I.social_insurance_number, fields: ['citizen_id'], purpose }, expect: 403, problemType: 'field-not-allowed' },
  { name: '403 purpose not registered', target: '/v1/population/verify', headers: telecom, body: { citizen_id: P.citizen_id, full_name: 'A', purpose: 'marketing' }, expect: 403, problemType: 'purpose-not-allowed' },
  { name: '403 consent required (purpose needs consent, no consent_id)', target: '/v1/population/lookup', headers: bank, body: { citizen_id: P.citizen_id, purpose: CONSENTED },
    expect: 403, problemType: 'consent-required', extra: consentError('403 consent required', 'consent_id') },
  { name: '403 consent invalid (no such consent)', target: '/v1/population/lookup', headers: bank, body: { citizen_id: P.citizen_id, purpose: CONSENTED, consent_id: NO_CONSENT },
    expect: 403, problemType: 'consent-invalid', extra: consentError('403 consent invalid (no such consent)', 'consent_id', 'no consent by this id was given to this partner') },

  // 404: unknown routes, a query string, unknown subjects of lookups.
  { name: '404 unknown route', target: '/v1/nope', headers: ministry, body: {}, expect: 404, problemType: 'not-found', component: { name: 'RouteNotFound', status: 404 } },
  { name: '404 unknown route (GET, no credentials)', method: 'GET', target: '/', expect: 404, problemType: 'not-found', component: { name: 'RouteNotFound', status: 404 } },
  { name: '200 a query string is ignored (verify)', target: '/v1/population/verify?citizen_id=1', headers: ministry, body: { citizen_id: P.citizen_id, gender: P.gender, purpose }, expect: 200 },
  { name: '400 a query string is ignored (lookup body still validated)', target: '/v1/vehicle/lookup?x=1', headers: ministry, body: {}, expect: 400, problemType: 'validation' },
  { name: '404 population.lookup unknown citizen', target: '/v1/population/lookup', headers: ministry, body: { citizen_id: UNKNOWN_ID, purpose }, expect: 404, problemType: 'subject-not-found' },
  { name: '404 population.lookup unknown legacy id', target: '/v1/population/lookup', headers: ministry, body: { citizen_id: '999999999', purpose }, expect: 404, problemType: 'subject-not-found' },
  { name: '404 insurance.lookup unknown number', target: '/v1/insurance/lookup', headers: ministry, body: { social_insurance_number: '9999999999', purpose }, expect: 404, problemType: 'subject-not-found' },
  { name: '404 vehicle.lookup unknown plate', target: '/v1/vehicle/lookup', headers: ministry, body: { plate_number: '99Z-999.99', purpose }, expect: 404, problemType: 'subject-not-found' },
  { name: '404 civil-status.lookup unknown citizen', target: '/v1/civil-status/lookup', headers: ministry, body: { citizen_id: UNKNOWN_ID, purpose }, expect: 404, problemType: 'subject-not-found' },
  { name: '404 consent revoke of an unknown consent', target: '/v1/consents/revoke', headers: citizenAppFor(P.citizen_id), body: { citizen_id: P.citizen_id, purpose: SELF, consent_id: NO_CONSENT },
    expect: 404, problemType: 'consent-not-found' },

  // 422: a well-formed consent the gateway cannot record.
  { name: '422 consent to a partner that does not exist', target: '/v1/consents', headers: citizenAppFor(P.citizen_id),
    body: { citizen_id: P.citizen_id, purpose: SELF, consent: { partner_id: 'no-such-partner', purpose: CONSENTED, scope: ['population.full_name'], expires_on: new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10) } },
    expect: 422, problemType: 'consent-rejected', extra: consentError('422 consent to no partner', 'consent.partner_id') },

  // 405 on every partner path.
  ...apiPaths.map((p, i) => ({ name: `405 ${['GET', 'PUT', 'DELETE', 'PATCH'][i % 4]} ${p}`, method: ['GET', 'PUT', 'DELETE', 'PATCH'][i % 4], target: p, headers: ministry, expect: 405, problemType: 'method-not-allowed' })),

  // 415.
  { name: '415 text/plain', target: '/v1/population/verify', headers: { ...ministry, 'Content-Type': 'text/plain' }, body: '{}', expect: 415, problemType: 'unsupported-media-type' },
  { name: '415 no Content-Type', target: '/v1/vehicle/lookup', headers: { Authorization: ministry.Authorization }, body: '{}', expect: 415, problemType: 'unsupported-media-type' },
  { name: '415 application/jsonx', target: '/v1/citizen-profile', headers: { ...ministry, 'Content-Type': 'application/jsonx' }, body: '{}', expect: 415, problemType: 'unsupported-media-type' },
  { name: '200 Application/JSON (media types are case-insensitive)', target: '/v1/population/verify', headers: { ...ministry, 'Content-Type': 'Application/JSON' }, body: { citizen_id: P.citizen_id, gender: P.gender, purpose }, expect: 200 },
  { name: '200 application/json; charset=utf-8 accepted', target: '/v1/population/verify', headers: { ...ministry, 'Content-Type': 'application/json; charset=utf-8' }, body: { citizen_id: P.citizen_id, gender: P.gender, purpose }, expect: 200 },

  // Transport: 413, 431, 400 malformed, 408.
  { name: '413 body over the limit', target: '/v1/population/verify', headers: ministry, body: `{"purpose":"${'x'.repeat(70000)}"}`, expect: 413, problemType: 'payload-too-large' },
  { name: '431 headers over the limit', target: '/v1/population/verify', headers: { ...ministry, 'X-Padding': 'p'.repeat(9000) }, body: {}, expect: 431, problemType: 'headers-too-large' },
  { name: '400 not HTTP', target: '/v1/population/verify', raw: Buffer.from('GARBAGE\r\n\r\n'), expect: 400, problemType: 'malformed-http' },
  { name: '408 request not finished', target: '/v1/population/verify', raw: Buffer.from('POST /v1/population/verify HTTP/1.1\r\nHost: x\r\n'), settleMs: 1, expect: 408, problemType: 'request-timeout' },

  // Admin port.
  { name: 'admin healthz', server: 'admin', method: 'GET', target: '/healthz', expect: 200 },
  { name: 'admin readyz', server: 'admin', method: 'GET', target: '/readyz', expect: 200 },
  { name: 'admin metrics', server: 'admin', method: 'GET', target: '/metrics', expect: 200,
    extra: (res) => check('admin metrics: lgsp_gateway_requests_total exposed', /lgsp_gateway_requests_total/.test(res.body)) },
  { name: 'admin reload', server: 'admin', method: 'POST', target: '/admin/reload', expect: 200 },
  { name: 'admin 405 POST /healthz', server: 'admin', method: 'POST', target: '/healthz', expect: 405, problemType: 'method-not-allowed' },
  { name: 'admin 405 DELETE /metrics', server: 'admin', method: 'DELETE', target: '/metrics', expect: 405, problemType: 'method-not-allowed' },
  { name: 'admin 405 PUT /readyz', server: 'admin', method: 'PUT', target: '/readyz', expect: 405, problemType: 'method-not-allowed' },
  { name: 'admin 405 GET /admin/reload', server: 'admin', method: 'GET', target: '/admin/reload', expect: 405, problemType: 'method-not-allowed' },
  { name: 'admin 404 query string', server: 'admin', method: 'GET', target: '/healthz?verbose=1', expect: 404, problemType: 'not-found' },
  { name: 'admin 404 unknown path', server: 'admin', method: 'GET', target: '/nope', expect: 404, problemType: 'not-found', component: { name: 'AdminNotFound', status: 404 } },
  { name: 'admin 404 unknown path, POST', server: 'admin', method: 'POST', target: '/nope', expect: 404, problemType: 'not-found', component: { name: 'AdminNotFound', status: 404 } },
  { name: 'admin 400 not HTTP', server: 'admin', target: '/metrics', raw: Buffer.from('\x16\x03\x01 not http\r\n\r\n', 'latin1'), expect: 400, problemType: 'malformed-http' },
];

// ---- run -----------------------------------------------------------------------------------
for (const entry of catalogue) await exercise(entry);

// Rate limit: one token, one per second; the second request at once is refused.
if (args['rate-key']) {
  const key = auth(args['rate-key']);
  const body = { citizen_id: P.citizen_id, gender: P.gender, purpose };
  // Three at once against a bucket of one token: whatever the scheduling, at least two are
  // refused (every answer is still checked against the spec).
  const answers = await Promise.all([1, 2, 3].map((n) => exercise({ name: `rate-limited partner, request ${n} of 3 at once`, target: '/v1/population/verify', headers: key, body, expect: [200, 429] })));
  const limited = answers.filter((a) => a && a.status === 429);
  check('rate limit: at least two of three simultaneous requests answered 429 rate-limited', limited.length >= 2 && limited.every((a) => a.json.type === 'urn:lgsp:problem:rate-limited'), `got ${answers.map((a) => a && a.status).join(', ')}`);
} else {
  console.log('SKIP  429 rate-limited: no --rate-key');
}

// Daily quota of 3: a profile with no registry to look up (403), a verify (200), an invalid
// verify (400), then 429 quota-exhausted; every answer carries the quota headers.
if (args['quota-key']) {
  const key = auth(args['quota-key']);
  const quotaHeaders = (res) => check(`quota partner: X-Quota-Limit and X-Quota-Remaining on ${res.status}`,
    res.headers['x-quota-limit'] === '3' && /^\d+$/.test(res.headers['x-quota-remaining'] || ''), JSON.stringify([res.headers['x-quota-limit'], res.headers['x-quota-remaining']]));
  await exercise({ name: '403 citizen.profile with no registry the partner may look up', target: '/v1/citizen-profile', headers: key, body: { citizen_id: P.citizen_id, purpose }, expect: 403, problemType: 'operation-not-allowed', extra: quotaHeaders });
  await exercise({ name: 'quota partner verify', target: '/v1/population/verify', headers: key, body: { citizen_id: P.citizen_id, gender: P.gender, purpose }, expect: 200, extra: quotaHeaders });
  await exercise({ name: 'quota partner 400', target: '/v1/population/verify', headers: key, body: { citizen_id: P.citizen_id, purpose }, expect: 400, problemType: 'validation', extra: quotaHeaders });
  await exercise({ name: '429 quota-exhausted', target: '/v1/population/verify', headers: key, body: { citizen_id: P.citizen_id, gender: P.gender, purpose }, expect: 429, problemType: 'quota-exhausted', extra: quotaHeaders });
} else {
  console.log('SKIP  429 quota-exhausted: no --quota-key');
}

// Bulk jobs (/v1/batches). Each ministry job is followed to its end before the next is
// submitted, so the ministry never meets its limit of active jobs; the telecom partner meets
// it on purpose, with two uploads kept open. Reads of another partner's job are 404.
{
  const batchLimits = args.config ? (YAML.parse(fs.readFileSync(args.config, 'utf8')).batches || {}) : {};
  const run = crypto.randomBytes(4).toString('hex');  // Idempotency-Keys of this run only
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const bearer = (key) => ({ Authorization: `Bearer ${key}` });
  const upload = (key, type, extra = {}) => ({ ...bearer(key), 'Content-Type': type, ...extra });
  const ndjson = (records) => records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
  const submit = (registry, why, more = '') => `/v1/batches?registry=${registry}&operation=verify&purpose=${encodeURIComponent(why)}${more}`;
  const M = args['ministry-key'];
  const T = args['telecom-key'];
  const telecomPurpose = 'telecom-subscriber-verification';
  const NDJSON = 'application/x-ndjson';
  const jobOf = (res) => (res && res.status < 300 && res.json && typeof res.json.id === 'string' ? res.json.id : null);
  const lines = (res) => res.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));

  // A submission whose body keeps arriving (chunked, `line` every 200 ms) until finish();
  // answered() is its answer.
  function openUpload(target, headers, line) {
    const url = new URL(args.api);
    const socket = net.connect(Number(url.port), url.hostname);
    const received = [];
    const chunk = (text) => {
      const b = Buffer.from(text, 'utf8');
      return Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    };
    let timer;
    const answered = new Promise((resolve, reject) => {
      socket.on('data', (d) => received.push(d));
      socket.on('close', () => {
        clearInterval(timer);
        try {
          resolve(received.length ? parseResponse(Buffer.concat(received)) : null);
        } catch (e) {
          reject(e);
        }
      });
      socket.on('error', () => {});  // an early answer resets the writes; 'close' follows
    });
    socket.on('connect', () => {
      let head = `POST ${target} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      socket.write(`${head}\r\n`);
      socket.write(chunk(line));
      timer = setInterval(() => socket.write(chunk(line)), 200);
    });
    return {
      finish() {
        clearInterval(timer);
        if (!socket.destroyed) socket.write('0\r\n\r\n');
        return answered;
      },
    };
  }

  // The checks every answer with a job gets beyond its schema.
  const jobChecks = (what, { total, invalid, registry, state } = {}) => (res, job) => {
    check(`${what}: Location is the job's URL`, res.headers.location === `/v1/batches/${job.id}`, res.headers.location);
    check(`${what}: results is the job's results URL`, job.results === `/v1/batches/${job.id}/results`, job.results);
    if (total !== undefined) check(`${what}: counts.total is ${total}`, job.counts.total === total, JSON.stringify(job.counts));
    if (invalid !== undefined) check(`${what}: counts.invalid is ${invalid} (decided at upload)`, job.counts.invalid === invalid, JSON.stringify(job.counts));
    if (registry !== undefined) check(`${what}: registry is ${registry}`, job.registry === registry, job.registry);
    if (state !== undefined) check(`${what}: state is ${state}`, job.state === state, job.state);
    const c = job.counts;
    check(`${what}: counts.done is the sum of the outcomes and at most total`,
      c.done === c.matched + c.mismatched + c.not_found + c.invalid + c.failed && c.done <= c.total, JSON.stringify(c));
    if (job.state === 'completed') {
      check(`${what}: a completed job has every record done, finished_at and eta_seconds 0`,
        c.done === c.total && job.finished_at !== null && job.started_at !== null && job.eta_seconds === 0, JSON.stringify(job));
    }
  };

  // Polls without checking until the job is final (or the time is up); returns its state.
  async function settle(key, id, timeoutMs = 30000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await request(args.api, 'GET', `/v1/batches/${id}`, { headers: bearer(key) });
      const state = r.status === 200 ? JSON.parse(r.body).state : `HTTP ${r.status}`;
      if (['completed', 'failed', 'cancelled'].includes(state) || !state.match(/^(queued|running)$/) || Date.now() > until) return state;
      await sleep(50);
    }
  }
  // Submits, follows the job to its end and checks its final status; returns its id.
  async function jobToTheEnd(entry, expectations) {
    const res = await exercise({ ...entry, expect: 202, extra: jobChecks(`${entry.name}`, expectations) });
    const id = jobOf(res);
    if (!id) return null;
    const key = entry.headers.Authorization.replace(/^Bearer /, '');
    const state = await settle(key, id);
    check(`${entry.name}: the job completed`, state === 'completed', `state ${state}`);
    await exercise({ name: `${entry.name}, its final status`, method: 'GET', target: `/v1/batches/${id}`, headers: bearer(key), expect: 200,
      extra: jobChecks(`${entry.name}, final status`, { ...expectations, state: 'completed' }) });
    return id;
  }

  // 1. NDJSON, population: a match, a mismatch (purpose repeated), a blank line, an unknown
  //    subject, and three invalid records (a bad citizen ID, not JSON, another purpose).
  const popRecords = [
    { citizen_id: P.citizen_id, full_name: P.full_name, date_of_birth: P.date_of_birth, gender: P.gender },
    { citizen_id: P.citizen_id, date_of_birth: '1901-01-01', purpose },
    '',
    { citizen_id: UNKNOWN_ID, full_name: 'Nguyễn Văn An' },
    { citizen_id: '12345', gender: 'female' },
    '{"citizen_id":',
    { citizen_id: P.citizen_id, gender: P.gender, purpose: 'marketing' },
  ];
  const popExpected = ['matched', 'mismatched', 'not_found', 'invalid', 'invalid', 'invalid'];
  const popJob = await jobToTheEnd({ name: 'batch NDJSON population (blank line skipped, invalid records kept)', target: submit('population', purpose, '&procedure_code=1.0001'),
    headers: upload(M, NDJSON), body: ndjson(popRecords) }, { total: 6, invalid: 3, registry: 'population' });
  if (popJob) {
    const results = `/v1/batches/${popJob}/results`;
    await exercise({ name: 'batch status, traceparent kept', method: 'GET', target: `/v1/batches/${popJob}`, expect: 200,
      headers: { ...bearer(M), traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      extra: (res, job) => {
        check('batch status: traceparent keeps the caller\'s trace id', (res.headers.traceparent || '').startsWith('00-4bf92f3577b34da6a3ce929d0e0e4736-'), res.headers.traceparent);
        check('batch status: procedure_code is the job\'s', job.procedure_code === '1.0001', job.procedure_code);
      } });
    await exercise({ name: 'batch status, a query string is ignored', method: 'GET', target: `/v1/batches/${popJob}?verbose=1`, headers: bearer(M), expect: 200 });
    await exercise({ name: 'batch results NDJSON', method: 'GET', target: results, headers: bearer(M), expect: 200,
      extra: (res) => {
        const got = lines(res);
        check('batch results: one line per record, numbered 1..6 in order', got.map((l) => l.line).join() === '1,2,3,4,5,6', got.map((l) => l.line).join());
        check('batch results: each record\'s status', got.map((l) => l.status).join() === popExpected.join(), got.map((l) => l.status).join());
        check('batch results: the invalid records name their fields (citizen_id, body, purpose)',
          got.length === 6 && got[3].errors.some((e) => e.field === 'citizen_id') && got[4].errors[0].field === 'body' && got[5].errors.some((e) => e.field === 'purpose'),
          JSON.stringify(got.slice(3)));
        check('batch results: X-Batch-State completed, X-Batch-Done = X-Batch-Total = 6',
          res.headers['x-batch-state'] === 'completed' && res.headers['x-batch-done'] === '6' && res.headers['x-batch-total'] === '6',
          JSON.stringify([res.headers['x-batch-state'], res.headers['x-batch-done'], res.headers['x-batch-total']]));
        check('batch results: sent with chunked transfer encoding', /chunked/i.test(res.headers['transfer-encoding'] || ''), res.headers['transfer-encoding']);
      } });
    await exercise({ name: 'batch results NDJSON after_line=4', method: 'GET', target: `${results}?after_line=4&format=ndjson`, headers: bearer(M), expect: 200,
      extra: (res) => check('batch results after_line=4: lines 5 and 6', lines(res).map((l) => l.line).join() === '5,6', res.body.slice(0, 200)) });
    await exercise({ name: 'batch results NDJSON after the last line', method: 'GET', target: `${results}?after_line=6`, headers: bearer(M), expect: 200,
      extra: (res) => check('batch results after_line=6: no lines', res.body === '', res.body.slice(0, 200)) });
    await exercise({ name: 'batch results CSV', method: 'GET', target: `${results}?format=csv`, headers: bearer(M), expect: 200,
      extra: (res) => {
        const rows = res.body.split('\n');
        check('batch results CSV: the header row', rows[0] === 'line,status,subject_found,match,fields,errors', rows[0]);
        check('batch results CSV: one row per record', rows.filter((r) => r !== '').length === 7, `${rows.length} rows`);
        check('batch results CSV: the match row', /^1,matched,true,true,[a-z_]+=exact/.test(rows[1] || ''), rows[1]);
      } });
    for (const [what, query] of [['format xml', 'format=xml'], ['after_line negative', 'after_line=-1'], ['after_line not a number', 'after_line=two'], ['unknown parameter', 'line=3']]) {
      await exercise({ name: `400 batch results ${what}`, method: 'GET', target: `${results}?${query}`, headers: bearer(M), expect: 400, problemType: 'validation' });
    }
    await exercise({ name: '409 batch DELETE of a completed job', method: 'DELETE', target: `/v1/batches/${popJob}`, headers: bearer(M), expect: 409, problemType: 'batch-finished' });
    // Another partner's job is as absent as an unknown one.
    await exercise({ name: '404 batch status of another partner\'s job', method: 'GET', target: `/v1/batches/${popJob}`, headers: bearer(T), expect: 404, problemType: 'batch-not-found' });
    await exercise({ name: '404 batch results of another partner\'s job', method: 'GET', target: results, headers: bearer(T), expect: 404, problemType: 'batch-not-found' });
    await exercise({ name: '404 batch DELETE of another partner\'s job', method: 'DELETE', target: `/v1/batches/${popJob}`, headers: bearer(T), expect: 404, problemType: 'batch-not-found' });
    await exercise({ name: '401 batch results without credentials', method: 'GET', target: results, expect: 401, problemType: 'unauthenticated' });
    await exercise({ name: '404 batch unknown sub-path', method: 'GET', target: `/v1/batches/${popJob}/lines`, headers: bearer(M), expect: 404, problemType: 'not-found', component: { name: 'RouteNotFound', status: 404 } });
    await exercise({ name: '405 PUT /v1/batches/{id}', method: 'PUT', target: `/v1/batches/${popJob}`, headers: bearer(M), expect: 405, problemType: 'method-not-allowed',
      extra: (res) => check('batch 405 /v1/batches/{id}: Allow: GET, DELETE', res.headers.allow === 'GET, DELETE', res.headers.allow) });
    await exercise({ name: '405 DELETE /v1/batches/{id}/results', method: 'DELETE', target: results, headers: bearer(M), expect: 405, problemType: 'method-not-allowed',
      extra: (res) => check('batch 405 results: Allow: GET', res.headers.allow === 'GET', res.headers.allow) });
  }

  // 2. CSV, insurance (the facts: valid_on_date), then gzip NDJSON as application/jsonl,
  //    vehicle (in_good_standing).
  const insJob = await jobToTheEnd({ name: 'batch CSV insurance', target: submit('insurance', purpose), headers: upload(M, 'text/csv; charset=utf-8'),
    body: `citizen_id,health_insurance_card,valid_on\r\n${I.citizen_id},${I.health_insurance_card},${I.coverage_end}\r\n${UNKNOWN_ID},${I.health_insurance_card},\r\n${I.citizen_id},not-a-card,\r\n` },
  { total: 3, invalid: 1, registry: 'insurance' });
  if (insJob) {
    await exercise({ name: 'batch results NDJSON insurance', method: 'GET', target: `/v1/batches/${insJob}/results`, headers: bearer(M), expect: 200,
      extra: (res) => {
        const got = lines(res);
        check('batch results insurance: matched with valid_on_date, not_found, invalid',
          got.map((l) => l.status).join() === 'matched,not_found,invalid' && got[0].valid_on_date === true, res.body.slice(0, 400));
      } });
  }
  const vehJob = await jobToTheEnd({ name: 'batch gzip NDJSON vehicle (application/jsonl)', target: submit('vehicle', purpose),
    headers: upload(M, 'application/jsonl', { 'Content-Encoding': 'gzip' }),
    body: zlib.gzipSync(ndjson([{ plate_number: V.plate_number, citizen_id: V.citizen_id }, { plate_number: '99Z-999.99', citizen_id: V.citizen_id }])) },
  { total: 2, invalid: 0, registry: 'vehicle' });
  if (vehJob) {
    await exercise({ name: 'batch results NDJSON vehicle', method: 'GET', target: `/v1/batches/${vehJob}/results`, headers: bearer(M), expect: 200,
      extra: (res) => {
        const got = lines(res);
        check('batch results vehicle: matched with in_good_standing, then not_found',
          got.map((l) => l.status).join() === 'matched,not_found' && got[0].in_good_standing === true, res.body.slice(0, 400));
      } });
  }

  // 3. Idempotency-Key: a retry is the first job (200), the key with other parameters is 422.
  const key = `contract-${run}-1`;
  const once = { target: submit('population', purpose), headers: upload(M, NDJSON, { 'Idempotency-Key': key }), body: ndjson([popRecords[0]]) };
  const firstId = await jobToTheEnd({ name: 'batch with an Idempotency-Key', ...once }, { total: 1 });
  await exercise({ name: 'batch retried with the same Idempotency-Key', ...once, expect: 200,
    extra: (res, job) => {
      check('batch replay: Idempotent-Replayed: true and the first job', res.headers['idempotent-replayed'] === 'true' && job.id === firstId, `${res.headers['idempotent-replayed']} ${job.id} vs ${firstId}`);
      jobChecks('batch replay', { total: 1, state: 'completed' })(res, job);
    } });
  await exercise({ name: '422 batch Idempotency-Key reused with another procedure_code', ...once, target: submit('population', purpose, '&procedure_code=2.0002'), expect: 422, problemType: 'idempotency-key-reused' });
  await exercise({ name: '422 batch Idempotency-Key reused with another media type', ...once, headers: upload(M, 'text/csv', { 'Idempotency-Key': key }), expect: 422, problemType: 'idempotency-key-reused' });

  // 4. Refused submissions.
  const one = ndjson([popRecords[0]]);
  for (const [what, target] of [
    ['no query', '/v1/batches'],
    ['registry missing', '/v1/batches?operation=verify&purpose=contract-test'],
    ['registry unknown', submit('tax', purpose)],
    ['operation lookup', '/v1/batches?registry=population&operation=lookup&purpose=contract-test'],
    ['purpose empty', '/v1/batches?registry=population&operation=verify&purpose='],
    ['purpose too long', submit('population', 'p'.repeat(201))],
    ['procedure_code too long', submit('population', purpose, `&procedure_code=${'c'.repeat(65)}`)],
    ['unknown query parameter', submit('population', purpose, '&citizen_id=001300000313')],
    ['target not a valid URL', submit('population', purpose, '&procedure_code=%zz')],
  ]) {
    await exercise({ name: `400 batch ${what}`, target, headers: upload(M, NDJSON), body: one, expect: 400, problemType: 'validation' });
  }
  await exercise({ name: '400 batch Idempotency-Key with a space', target: submit('population', purpose), headers: upload(M, NDJSON, { 'Idempotency-Key': 'a b' }), body: one, expect: 400, problemType: 'validation',
    extra: (_res, b) => check('batch 400 Idempotency-Key: errors name header:Idempotency-Key', (b.errors || []).some((e) => e.field === 'header:Idempotency-Key'), JSON.stringify(b.errors)) });
  await exercise({ name: '400 batch empty body', target: submit('population', purpose), headers: upload(M, NDJSON), body: '\n\n', expect: 400, problemType: 'validation' });
  await exercise({ name: '400 batch CSV without a header row', target: submit('population', purpose), headers: upload(M, 'text/csv'), body: '', expect: 400, problemType: 'validation' });
  await exercise({ name: '400 batch CSV header naming a column twice', target: submit('population', purpose), headers: upload(M, 'text/csv'), body: 'citizen_id,citizen_id\n1,2\n', expect: 400, problemType: 'validation' });
  await exercise({ name: '400 batch corrupt gzip', target: submit('population', purpose), headers: upload(M, NDJSON, { 'Content-Encoding': 'gzip' }), body: one, expect: 400, problemType: 'validation' });
  await exercise({ name: '400 batch gzip cut short', target: submit('population', purpose), headers: upload(M, NDJSON, { 'Content-Encoding': 'gzip' }),
    body: zlib.gzipSync(one).subarray(0, 20), expect: 400, problemType: 'validation' });
  // A body shorter than its Content-Length: the client stops sending (half-close), or the body
  // stalls past the read timeout (1 s in contract_test.sh).
  const cutShort = Buffer.from(`POST ${submit('population', purpose)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${M}\r\nContent-Type: ${NDJSON}\r\nContent-Length: 1000\r\n\r\n${one}`);
  await exercise({ name: '400 batch body ended early', target: '/v1/batches', expect: 400, problemType: 'upload-incomplete', raw: cutShort });
  await exercise({ name: '408 batch upload stalled', target: '/v1/batches', expect: 408, problemType: 'request-timeout', settleMs: 1, raw: cutShort });
  await exercise({ name: '408 batch request head not finished', target: '/v1/batches', expect: 408, problemType: 'request-timeout', settleMs: 1,
    raw: Buffer.from(`POST ${submit('population', purpose)} HTTP/1.1\r\nHost: x\r\n`) });
  await exercise({ name: '401 batch submit without credentials', target: submit('population', purpose), headers: { 'Content-Type': NDJSON }, body: one, expect: 401, problemType: 'unauthenticated' });
  await exercise({ name: '401 batch status with an unknown key', method: 'GET', target: `/v1/batches/job-${'0'.repeat(32)}`, headers: bearer('not-a-key'), expect: 401, problemType: 'unauthenticated' });
  await exercise({ name: '403 batch citizen app (no batch-verify)', target: submit('population', purpose), headers: upload(args['citizen-app-key'], NDJSON), body: one, expect: 403, problemType: 'operation-not-allowed' });
  await exercise({ name: '403 batch telecom on insurance (population only)', target: submit('insurance', telecomPurpose), headers: upload(T, NDJSON), body: one, expect: 403, problemType: 'operation-not-allowed' });
  await exercise({ name: '403 batch purpose not registered for the partner', target: submit('population', 'marketing'), headers: upload(T, NDJSON), body: one, expect: 403, problemType: 'purpose-not-allowed' });
  for (const [what, headers] of [
    ['application/json', upload(M, 'application/json')],
    ['text/plain', upload(M, 'text/plain')],
    ['no Content-Type', bearer(M)],
    ['Content-Encoding br', upload(M, NDJSON, { 'Content-Encoding': 'br' })],
  ]) {
    await exercise({ name: `415 batch ${what}`, target: submit('population', purpose), headers, body: one, expect: 415, problemType: 'unsupported-media-type' });
  }
  await jobToTheEnd({ name: 'batch Application/X-NDJSON; charset=utf-8 (media types are case-insensitive)', target: submit('population', purpose),
    headers: upload(M, 'Application/X-NDJSON; charset=utf-8'), body: one }, { total: 1 });
  {
    // Refused from Content-Length before the body is read (over batches.max_bytes).
    const over = Number(batchLimits.max_bytes || 21474836480) + 1;
    await exercise({ name: '413 batch Content-Length over max_bytes', target: '/v1/batches', expect: 413, problemType: 'payload-too-large',
      raw: Buffer.from(`POST ${submit('population', purpose)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${M}\r\nContent-Type: ${NDJSON}\r\nContent-Length: ${over}\r\n\r\n${one}`) });
  }
  if (batchLimits.max_records) {
    // Gzip hides the size from Content-Length: refused once the records pass max_records.
    const n = Number(batchLimits.max_records) + 1;
    await exercise({ name: `413 batch over max_records (${n} records, gzip)`, target: submit('population', purpose), headers: upload(M, NDJSON, { 'Content-Encoding': 'gzip' }),
      body: zlib.gzipSync(`${JSON.stringify(popRecords[0])}\n`.repeat(n)), expect: 413, problemType: 'payload-too-large' });
  } else {
    console.log('SKIP  413 batch over max_records: no --config with batches.max_records');
  }
  await exercise({ name: '431 batch headers over the limit', method: 'GET', target: `/v1/batches/job-${'0'.repeat(32)}`, headers: { ...bearer(M), 'X-Padding': 'p'.repeat(9000) }, expect: 431, problemType: 'headers-too-large' });
  await exercise({ name: '405 GET /v1/batches', method: 'GET', target: '/v1/batches', headers: bearer(M), expect: 405, problemType: 'method-not-allowed',
    extra: (res) => check('batch 405 /v1/batches: Allow: POST', res.headers.allow === 'POST', res.headers.allow) });
  await exercise({ name: '404 batch unknown job', method: 'GET', target: `/v1/batches/job-${'0'.repeat(32)}`, headers: bearer(M), expect: 404, problemType: 'batch-not-found' });
  await exercise({ name: '404 batch id not a job id', method: 'DELETE', target: '/v1/batches/nope', headers: bearer(M), expect: 404, problemType: 'batch-not-found' });
  await exercise({ name: '404 batch results of an unknown job', method: 'GET', target: `/v1/batches/job-${'f'.repeat(32)}/results`, headers: bearer(M), expect: 404, problemType: 'batch-not-found' });

  // 5. The limit of active jobs: uploads kept open (records trickling in, faster than the
  //    read timeout) hold all of the telecom partner's slots; the first has an
  //    Idempotency-Key, which another submission then meets while it is still arriving.
  {
    const slots = Number(batchLimits.max_active_jobs_per_partner || 2);
    const openKey = `contract-${run}-open`;
    const line = `${JSON.stringify({ citizen_id: P.citizen_id, gender: P.gender })}\n`;
    const target = submit('population', telecomPurpose);
    const open = [];
    for (let i = 0; i < slots; i += 1) open.push(openUpload(target, upload(T, NDJSON, i === 0 ? { 'Idempotency-Key': openKey } : {}), line));
    await sleep(600);
    await exercise({ name: '409 batch Idempotency-Key of an upload still arriving', target, headers: upload(T, NDJSON, { 'Idempotency-Key': openKey }), body: line,
      expect: 409, problemType: 'batch-upload-in-progress' });
    await exercise({ name: `429 batch with ${slots} uploads of the partner still arriving`, target, headers: upload(T, NDJSON), body: line,
      expect: 429, problemType: 'too-many-batches' });
    const ids = [];
    for (const [i, up] of open.entries()) {
      const res = await exercise({ name: `batch upload ${i + 1} of ${slots} kept open, then finished`, target, exchange: () => up.finish(), expect: 202,
        extra: jobChecks(`batch upload ${i + 1} kept open`, { registry: 'population', invalid: 0 }) });
      if (jobOf(res)) ids.push(jobOf(res));
    }
    for (const id of ids) check(`batch upload kept open: job ${id} completed`, (await settle(T, id)) === 'completed');
    if (ids.length > 0) {
      await exercise({ name: 'batch retried with the key of the upload kept open', target, headers: upload(T, NDJSON, { 'Idempotency-Key': openKey }), body: line, expect: 200,
        extra: (res, job) => check('batch replay of the upload kept open: its job', res.headers['idempotent-replayed'] === 'true' && job.id === ids[0], job.id) });
    }
  }

  // 6. Cancelling: a job big enough to be still running when DELETE arrives (about 2 s at
  //    the dev stack's tens of thousands of records per second).
  {
    const n = Math.min(100000, Number(batchLimits.max_records || 100000));
    const big = `${JSON.stringify({ citizen_id: P.citizen_id, full_name: P.full_name, gender: P.gender })}\n`.repeat(n);
    const res = await exercise({ name: `batch of ${n} records, to cancel`, target: submit('population', purpose), headers: upload(M, NDJSON), body: big, expect: 202,
      extra: jobChecks(`batch of ${n} records`, { total: n, invalid: 0 }) });
    const id = jobOf(res);
    if (id) {
      // Some results first, to see them outlive the cancellation.
      for (const until = Date.now() + 10000; Date.now() < until;) {
        const r = await request(args.api, 'GET', `/v1/batches/${id}`, { headers: bearer(M) });
        const job = r.status === 200 ? JSON.parse(r.body) : null;
        if (!job || job.counts.done > 0 || !['queued', 'running'].includes(job.state)) break;
        await sleep(10);
      }
      await exercise({ name: 'batch status of a running job', method: 'GET', target: `/v1/batches/${id}`, headers: bearer(M), expect: 200,
        extra: (_r, job) => check('batch status before DELETE: running, some records done', job.state === 'running' && job.counts.done > 0 && job.counts.done < n,
          `${job.state}, ${job.counts.done} of ${n} done`) });
      const cancelled = await exercise({ name: 'batch DELETE of a running job', method: 'DELETE', target: `/v1/batches/${id}`, headers: bearer(M), expect: 200,
        extra: (r, job) => {
          jobChecks('batch cancel', { total: n, state: 'cancelled' })(r, job);
          check('batch cancel: finished_at set, eta_seconds null, records left undone', job.finished_at !== null && job.eta_seconds === null && job.counts.done < n, JSON.stringify(job));
        } });
      if (cancelled && cancelled.status === 200) {
        await exercise({ name: 'batch status of the cancelled job', method: 'GET', target: `/v1/batches/${id}`, headers: bearer(M), expect: 200,
          extra: (_r, job) => check('batch status after DELETE: cancelled', job.state === 'cancelled', job.state) });
        await exercise({ name: 'batch results of the cancelled job', method: 'GET', target: `/v1/batches/${id}/results`, headers: bearer(M), expect: 200,
          extra: (r) => {
            const got = lines(r);
            // Up to the first record without a result: chunks answered out of order may have
            // left results past a gap, counted in X-Batch-Done but not read yet.
            check('batch results of the cancelled job: X-Batch-State cancelled, lines 1..k in order, k <= X-Batch-Done, 0 < X-Batch-Done < total',
              r.headers['x-batch-state'] === 'cancelled' && got.every((l, i) => l.line === i + 1) && got.length <= Number(r.headers['x-batch-done'])
                && Number(r.headers['x-batch-done']) > 0 && Number(r.headers['x-batch-done']) < n,
              `${r.headers['x-batch-state']} ${got.length} lines, X-Batch-Done ${r.headers['x-batch-done']}`);
          } });
        await exercise({ name: '409 batch DELETE of a cancelled job', method: 'DELETE', target: `/v1/batches/${id}`, headers: bearer(M), expect: 409, problemType: 'batch-finished' });
      } else {
        await settle(M, id);  // it finished first: do not leave it holding a slot
      }
    }
  }
}

let newbornCitizen = null;  // the child the birth registration below registers
// Procedures (/v1/procedures): the demo commune starts birth registrations. One runs to
// `completed` (three registry commands), one to `failed` (a child of 7 has no child's card:
// the last step is refused and the first two are undone); both are read as they end, and so
// are the access logs of the citizens they registered.
{
  const commune = auth(args['commune-key']);
  const run = crypto.randomBytes(4).toString('hex');  // Idempotency-Keys of this run only
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const BIRTH = '/v1/procedures/birth-registration';
  const daysAgo = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
  const input = (dateOfBirth, more = {}) => ({
    child_full_name: 'Nguyễn Thị Mai', date_of_birth: dateOfBirth, gender: 'nữ', birth_province_code: '079',
    place_of_origin: 'Xã Tân Phú, Huyện Đức Hòa, Tỉnh Long An', province: 'Thành phố Hồ Chí Minh', district: 'Quận 1',
    commune: 'Phường Bến Nghé', place_of_registration: 'UBND Phường Bến Nghé', hospital_facility_code: '79-001', ...more,
  });
  const birth = (inp, more = {}) => ({ purpose: 'birth-registration', on_behalf_of: 'officer-7', procedure_code: '1.001193', input: inp, ...more });
  const newborn = birth(input(daysAgo(3)));
  const procOf = (res) => (res && res.status < 300 && res.json && typeof res.json.id === 'string' ? res.json.id : null);
  const steps = [['citizen', 'population', 'register-newborn'], ['birth', 'civil-status', 'record-birth'], ['card', 'insurance', 'issue-child-card']];

  // The checks every answer with a procedure gets beyond its schema.
  const procChecks = (what, { state } = {}) => (res, p) => {
    check(`${what}: Location is the procedure's URL`, res.headers.location === `/v1/procedures/${p.id}`, res.headers.location);
    check(`${what}: name birth-registration, its three steps in order with their registry and command`,
      p.name === 'birth-registration' && p.steps.length === steps.length
        && steps.every(([n, r, c], i) => p.steps[i].name === n && p.steps[i].registry === r && p.steps[i].command === c), JSON.stringify(p.steps));
    check(`${what}: finished_at set exactly when completed or failed`, (p.finished_at !== null) === ['completed', 'failed'].includes(p.state),
      `${p.state}, finished_at ${p.finished_at}`);
    if (state !== undefined) check(`${what}: state is ${state}`, p.state === state, JSON.stringify(p));
  };
  // Polls without checking until the procedure is final (or the time is up).
  async function settle(id, timeoutMs = 30000) {
    for (const until = Date.now() + timeoutMs; ;) {
      const r = await request(args.api, 'GET', `/v1/procedures/${id}`, { headers: commune }).catch((e) => ({ error: e.message }));
      const state = !r || r.error ? `no answer (${r ? r.error : 'connection closed'})`
        : r.status === 200 ? JSON.parse(r.body).state : `HTTP ${r.status}`;
      if (!['running', 'compensating'].includes(state) || Date.now() > until) return state;
      await sleep(50);
    }
  }
  // A citizen's access log, once it lists `operations` (the audit writer appends within
  // about a second), read through the checks.
  async function accessLogOf(what, citizenId, operations) {
    const headers = citizenAppFor(citizenId);
    // A page of 100: each poll is itself listed (newest first), and the default page of 20
    // would fill with these reads before a slow procedure's accesses arrive.
    const body = { citizen_id: citizenId, purpose: 'citizen-self-service', page_size: 100 };
    for (let i = 0; i < 50; i += 1) {
      const r = await request(args.api, 'POST', '/v1/audit/access-log', { headers, body }).catch(() => null);
      const listed = r && r.status === 200 ? JSON.parse(r.body).accesses.map((a) => a.operation) : [];
      if (operations.every((o) => listed.includes(o))) break;
      await sleep(200);
    }
    return exercise({ name: what, target: '/v1/audit/access-log', headers, body, expect: 200,
      extra: (_res, b) => check(`${what}: lists ${operations.join(', ')}`, operations.every((o) => b.accesses.some((a) => a.operation === o)),
        JSON.stringify(b.accesses.map((a) => [a.operation, a.outcome]))) });
  }

  // 1. A birth registration to its end, read, retried with its key, the key reused.
  const key = `contract-${run}-birth`;
  const started = await exercise({ name: 'procedure birth-registration started', target: BIRTH, headers: { ...commune, 'Idempotency-Key': key }, body: newborn,
    expect: 202, extra: procChecks('procedure started') });
  const id = procOf(started);
  if (id) {
    const final = await settle(id);
    check(`procedure ${id} completed`, final === 'completed', final);
    const done = await exercise({ name: 'procedure status of a completed birth registration', method: 'GET', target: `/v1/procedures/${id}`, headers: commune, expect: 200,
      extra: (res, p) => {
        procChecks('procedure completed', { state: 'completed' })(res, p);
        // A girl born in the 2000s in province 079: citizen ID 0793<yy>…
        check('procedure completed: every step done once, with its result, the citizen ID 0793<yy>…', p.steps.every((st) => st.state === 'done' && st.attempts === 1 && st.result && !st.detail)
          && new RegExp(`^0793${newborn.input.date_of_birth.slice(2, 4)}[0-9]{6}$`).test(p.steps[0].result.citizen_id || '')
          && typeof p.steps[2].result.health_insurance_card === 'string', JSON.stringify(p.steps));
      } });
    await exercise({ name: 'procedure retried with its Idempotency-Key', target: BIRTH, headers: { ...commune, 'Idempotency-Key': key }, body: newborn, expect: 200,
      extra: (res, p) => {
        procChecks('procedure replay', { state: 'completed' })(res, p);
        check('procedure replay: the procedure the key started', p.id === id, p.id);
      } });
    await exercise({ name: '422 procedure Idempotency-Key reused with other parameters', target: BIRTH, headers: { ...commune, 'Idempotency-Key': key },
      body: birth(input(daysAgo(3)), { on_behalf_of: 'officer-8' }), expect: 422, problemType: 'idempotency-key-reused' });
    await exercise({ name: "404 procedure of another partner", method: 'GET', target: `/v1/procedures/${id}`, headers: ministry, expect: 404, problemType: 'procedure-not-found' });
    await exercise({ name: '405 DELETE a procedure', method: 'DELETE', target: `/v1/procedures/${id}`, headers: commune, expect: 405, problemType: 'method-not-allowed' });
    const citizen = done && done.json && done.json.steps && done.json.steps[0].result ? done.json.steps[0].result.citizen_id : null;
    newbornCitizen = citizen;
    if (citizen) {
      await accessLogOf('audit.access-log of the newborn', citizen,
        ['population.register-newborn', 'civil-status.record-birth', 'insurance.issue-child-card', 'procedure.status']);
    }
  }

  // 2. A birth registration that fails: the card is refused, the first two steps undone.
  const late = await exercise({ name: 'procedure birth-registration of a child of 7 started', target: BIRTH, headers: commune, body: birth(input(daysAgo(7 * 366))),
    expect: 202, extra: procChecks('procedure of a child of 7') });
  const lateId = procOf(late);
  if (lateId) {
    const final = await settle(lateId);
    check(`procedure ${lateId} failed`, final === 'failed', final);
    const failed = await exercise({ name: 'procedure status of a failed birth registration', method: 'GET', target: `/v1/procedures/${lateId}`, headers: commune, expect: 200,
      extra: (res, p) => {
        procChecks('procedure failed', { state: 'failed' })(res, p);
        check('procedure failed: card failed with a detail, citizen and birth undone, an error',
          p.steps[0].state === 'undone' && p.steps[1].state === 'undone' && p.steps[2].state === 'failed' && typeof p.steps[2].detail === 'string'
            && typeof p.error === 'string', JSON.stringify(p));
      } });
    const citizen = failed && failed.json && failed.json.steps && failed.json.steps[0].result ? failed.json.steps[0].result.citizen_id : null;
    if (citizen) await accessLogOf('audit.access-log of the child whose registration was undone', citizen, ['population.register-newborn', 'population.void-newborn']);
  }

  // 3. Refused starts and reads.
  await exercise({ name: '404 procedure unknown', target: '/v1/procedures/marriage-registration', headers: commune, body: newborn, expect: 404,
    problemType: 'procedure-unknown', component: { name: 'ProcedureUnknown', status: 404 } });
  await exercise({ name: '404 procedure unknown id', method: 'GET', target: `/v1/procedures/prc-${'0'.repeat(32)}`, headers: commune, expect: 404, problemType: 'procedure-not-found' });
  await exercise({ name: '404 procedure id not a procedure id', method: 'GET', target: '/v1/procedures/birth-registration-1', headers: commune, expect: 404, problemType: 'procedure-not-found' });
  for (const [what, body, fields, cannotTell] of [
    ['input invalid and incomplete', birth({ child_full_name: '  ', date_of_birth: '2026-02-30', gender: 'M', birth_province_code: '003', colour: 'red' }),
      ['input.child_full_name', 'input.date_of_birth', 'input.gender', 'input.birth_province_code', 'input.colour', 'input.place_of_origin', 'input.province',
        'input.district', 'input.commune', 'input.place_of_registration', 'input.hospital_facility_code']],
    ['date_of_birth in the future', birth(input(daysAgo(-3))), ['input.date_of_birth'], 'JSON Schema cannot compare a date with today'],
    ['input member not a string', birth(input(daysAgo(3), { hospital_facility_code: 79001 })), ['input.hospital_facility_code']],
    ['input missing, purpose empty, unknown member', { purpose: '', procedure: 'birth' }, ['purpose', 'input', 'procedure']],
    ['on_behalf_of over 200 bytes', birth(input(daysAgo(3)), { on_behalf_of: 'o'.repeat(201) }), ['on_behalf_of']],
    ['body an array', '[]', ['body']],
  ]) {
    await exercise({ name: `400 procedure ${what}`, target: BIRTH, headers: commune, body, expect: 400, problemType: 'validation', requestSchemaCannotTell: cannotTell,
      extra: (_res, b) => {
        const got = (b.errors || []).map((e) => e.field).sort();
        check(`400 procedure ${what}: errors name ${fields.join(', ')}`, JSON.stringify(got) === JSON.stringify([...fields].sort()), JSON.stringify(b.errors));
      } });
  }
  await exercise({ name: '400 procedure Idempotency-Key with a space', target: BIRTH, headers: { ...commune, 'Idempotency-Key': 'a b' }, body: newborn, expect: 400,
    problemType: 'validation', requestSchemaCannotTell: 'the header is refused, not the body',
    extra: (_res, b) => check('400 procedure Idempotency-Key: errors name header:Idempotency-Key', (b.errors || []).every((e) => e.field === 'header:Idempotency-Key'), JSON.stringify(b.errors)) });
  await exercise({ name: '401 procedure without credentials', target: BIRTH, headers: { 'Content-Type': 'application/json' }, body: newborn, expect: 401, problemType: 'unauthenticated' });
  await exercise({ name: '401 procedure status with an unknown key', method: 'GET', target: `/v1/procedures/prc-${'0'.repeat(32)}`, headers: auth('not-a-key'), expect: 401, problemType: 'unauthenticated' });
  await exercise({ name: '403 procedure not granted (ministry)', target: BIRTH, headers: ministry, body: newborn, expect: 403, problemType: 'operation-not-allowed' });
  await exercise({ name: '403 procedure purpose not registered', target: BIRTH, headers: commune, body: birth(input(daysAgo(3)), { purpose: 'marketing' }), expect: 403, problemType: 'purpose-not-allowed' });
  await exercise({ name: '415 procedure text/plain', target: BIRTH, headers: { ...commune, 'Content-Type': 'text/plain' }, body: newborn, expect: 415, problemType: 'unsupported-media-type' });
  await exercise({ name: '405 PUT a procedure name', method: 'PUT', target: BIRTH, headers: commune, body: newborn, expect: 405, problemType: 'method-not-allowed' });
  if (args['rate-key']) {
    // Limited before validation: invalid input spends the token, then the rest are refused.
    const answers = await Promise.all([1, 2, 3].map((n) => exercise({ name: `rate-limited partner, procedure ${n} of 3 at once`, target: BIRTH, headers: auth(args['rate-key']),
      body: birth({}), expect: [400, 429] })));
    const limited = answers.filter((a) => a && a.status === 429);
    check('procedure rate limit: at least two of three simultaneous starts answered 429 rate-limited', limited.length >= 2 && limited.every((a) => a.json.type === 'urn:lgsp:problem:rate-limited'),
      `got ${answers.map((a) => a && a.status).join(', ')}`);
  } else {
    console.log('SKIP  429 procedure rate-limited: no --rate-key');
  }
}

// Change feed (/v1/changes): the newborn's death is registered, and refused at the funeral
// allowance (a child's card carries none): the registries announce a death and a residence
// ended, then take both back. The demo electricity company reads them, minimised to the members
// it is granted; the other partners read nothing.
{
  const commune = auth(args['commune-key']);
  const power = { Authorization: `Bearer ${args['electricity-key']}` };
  const FEED = '/v1/changes';
  const purpose = 'customer-account-closure';
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  if (newbornCitizen) {
    const today = new Date().toISOString().slice(0, 10);
    const death = await exercise({ name: 'procedure death-registration of the newborn started', target: '/v1/procedures/death-registration', headers: commune,
      body: { purpose: 'death-registration', on_behalf_of: 'officer-7', input: { citizen_id: newbornCitizen, date_of_death: today, place_of_registration: 'UBND Phường Bến Nghé' } },
      expect: 202 });
    // The newborn's four changes, read page by page from the start (polling, unchecked).
    const mine = [];
    let after = null;
    for (let i = 0; i < 20 && mine.length < 4; i += 1) {
      const r = await request(args.api, 'GET', `${FEED}?purpose=${purpose}&wait=2${after === null ? '' : `&after=${after}`}`, { headers: power }).catch(() => null);
      if (!r || r.status !== 200) { await sleep(200); continue; }
      const page = JSON.parse(r.body);
      mine.push(...page.changes.filter((c) => c.citizen_id === newbornCitizen));
      if (page.next !== null) after = page.next;
    }
    check('change feed: the death procedure was started', death !== null && death.status === 202);
    check('change feed: the newborn\'s death, residence ended, then both taken back, in order',
      JSON.stringify(mine.map((c) => `${c.registry}.${c.kind}`)) === JSON.stringify(['civil-status.record-death', 'population.deregister-residence',
        'population.restore-residence', 'civil-status.void-death']), JSON.stringify(mine));
    if (mine.length === 4) {
      check('change feed: only the granted members (date_of_death) of a death and of a residence ended',
        JSON.stringify(Object.keys(mine[0].data)) === '["date_of_death"]' && JSON.stringify(Object.keys(mine[1].data)) === '["date_of_death"]'
          && mine[0].data.date_of_death === today, JSON.stringify(mine));
      check('change feed: an undo names the change it takes back and carries no data',
        mine[2].voids === mine[1].id && mine[3].voids === mine[0].id && Object.keys(mine[2].data).length === 0, JSON.stringify(mine));
      const first = Number(mine[0].cursor) - 1;
      await exercise({ name: 'change feed read from a cursor', method: 'GET', target: `${FEED}?purpose=${purpose}&limit=2${first >= 0 ? `&after=${first}` : ''}`,
        headers: power, expect: 200,
        extra: (_res, b) => check('change feed read from a cursor: the first two changes from there, next is the second\'s cursor',
          b.changes.length === 2 && b.changes[0].id === mine[0].id && b.next === b.changes[1].cursor, JSON.stringify(b)) });
      await exercise({ name: 'change feed read past the end', method: 'GET', target: `${FEED}?purpose=${purpose}&after=${after}`, headers: power, expect: 200,
        extra: (_res, b) => check('change feed past the end: nothing, next unchanged', b.changes.length === 0 && b.next === after, JSON.stringify(b)) });
    }
  } else {
    check('change feed: a newborn from the birth registration to register the death of', false);
  }
  await exercise({ name: '400 change feed parameters', method: 'GET', target: `${FEED}?purpose=${purpose}&after=abc&limit=0&wait=999&colour=red`, headers: power,
    expect: 400, problemType: 'validation',
    extra: (_res, b) => {
      const got = (b.errors || []).map((e) => e.field).sort();
      check('400 change feed: errors name after, colour, limit, wait', JSON.stringify(got) === JSON.stringify(['after', 'colour', 'limit', 'wait']), JSON.stringify(b.errors));
    } });
  await exercise({ name: '400 change feed without a purpose', method: 'GET', target: FEED, headers: power, expect: 400, problemType: 'validation' });
  await exercise({ name: '401 change feed with an unknown key', method: 'GET', target: `${FEED}?purpose=${purpose}`, headers: auth('not-a-key'), expect: 401, problemType: 'unauthenticated' });
  await exercise({ name: '403 change feed not granted (ministry)', method: 'GET', target: `${FEED}?purpose=${purpose}`, headers: ministry, expect: 403, problemType: 'operation-not-allowed' });
  await exercise({ name: '403 change feed purpose not registered', method: 'GET', target: `${FEED}?purpose=marketing`, headers: power, expect: 403, problemType: 'purpose-not-allowed' });
  await exercise({ name: '405 POST the change feed', target: `${FEED}?purpose=${purpose}`, headers: { ...power, 'Content-Type': 'application/json' }, body: {}, expect: 405, problemType: 'method-not-allowed' });
}

// Consents (/v1/consents): the citizen app records the sample citizen's consent to the demo
// bank for credit-scoring (name and date of birth), the bank looks the citizen up under it
// (and is refused what it does not cover), the citizen lists it and revokes it, and the next
// lookup under it is refused.
{
  const own = citizenAppFor(P.citizen_id);
  const scope = ['population.full_name', 'population.date_of_birth'];
  const expiresOn = new Date(Date.now() + 90 * 86400000).toISOString().slice(0, 10);  // UTC
  const granted = await exercise({ name: 'consent granted', target: '/v1/consents', headers: own, expect: 201,
    body: { citizen_id: P.citizen_id, purpose: SELF, consent: { partner_id: 'demo-bank', purpose: CONSENTED, scope, expires_on: expiresOn } },
    extra: (_res, c) => check('consent granted: active, to demo-bank for credit-scoring, the scope asked, expires_at 00:00 UTC after expires_on, not revoked',
      c.state === 'active' && c.partner_id === 'demo-bank' && c.purpose === CONSENTED && JSON.stringify(c.scope) === JSON.stringify(scope)
        && c.expires_at === `${new Date(Date.parse(`${expiresOn}T00:00:00Z`) + 86400000).toISOString().slice(0, 10)}T00:00:00.000Z` && c.revoked_at === null,
      JSON.stringify(c)) });
  const id = granted && granted.status === 201 && granted.json && typeof granted.json.consent_id === 'string' ? granted.json.consent_id : null;
  if (id) {
    const lookup = { citizen_id: P.citizen_id, purpose: CONSENTED, consent_id: id };
    await exercise({ name: 'population.lookup under the consent', target: '/v1/population/lookup', headers: bank, body: lookup, expect: 200,
      extra: (_res, b) => check('population.lookup under the consent: the record holds only what the scope covers (full_name, date_of_birth)',
        sameKeys(b.record, ['full_name', 'date_of_birth']) && b.record.full_name === P.full_name && b.record.date_of_birth === P.date_of_birth, JSON.stringify(b.record)) });
    await exercise({ name: '403 consent out of scope (fields: gender)', target: '/v1/population/lookup', headers: bank, body: { ...lookup, fields: ['gender'] },
      expect: 403, problemType: 'consent-out-of-scope', extra: consentError('403 consent out of scope', 'consent_id') });
    await exercise({ name: 'consent list', target: '/v1/consents/list', headers: own, body: { citizen_id: P.citizen_id, purpose: SELF }, expect: 200,
      extra: (_res, b) => check('consent list: the consent granted, active, first (newest first)',
        b.consents.length >= 1 && b.consents[0].consent_id === id && b.consents[0].state === 'active', JSON.stringify(b.consents).slice(0, 400)) });
    const revoked = await exercise({ name: 'consent revoked', target: '/v1/consents/revoke', headers: own, body: { citizen_id: P.citizen_id, purpose: SELF, consent_id: id }, expect: 200,
      extra: (_res, c) => check('consent revoked: the consent, state revoked, revoked_at set', c.consent_id === id && c.state === 'revoked' && c.revoked_at !== null, JSON.stringify(c)) });
    if (revoked && revoked.status === 200) {
      await exercise({ name: 'consent revoked again', target: '/v1/consents/revoke', headers: own, body: { citizen_id: P.citizen_id, purpose: SELF, consent_id: id }, expect: 200,
        extra: (_res, c) => check('consent revoked again: the same answer, the first revoked_at kept', c.state === 'revoked' && c.revoked_at === revoked.json.revoked_at,
          `${c.revoked_at} vs ${revoked.json.revoked_at}`) });
    }
    await exercise({ name: '403 consent invalid (revoked)', target: '/v1/population/lookup', headers: bank, body: lookup, expect: 403, problemType: 'consent-invalid',
      extra: consentError('403 consent invalid (revoked)', 'consent_id', 'the citizen has revoked this consent') });
  } else {
    check('consents: a consent granted to look the citizen up under', false);
  }
}

// Access log: the ministry's requests above reach the chain within about a second.
{
  const body = { citizen_id: P.citizen_id, purpose: 'citizen-self-service', page_size: 2 };
  const ownToken = citizenAppFor(P.citizen_id);
  let first = null;
  for (let i = 0; i < 40; i += 1) {
    const r = await request(args.api, 'POST', '/v1/audit/access-log', { headers: ownToken, body });
    if (r.status === 200 && JSON.parse(r.body).next_page_token) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  first = await exercise({ name: 'audit.access-log first page', target: '/v1/audit/access-log', headers: ownToken, body, expect: 200 });
  const token = first && first.json && first.json.next_page_token;
  check('audit.access-log: a full page has a next_page_token', typeof token === 'string');
  if (typeof token === 'string') {
    await exercise({ name: 'audit.access-log next page', target: '/v1/audit/access-log', headers: ownToken, expect: 200,
      body: { citizen_id: P.citizen_id, purpose: 'citizen-self-service', page_size: 100, page_token: token } });
  }
  await exercise({ name: 'audit.access-log nobody accessed', target: '/v1/audit/access-log', headers: citizenAppFor('096299999999'), expect: 200,
    body: { citizen_id: '096299999999', purpose: 'citizen-self-service' },
    extra: (_res, b) => check('audit.access-log: an untouched citizen has no accesses and no next page', b.accesses.length === 0 && b.next_page_token === null) });
}

// Reload refused: a config that does not load is answered 422 and the old one stays.
if (args.config) {
  const original = fs.readFileSync(args.config, 'utf8');
  try {
    fs.writeFileSync(args.config, `${original}\nnot_a_section: true\n`);
    await exercise({ name: 'admin reload refused', server: 'admin', method: 'POST', target: '/admin/reload', expect: 422, problemType: 'action-failed' });
  } finally {
    fs.writeFileSync(args.config, original);
  }
  await exercise({ name: 'admin reload after the fix', server: 'admin', method: 'POST', target: '/admin/reload', expect: 200 });
} else {
  console.log('SKIP  admin 422: no --config');
}

console.log(`\ncontract: ${requests} requests, ${checks} checks, ${checks - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
