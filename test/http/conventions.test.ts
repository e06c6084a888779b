import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, uniqueUsername } from '../helpers/factories.js';

// §2 Conventions (every endpoint), §10 (no secrets in logs), §12 Errors.

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const WELL_FORMED_ID = /^[A-Za-z0-9._:-]{1,128}$/;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

/** Lets hooks that run after the response (onResponse: logs, metrics) finish. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function expectProblem(response: LightMyRequestResponse, status: number, code?: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), code: expect.any(String) });
  expect(body.code).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(body.request_id).toBe(response.headers['x-request-id']);
  if (code) expect(body.code).toBe(code);
  return body;
}

describe('x-request-id', () => {
  it('is on every response, successful or not', async () => {
    const responses = [
      await t.request({ method: 'GET', url: '/health' }),
      await t.request({ method: 'GET', url: '/ready' }),
      await t.request({ method: 'GET', url: '/metrics' }),
      await t.request({ method: 'GET', url: '/openapi.json' }),
      await t.request({ method: 'GET', url: '/nowhere' }),
      await t.request({ method: 'GET', url: '/v1/auth/me' }),
      await t.request({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{oops' }),
      await t.request({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' }),
      await t.request({ method: 'POST', url: '/v1/auth/login', payload: { password: 'x' } }),
    ];
    const ids = new Set<string>();
    for (const response of responses) {
      const id = response.headers['x-request-id'];
      expect(typeof id, `${response.statusCode} ${response.body.slice(0, 80)}`).toBe('string');
      expect(id as string).toMatch(WELL_FORMED_ID);
      ids.add(id as string);
    }
    expect(ids.size).toBe(responses.length);
  });

  it.each([
    ['letters, digits and . _ : -', 'req-1.2_3:ABC'],
    ['a single character', 'x'],
    ['128 characters', 'a'.repeat(128)],
  ])('echoes a well-formed incoming id (%s)', async (_label, id) => {
    const ok = await t.request({ method: 'GET', url: '/health', headers: { 'x-request-id': id } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['x-request-id']).toBe(id);

    const missing = await t.request({ method: 'GET', url: '/no/such/route', headers: { 'x-request-id': id } });
    expect(missing.headers['x-request-id']).toBe(id);
    expect(json(missing).request_id).toBe(id);
  });

  it.each([
    ['130 characters', 'a'.repeat(130)],
    ['129 characters', 'b'.repeat(129)],
    ['a space', 'has space'],
    ['a double quote', 'quote"d'],
    ['a single quote', "it's"],
    ['a slash', 'a/b'],
  ])('replaces a malformed incoming id (%s) with a new one', async (_label, id) => {
    const response = await t.request({ method: 'GET', url: '/no/such/route', headers: { 'x-request-id': id } });
    const given = response.headers['x-request-id'] as string;
    expect(given).toBeTruthy();
    expect(given).not.toBe(id);
    expect(given).toMatch(WELL_FORMED_ID);
    expect(json(response).request_id).toBe(given);
  });
});

describe('errors are application/problem+json', () => {
  it('answers an unknown route with 404 not_found', async () => {
    for (const [method, url] of [
      ['GET', '/v1/does-not-exist'],
      ['POST', '/v1/does-not-exist'],
      ['DELETE', '/v1/auth/me/extra'],
      ['GET', '/v2/auth/me'],
    ] as const) {
      const response = await t.request({ method, url });
      const body = expectProblem(response, 404, 'not_found');
      expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'request_id', 'status', 'title', 'type']);
    }
  });

  it('answers malformed JSON with 400 invalid_json', async () => {
    for (const payload of ['{"username": "a", "password": ', '{oops}', "{'single': 'quotes'}", '{"a":1}}', 'nul']) {
      const response = await t.request({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'application/json' }, payload });
      expectProblem(response, 400, 'invalid_json');
    }
  });

  it('answers invalid UTF-8 inside a JSON string with 400 invalid_json', async () => {
    const before = await t.count('users');
    const payload = Buffer.concat([
      Buffer.from(`{"username":"${uniqueUsername('utf')}`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","password":"a long enough password"}'),
    ]);
    for (const url of ['/v1/auth/register', '/v1/auth/login']) {
      const response = await t.request({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
      expectProblem(response, 400, 'invalid_json');
    }
    expect(await t.count('users')).toBe(before);
  });

  it('refuses a __proto__ key with 400', async () => {
    const before = await t.count('users');
    for (const payload of [
      `{"username":"${uniqueUsername('proto')}","password":"a long enough password","__proto__":{"role":"admin"}}`,
      '{"__proto__": {"isAdmin": true}}',
      `{"username":"${uniqueUsername('ctor')}","password":"a long enough password","constructor":{"prototype":{"role":"admin"}}}`,
    ]) {
      const response = await t.request({ method: 'POST', url: '/v1/auth/register', headers: { 'content-type': 'application/json' }, payload });
      expectProblem(response, 400);
    }
    expect(await t.count('users')).toBe(before);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('answers a body that is not JSON or a form with 415', async () => {
    for (const [type, payload] of [
      ['text/plain', 'username=a&password=b'],
      ['application/xml', '<login/>'],
      ['multipart/form-data; boundary=x', '--x--'],
    ]) {
      const response = await t.request({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': type }, payload });
      expectProblem(response, 415, 'unsupported_media_type');
    }
  });

  describe('BODY_LIMIT', () => {
    let small: TestApp;
    beforeAll(async () => {
      small = await createTestApp({ BODY_LIMIT: '1kb' });
    });
    afterAll(async () => {
      await small.close();
    });

    it('answers a body over the limit with 413 payload_too_large and stores nothing', async () => {
      const response = await small.request({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { username: uniqueUsername('big'), password: 'p'.repeat(2000) },
      });
      expectProblem(response, 413, 'payload_too_large');
      expect(await small.count('users')).toBe(0);
    });

    it('still accepts a body under the limit', async () => {
      const response = await small.request({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { username: uniqueUsername('ok'), password: 'p'.repeat(200) },
      });
      expect(response.statusCode).toBe(201);
    });
  });
});

describe('health and readiness', () => {
  it('GET /health reports liveness with the package version', async () => {
    const response = await t.request({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(json(response)).toEqual({ status: 'ok', service: 'parley', version: PACKAGE_VERSION });
  });

  it('GET /ready answers 200 when the database answers and migrations are current', async () => {
    const response = await t.request({ method: 'GET', url: '/ready' });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({ status: 'ready', database: 'ok', migrations: 'current' });
  });

  describe('when the database is behind or gone', () => {
    let t2: TestApp;
    beforeAll(async () => {
      t2 = await createTestApp();
    });
    afterAll(async () => {
      // The database was closed by a test; closing it again may throw on some drivers.
      try {
        await t2.close();
      } catch {
        await t2.app.close();
      }
    });

    it('GET /ready answers 503 with migrations pending', async () => {
      expect((await t2.request({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
      await t2.database.sql.exec('DELETE FROM parley_migrations');
      const response = await t2.request({ method: 'GET', url: '/ready' });
      expect(response.statusCode).toBe(503);
      expect(json(response)).toMatchObject({ status: 'unavailable', database: 'ok', migrations: 'pending' });
    });

    it('after the database closes: /ready answers 503 unreachable, requests 503 database_unavailable, and the server lives on', async () => {
      const user = await registerUser(t2);
      await t2.database.close();

      const ready = await t2.request({ method: 'GET', url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(json(ready)).toMatchObject({ status: 'unavailable', database: 'unreachable' });

      const login = await t2.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password } });
      expectProblem(login, 503, 'database_unavailable');

      const register = await t2.request({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { username: uniqueUsername('down'), password: 'a long enough password' },
      });
      expectProblem(register, 503, 'database_unavailable');

      const refresh = await t2.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: user.refreshToken } });
      expectProblem(refresh, 503, 'database_unavailable');

      // Validation still happens before the database is touched.
      expectProblem(await t2.request({ method: 'POST', url: '/v1/auth/login', payload: { password: 5 } }), 422, 'validation_failed');

      const health = await t2.request({ method: 'GET', url: '/health' });
      expect(health.statusCode).toBe(200);
      expect(json(health).status).toBe('ok');
    });
  });
});

describe('OpenAPI and docs', () => {
  it('GET /openapi.json is an OpenAPI 3.1 document with every route', async () => {
    const response = await t.request({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = json(response);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(PACKAGE_VERSION);
    const paths = Object.keys(doc.paths);
    for (const path of ['/v1/auth/register', '/v1/auth/login', '/v1/auth/token', '/v1/auth/refresh', '/v1/auth/logout', '/v1/auth/me', '/health', '/ready']) {
      expect(paths).toContain(path);
    }
  });

  it('documents the register body with the schema that validates it', async () => {
    const doc = json(await t.request({ method: 'GET', url: '/openapi.json' }));
    let schema = doc.paths['/v1/auth/register'].post.requestBody.content['application/json'].schema;
    if (schema.$ref) {
      const name = String(schema.$ref).split('/').pop() as string;
      schema = doc.components.schemas[name];
    }
    expect(schema.additionalProperties).toBe(false);
    // §3: a username, an email or both, and always a password.
    expect(schema.required).toEqual(['password']);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['username', 'email', 'password']));
    expect(schema.properties.password.maxLength).toBe(256);
    expect(schema.properties.password.minLength).toBe(8);
  });

  it('serves interactive docs at /docs', async () => {
    let response = await t.request({ method: 'GET', url: '/docs' });
    for (let hops = 0; hops < 3 && response.statusCode >= 300 && response.statusCode < 400; hops++) {
      const location = new URL(String(response.headers.location), 'http://localhost/docs');
      response = await t.request({ method: 'GET', url: location.pathname + location.search });
    }
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body.toLowerCase()).toContain('<html');

    const slash = await t.request({ method: 'GET', url: '/docs/' });
    expect(slash.statusCode).toBe(200);
    expect(slash.headers['content-type']).toMatch(/^text\/html/);
  });

  it("serves Swagger UI's files with validators, so a browser's second visit is a 304", async () => {
    const first = await t.request({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toMatch(/javascript/);
    expect(Number(first.headers['content-length'])).toBe(first.rawPayload.length);
    expect(first.rawPayload.length).toBeGreaterThan(100_000);
    const etag = String(first.headers.etag);
    const again = await t.request({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
  });

  it('answers a path under /docs that is not part of the docs with the usual 404 problem', async () => {
    const response = await t.request({ method: 'GET', url: '/docs/static/no-such-file.js' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response).code).toBe('not_found');
  });
});

describe('CORS', () => {
  const preflight = (app: TestApp, origin: string) =>
    app.request({
      method: 'OPTIONS',
      url: '/v1/auth/login',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  it('the default app sends no allow-origin to a foreign origin', async () => {
    const get = await t.request({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    const options = await preflight(t, 'https://evil.example');
    expect(options.headers['access-control-allow-origin']).toBeUndefined();
  });

  describe.each(['CORS_ORIGINS', 'ALLOWED_ORIGINS'])('%s', (variable) => {
    let listed: TestApp;
    let any: TestApp;
    beforeAll(async () => {
      listed = await createTestApp({ [variable]: 'https://app.example' });
      any = await createTestApp({ [variable]: '*' });
    });
    afterAll(async () => {
      await listed.close();
      await any.close();
    });

    it('allows a listed origin, preflight included', async () => {
      const options = await preflight(listed, 'https://app.example');
      expect(options.statusCode).toBe(204);
      expect(options.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(String(options.headers['access-control-allow-methods'])).toContain('POST');

      const get = await listed.request({ method: 'GET', url: '/health', headers: { origin: 'https://app.example' } });
      expect(get.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(String(get.headers['access-control-expose-headers']).toLowerCase()).toContain('x-request-id');
    });

    it('does not allow an origin that is not listed', async () => {
      for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example']) {
        const options = await preflight(listed, origin);
        expect(options.headers['access-control-allow-origin'], origin).toBeUndefined();
        const get = await listed.request({ method: 'GET', url: '/health', headers: { origin } });
        expect(get.headers['access-control-allow-origin'], origin).toBeUndefined();
      }
    });

    it('"*" allows any origin', async () => {
      for (const origin of ['https://evil.example', 'https://app.example', 'http://localhost:3000']) {
        const options = await preflight(any, origin);
        expect(options.statusCode).toBe(204);
        expect([origin, '*']).toContain(options.headers['access-control-allow-origin']);
        const get = await any.request({ method: 'GET', url: '/health', headers: { origin } });
        expect([origin, '*']).toContain(get.headers['access-control-allow-origin']);
      }
    });
  });
});

describe('GET /metrics', () => {
  it('is open without METRICS_TOKEN and speaks the Prometheus text format', async () => {
    await t.request({ method: 'GET', url: '/health' });
    await settle();
    const response = await t.request({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toContain('parley_http_requests_total');
    // Present before any deadlock, so that an alert on it has a series to watch.
    expect(response.body).toMatch(/^parley_database_deadlocks_total\{outcome="failed"\} 0$/m);
  });

  describe('with METRICS_TOKEN', () => {
    let guarded: TestApp;
    beforeAll(async () => {
      guarded = await createTestApp({ METRICS_TOKEN: 's3cret-token' });
    });
    afterAll(async () => {
      await guarded.close();
    });

    it('answers 401 without the token or with a wrong one', async () => {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-token' },
        { authorization: 'Bearer s3cret-token-plus' },
        { authorization: 'Bearer s3cret-toke' },
        { authorization: 'Basic czNjcmV0LXRva2Vu' },
        { authorization: 's3cret-token' },
      ]) {
        const response = await guarded.request({ method: 'GET', url: '/metrics', headers });
        expectProblem(response, 401, 'unauthorized');
        expect(response.body).not.toContain('parley_http_requests_total');
      }
    });

    it('answers 200 with the right bearer token', async () => {
      const response = await guarded.request({ method: 'GET', url: '/metrics', headers: bearer('s3cret-token') });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('parley_http_requests_total');
    });
  });
});

describe('logs', () => {
  it('never contain passwords, tokens or the Authorization header, and have one request line per request', async () => {
    const password = 'Sup3r-Secret-Pa55';
    const username = uniqueUsername('logs');
    const start = t.logs.length;
    const ids = { register: 'logs-register-1', login: 'logs-login-1', me: 'logs-me-1', wrong: 'logs-wrong-1', refresh: 'logs-refresh-1', forged: 'logs-forged-1' };

    const register = await t.request({
      method: 'POST',
      url: '/v1/auth/register',
      headers: { 'x-request-id': ids.register },
      payload: { username, password, email: `${username}@example.com` },
    });
    expect(register.statusCode).toBe(201);
    const login = await t.request({ method: 'POST', url: '/v1/auth/login', headers: { 'x-request-id': ids.login }, payload: { username, password } });
    expect(login.statusCode).toBe(200);
    const me = await t.request({ method: 'GET', url: '/v1/auth/me?verbose=1', headers: { 'x-request-id': ids.me, ...bearer(json(login).access_token) } });
    expect(me.statusCode).toBe(200);
    const wrong = await t.request({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'x-request-id': ids.wrong },
      payload: { username, password: `${password}-wrong` },
    });
    expect(wrong.statusCode).toBe(401);
    const refresh = await t.request({
      method: 'POST',
      url: '/v1/auth/refresh',
      headers: { 'x-request-id': ids.refresh },
      payload: { refresh_token: json(login).refresh_token },
    });
    expect(refresh.statusCode).toBe(200);
    const forgedToken = 'forged.token-value.xyz';
    const forged = await t.request({ method: 'GET', url: '/v1/auth/me', headers: { 'x-request-id': ids.forged, ...bearer(forgedToken) } });
    expect(forged.statusCode).toBe(401);
    await settle();

    const lines = t.logs.slice(start);
    const text = lines.join('\n');
    const secrets = [
      password,
      json(register).access_token,
      json(register).refresh_token,
      json(login).access_token,
      json(login).refresh_token,
      json(refresh).access_token,
      json(refresh).refresh_token,
      forgedToken,
      'Bearer',
    ];
    for (const secret of secrets) {
      expect(typeof secret).toBe('string');
      expect(text.includes(secret), `a log line contains ${secret.slice(0, 12)}…`).toBe(false);
    }

    const entries = lines.flatMap((line) => line.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as Record<string, unknown>);
    const expected: Array<[string, string, string, number]> = [
      [ids.register, 'POST', '/v1/auth/register', 201],
      [ids.login, 'POST', '/v1/auth/login', 200],
      [ids.me, 'GET', '/v1/auth/me', 200],
      [ids.wrong, 'POST', '/v1/auth/login', 401],
      [ids.refresh, 'POST', '/v1/auth/refresh', 200],
      [ids.forged, 'GET', '/v1/auth/me', 401],
    ];
    for (const [id, method, path, status] of expected) {
      const requestLines = entries.filter((entry) => entry.msg === 'request' && entry.request_id === id);
      expect(requestLines, id).toHaveLength(1);
      expect(requestLines[0]).toMatchObject({ request_id: id, method, path, status, ms: expect.any(Number) });
    }
    const meLine = entries.find((entry) => entry.msg === 'request' && entry.request_id === ids.me);
    expect(meLine?.user_id).toBe(json(me).id);
  });
});

describe('AUTH_LOCAL=false', () => {
  let external: TestApp;
  beforeAll(async () => {
    external = await createTestApp({ AUTH_LOCAL: 'false' });
  });
  afterAll(async () => {
    await external.close();
  });

  it('turns the account endpoints off (404)', async () => {
    for (const [url, payload] of [
      ['/v1/auth/register', { username: uniqueUsername(), password: 'a long enough password' }],
      ['/v1/auth/login', { username: 'someone', password: 'a long enough password' }],
      ['/v1/auth/token', { grant_type: 'password', username: 'someone', password: 'a long enough password' }],
      ['/v1/auth/refresh', { refresh_token: 'prt_whatever' }],
      ['/v1/auth/logout', {}],
    ] as const) {
      const response = await external.request({ method: 'POST', url, payload });
      expectProblem(response, 404, 'not_found');
    }
    const form = await external.request({
      method: 'POST',
      url: '/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=password&username=someone&password=whatever1',
    });
    expectProblem(form, 404, 'not_found');
    expect(await external.count('users')).toBe(0);
  });

  it('keeps /v1/auth/me, which wants a token', async () => {
    const response = await external.request({ method: 'GET', url: '/v1/auth/me' });
    expectProblem(response, 401, 'unauthorized');
  });

  it('leaves the account routes out of the OpenAPI document', async () => {
    const doc = json(await external.request({ method: 'GET', url: '/openapi.json' }));
    expect(Object.keys(doc.paths)).toContain('/v1/auth/me');
    expect(Object.keys(doc.paths)).not.toContain('/v1/auth/register');
  });
});
