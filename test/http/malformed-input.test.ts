import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §10: bad input of any kind gets a clear 4xx (application/problem+json) and changes nothing.

let t: TestApp;
let user: RegisteredUser;
/** Access tokens of sessions of `user` that the logout cases present, one each, so one wrongly accepted logout cannot hide another. */
const logoutTokens: string[] = [];
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t, { email: null });
});
afterAll(async () => {
  await t.close();
});

type Route = '/v1/auth/register' | '/v1/auth/login' | '/v1/auth/token' | '/v1/auth/refresh' | '/v1/auth/logout';

interface Case {
  name: string;
  /** Index into logoutTokens, for /v1/auth/logout cases. */
  session?: number;
  url: Route;
  headers?: Record<string, string>;
  /** An object (sent as JSON) or raw bytes/text (sent as given); a function is called at send time. */
  payload?: unknown;
  /** When set, the answer must have exactly this status. */
  status?: number;
  /** When set, the answer must carry this code. */
  code?: string;
  /** When set, one errors[] entry must name this path. */
  path?: string;
}

const ONE_MB = 'x'.repeat(1_000_000);
const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
const WRONG_TYPES: Array<[string, unknown]> = [
  ['a number', 42],
  ['a float', 1.5],
  ['an empty array', []],
  ['an array of strings', ['abc', 'def']],
  ['an object', { value: 'abc' }],
  ['an empty object', {}],
  ['null', null],
  ['true', true],
  ['false', false],
];

/** A body each route would accept (the credentials are wrong on purpose, so nothing is created if one slips through). */
const VALID: Record<Route, () => Record<string, unknown>> = {
  '/v1/auth/register': () => ({ username: 'never_created', password: 'a long enough password' }),
  '/v1/auth/login': () => ({ username: user.username, password: user.password }),
  '/v1/auth/token': () => ({ grant_type: 'password', username: user.username, password: user.password }),
  '/v1/auth/refresh': () => ({ refresh_token: user.refreshToken }),
  '/v1/auth/logout': () => ({}),
};

/** String fields of each route's body, and whether null is an accepted value for it. */
const STRING_FIELDS: Record<Route, Array<{ field: string; required: boolean; nullable?: boolean }>> = {
  '/v1/auth/register': [
    { field: 'username', required: true },
    { field: 'password', required: true },
    { field: 'email', required: false, nullable: true },
  ],
  '/v1/auth/login': [
    { field: 'username', required: false },
    { field: 'email', required: false },
    { field: 'password', required: true },
  ],
  '/v1/auth/token': [
    { field: 'grant_type', required: false },
    { field: 'username', required: false },
    { field: 'password', required: false },
    { field: 'refresh_token', required: false },
  ],
  '/v1/auth/refresh': [{ field: 'refresh_token', required: true }],
  '/v1/auth/logout': [],
};

const ROUTES = Object.keys(VALID) as Route[];

const MALFORMED_JSON = [
  ['a truncated object', '{"username": "abc", "password": '],
  ['an unquoted key', '{username: "abc"}'],
  ['single quotes', "{'username': 'abc'}"],
  ['a trailing comma', '{"username": "abc",}'],
  ['two documents', '{"a": 1}{"b": 2}'],
  ['a bare word', 'undefined'],
  ['a lone brace', '{'],
  ['NaN', '{"username": NaN}'],
  ['a control character in a string', '{"username": "a\u0001b"}'],
];

function buildCases(): Case[] {
  const cases: Case[] = [];
  for (const url of ROUTES) {
    const valid = VALID[url];

    for (const [label, payload] of MALFORMED_JSON) {
      cases.push({ name: `malformed JSON (${label})`, url, headers: JSON_TYPE, payload, status: 400, code: 'invalid_json' });
    }
    cases.push({
      name: 'invalid UTF-8 inside a string',
      url,
      headers: JSON_TYPE,
      payload: Buffer.concat([Buffer.from('{"username":"ab'), Buffer.from([0xff, 0xfe]), Buffer.from('c","password":"a long enough password"}')]),
      status: 400,
      code: 'invalid_json',
    });
    cases.push({ name: 'a lone invalid byte', url, headers: JSON_TYPE, payload: Buffer.from([0xc3]), status: 400, code: 'invalid_json' });
    cases.push({ name: 'a __proto__ key', url, headers: JSON_TYPE, payload: () => `{"__proto__": {"role": "admin"}, ${JSON.stringify(valid()).slice(1)}`, status: 400 });
    cases.push({
      name: 'deeply nested arrays',
      url,
      headers: JSON_TYPE,
      payload: `{"username": ${'['.repeat(20_000)}${']'.repeat(20_000)}, "password": "a long enough password"}`,
    });

    // The whole body of the wrong type.
    for (const [label, raw] of <Array<[string, string | (() => string)]>>[
      ['an array', '[]'],
      ['an array holding a valid body', () => JSON.stringify([valid()])],
      ['a string', '"username"'],
      ['a number', '42'],
      ['true', 'true'],
      ['null', 'null'],
    ]) {
      cases.push({ name: `the whole body is ${label}`, url, headers: JSON_TYPE, payload: raw });
    }

    // Not JSON at all.
    cases.push({ name: 'text/plain', url, headers: { 'content-type': 'text/plain' }, payload: () => JSON.stringify(valid()), status: 415, code: 'unsupported_media_type' });
    cases.push({ name: 'application/xml', url, headers: { 'content-type': 'application/xml' }, payload: '<a/>', status: 415, code: 'unsupported_media_type' });
    cases.push({ name: 'no content-type', url, payload: () => JSON.stringify(valid()), status: 415, code: 'unsupported_media_type' });

    for (const { field, required, nullable } of STRING_FIELDS[url]) {
      for (const [label, value] of WRONG_TYPES) {
        if (value === null && nullable) continue;
        cases.push({ name: `${field} is ${label}`, url, payload: () => ({ ...valid(), [field]: value }), status: 422, code: 'validation_failed', path: `body.${field}` });
      }
      cases.push({ name: `${field} is a 1 MB string`, url, payload: () => ({ ...valid(), [field]: ONE_MB }) });
      if (required) {
        const without = () => Object.fromEntries(Object.entries(valid()).filter(([key]) => key !== field));
        cases.push({ name: `${field} is missing`, url, payload: without, status: 422, code: 'validation_failed', path: `body.${field}` });
      }
      if (url !== '/v1/auth/token') {
        cases.push({ name: `${field} is an empty string`, url, payload: () => ({ ...valid(), [field]: '' }), status: 422, code: 'validation_failed', path: `body.${field}` });
      }
    }

    if (url !== '/v1/auth/token') {
      cases.push({ name: 'an unknown field', url, payload: () => ({ ...valid(), is_admin: true }), status: 422, code: 'validation_failed', path: 'body.is_admin' });
      cases.push({ name: 'an unknown field named role', url, payload: () => ({ ...valid(), role: 'admin' }), status: 422, code: 'validation_failed', path: 'body.role' });
    }
    if (url !== '/v1/auth/logout') {
      cases.push({ name: 'an empty object', url, payload: {}, status: 422, code: 'validation_failed' });
      cases.push({ name: 'an empty JSON body', url, headers: JSON_TYPE, payload: '' });
    }
  }

  // Route-specific rules.
  cases.push(
    { name: 'password of 7 characters', url: '/v1/auth/register', payload: { username: 'never_created', password: 'short12' }, status: 422, path: 'body.password' },
    { name: 'password of 257 characters', url: '/v1/auth/register', payload: { username: 'never_created', password: 'p'.repeat(257) }, status: 422, path: 'body.password' },
    { name: 'username with a space', url: '/v1/auth/register', payload: { username: 'has space', password: 'a long enough password' }, status: 422, path: 'body.username' },
    { name: 'username of 2 characters', url: '/v1/auth/register', payload: { username: 'ab', password: 'a long enough password' }, status: 422, path: 'body.username' },
    { name: 'email that is not one', url: '/v1/auth/register', payload: { username: 'never_created', password: 'a long enough password', email: 'not-an-email' }, status: 422, path: 'body.email' },
    { name: 'neither username nor email', url: '/v1/auth/login', payload: () => ({ password: user.password }), status: 422, path: 'body.username' },
    { name: 'password grant without username', url: '/v1/auth/token', payload: { grant_type: 'password', password: 'whatever pw' }, status: 422, path: 'body.username' },
    { name: 'password grant without password', url: '/v1/auth/token', payload: { grant_type: 'password', username: 'someone' }, status: 422, path: 'body.password' },
    { name: 'password grant with empty username', url: '/v1/auth/token', payload: { grant_type: 'password', username: '', password: 'whatever pw' }, status: 422, path: 'body.username' },
    { name: 'password grant with empty password', url: '/v1/auth/token', payload: { grant_type: 'password', username: 'someone', password: '' }, status: 422, path: 'body.password' },
    { name: 'refresh grant without refresh_token', url: '/v1/auth/token', payload: { grant_type: 'refresh_token' }, status: 422, path: 'body.refresh_token' },
    { name: 'refresh grant with empty refresh_token', url: '/v1/auth/token', payload: { grant_type: 'refresh_token', refresh_token: '' }, status: 422, path: 'body.refresh_token' },
    { name: 'empty grant_type', url: '/v1/auth/token', payload: { grant_type: '', username: 'someone', password: 'whatever pw' }, status: 400, code: 'unsupported_grant_type' },
    { name: 'unknown grant_type', url: '/v1/auth/token', payload: { grant_type: 'client_credentials' }, status: 400, code: 'unsupported_grant_type' },
    { name: 'empty refresh_token', url: '/v1/auth/refresh', payload: { refresh_token: '' }, status: 422, path: 'body.refresh_token' },
    // The same through the form encoding OAuth2 clients use.
    { name: 'form: malformed percent-encoding', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'username=%E0%A4%A&password=x', status: 400 },
    { name: 'form: a lone percent sign', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'username=100%&password=x', status: 400 },
    { name: 'form: a repeated field', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'username=a&username=b&password=whatever1', status: 400 },
    {
      name: 'form: invalid UTF-8 bytes',
      url: '/v1/auth/token',
      headers: FORM_TYPE,
      payload: Buffer.concat([Buffer.from('username=ab'), Buffer.from([0xff, 0xfe]), Buffer.from('&password=whatever1')]),
      status: 400,
    },
    { name: 'form: percent-encoded invalid UTF-8', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'username=%FF%FE&password=whatever1', status: 400 },
    { name: 'form: empty body', url: '/v1/auth/token', headers: FORM_TYPE, payload: '', status: 422, path: 'body.username' },
    { name: 'form: missing username', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'grant_type=password&password=whatever1', status: 422, path: 'body.username' },
    { name: 'form: missing password', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'grant_type=password&username=someone', status: 422, path: 'body.password' },
    { name: 'form: empty username', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'username=&password=whatever1', status: 422, path: 'body.username' },
    { name: 'form: empty password', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'username=someone&password=', status: 422, path: 'body.password' },
    { name: 'form: refresh grant without token', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'grant_type=refresh_token', status: 422, path: 'body.refresh_token' },
    { name: 'form: unknown grant_type', url: '/v1/auth/token', headers: FORM_TYPE, payload: 'grant_type=implicit', status: 400, code: 'unsupported_grant_type' },
    { name: 'form: 1 MB username', url: '/v1/auth/token', headers: FORM_TYPE, payload: `username=${ONE_MB}&password=whatever1` },
    { name: 'form: 1 MB password', url: '/v1/auth/token', headers: FORM_TYPE, payload: `username=someone&password=${ONE_MB}` },
    { name: 'form: 1 MB refresh_token', url: '/v1/auth/token', headers: FORM_TYPE, payload: `grant_type=refresh_token&refresh_token=${ONE_MB}` },
    { name: 'form: 1 MB grant_type', url: '/v1/auth/token', headers: FORM_TYPE, payload: `grant_type=${ONE_MB}` },
    { name: 'form: body over BODY_LIMIT', url: '/v1/auth/token', headers: FORM_TYPE, payload: `username=someone&password=${'p'.repeat(1_100_000)}`, status: 413, code: 'payload_too_large' },
    { name: 'JSON: body over BODY_LIMIT', url: '/v1/auth/register', payload: { username: 'never_created', password: 'p'.repeat(1_100_000) }, status: 413, code: 'payload_too_large' },
    { name: 'JSON: body over BODY_LIMIT', url: '/v1/auth/logout', payload: { padding: 'p'.repeat(1_100_000) }, status: 413, code: 'payload_too_large' },
  );
  let session = 0;
  for (const c of cases) if (c.url === '/v1/auth/logout') c.session = session++;
  return cases;
}

function send(c: Case): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method: 'POST', url: c.url, headers: { ...(c.headers ?? {}) } };
  if (c.url === '/v1/auth/logout') options.headers = { ...options.headers, ...bearer(logoutTokens[c.session ?? -1] ?? 'missing-session') };
  const payload: unknown = typeof c.payload === 'function' ? (c.payload as () => unknown)() : c.payload;
  if (payload !== undefined) {
    options.payload = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    if (!c.headers && typeof payload !== 'string') options.headers = { ...options.headers, ...JSON_TYPE };
  }
  return t.request(options);
}

function expectRefused(response: LightMyRequestResponse, c: Case): void {
  const label = `${c.url} ${c.name}: ${response.statusCode} ${response.body.slice(0, 300)}`;
  expect([400, 413, 415, 422], label).toContain(response.statusCode);
  if (c.status) expect(response.statusCode, label).toBe(c.status);
  expect(response.headers['content-type'], label).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body.status, label).toBe(response.statusCode);
  expect(body.code, label).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(body.request_id, label).toBe(response.headers['x-request-id']);
  expect(typeof body.type, label).toBe('string');
  expect(typeof body.title, label).toBe('string');
  expect(typeof body.detail, label).toBe('string');
  if (c.code) expect(body.code, label).toBe(c.code);
  if (response.statusCode === 422) {
    expect(body.code, label).toBe('validation_failed');
    expect(Array.isArray(body.errors) && body.errors.length > 0, label).toBe(true);
    for (const error of body.errors as Array<{ path: unknown; message: unknown }>) {
      expect(typeof error.path, label).toBe('string');
      expect(error.path as string, label).toMatch(/^body(\.|$)/);
      expect(typeof error.message, label).toBe('string');
    }
    if (c.path) expect((body.errors as Array<{ path: string }>).map((error) => error.path), label).toContain(c.path);
  }
  // Nothing of what was sent comes back in bulk.
  expect(response.body.length, label).toBeLessThan(10_000);
}

describe('bad input of any kind gets a 4xx problem+json and changes nothing', () => {
  const cases = buildCases();
  const before: Record<string, number> = {};
  const TABLES = ['users', 'sessions', 'refresh_tokens'];

  beforeAll(async () => {
    const logins = cases.filter((c) => c.url === '/v1/auth/logout').length;
    for (let i = 0; i < logins; i++) {
      const response = await t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password } });
      if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
      logoutTokens.push(json(response).access_token);
    }
    for (const table of TABLES) before[table] = await t.count(table);
  });

  it('covers every route that takes a body', () => {
    for (const url of ROUTES) expect(cases.filter((c) => c.url === url).length, url).toBeGreaterThan(20);
  });

  it.each(cases.map((c) => [`${c.url} ${c.name}`, c] as const))('%s', async (_name, c) => {
    expectRefused(await send(c), c);
  });

  it('left users, sessions and refresh_tokens as they were', async () => {
    for (const table of TABLES) expect(await t.count(table), table).toBe(before[table]);
  });

  it('logged no session out', async () => {
    const refused: string[] = [];
    for (const c of cases.filter((each) => each.url === '/v1/auth/logout')) {
      const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(logoutTokens[c.session ?? -1] ?? '') });
      if (me.statusCode !== 200) refused.push(`${c.name}: ${me.statusCode}`);
    }
    expect(refused).toEqual([]);
  });

  it('left the session usable: the access token still works and the refresh token was not rotated', async () => {
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(user.accessToken) });
    expect(me.statusCode).toBe(200);
    expect(json(me).id).toBe(user.id);
    const refresh = await t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: user.refreshToken } });
    expect(refresh.statusCode).toBe(200);
    user = { ...user, accessToken: json(refresh).access_token, refreshToken: json(refresh).refresh_token };
  });

  it('still answers /health', async () => {
    const response = await t.request({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(json(response).status).toBe('ok');
  });
});

describe('POST /v1/auth/token ignores unknown fields', () => {
  it('as JSON: extra fields do not stop a valid password grant', async () => {
    const response = await t.request({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { grant_type: 'password', username: user.username, password: user.password, client_id: 'mobile', scope: 'chat', is_admin: true, nested: { a: [1] } },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(json(response)).toMatchObject({ token_type: 'bearer', user: { id: user.id, role: 'user' } });
  });

  it('as a form: extra fields do not stop a valid password grant', async () => {
    const body = new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password, client_id: 'mobile', scope: 'chat', role: 'admin' });
    const response = await t.request({ method: 'POST', url: '/v1/auth/token', headers: FORM_TYPE, payload: body.toString() });
    expect(response.statusCode, response.body).toBe(200);
    expect(json(response)).toMatchObject({ token_type: 'bearer', user: { id: user.id, role: 'user' } });
  });

  it('extra fields never count as validation errors: wrong credentials still answer 401', async () => {
    const response = await t.request({
      method: 'POST',
      url: '/v1/auth/token',
      headers: FORM_TYPE,
      payload: `grant_type=password&username=${user.username}&password=not-the-password&client_id=web&scope=chat`,
    });
    expect(response.statusCode).toBe(401);
    expect(json(response).code).toBe('invalid_credentials');
  });
});

describe('a form body on a JSON-only route', () => {
  it('answers 415 and creates nothing', async () => {
    const users = await t.count('users');
    const sessions = await t.count('sessions');
    for (const [url, form] of [
      ['/v1/auth/register', new URLSearchParams({ username: 'form_user_1', password: 'a long enough password' })],
      ['/v1/auth/login', new URLSearchParams({ username: user.username, password: user.password })],
    ] as const) {
      const response = await t.request({ method: 'POST', url, headers: FORM_TYPE, payload: form.toString() });
      expect.soft(response.statusCode, `${url}: ${response.body.slice(0, 200)}`).toBe(415);
      expect.soft(response.headers['content-type'], url).toMatch(/^application\/problem\+json/);
    }
    expect.soft(await t.count('users')).toBe(users);
    expect.soft(await t.count('sessions')).toBe(sessions);
  });
});
