import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §10, §12: every documented route, fed what an attacker or a broken client sends — bad ids, bad
// query values, bodies of the wrong shape, wrong types in every field, bytes that are not JSON —
// answers a 4xx problem+json (or, where the input happens to be acceptable, a success), never a 5xx.
// The routes come from /openapi.json, so a new route is covered the day it is added.

interface Operation {
  method: string;
  path: string;
  params: Array<{ in: string; name: string }>;
  body: Record<string, unknown> | null;
  contentTypes: string[];
  /** Every caller must present a credential (the document names bearerAuth and no anonymous way). */
  secured: boolean;
}

/** What one operation's cases run against: a fresh account with one of everything. */
interface World {
  owner: RegisteredUser;
  chatbotId: string;
  conversationId: string;
  messageId: string;
  apiKey: string;
  visitorToken: string;
  visitorConversationId: string;
}

interface Case {
  name: string;
  url: string;
  payload?: string | Buffer;
  contentType?: string;
}

const OPENAI_SHAPED = /^\/v1\/(chat\/completions|models)/;

let t: TestApp;
let operations: Operation[] = [];

const BAD_IDS = ['not-a-uuid', 'A'.repeat(3000), '%00', '%C0%AF', encodeURIComponent('😀'.repeat(40)), '..%2F..%2Fetc%2Fpasswd', '-1', '0x7fffffff', `${randomUUID()}%20`, randomUUID().toUpperCase()];
const BAD_QUERY_VALUES = ['abc', '-1', '0', '1e309', '99999999999999999999', '', 'x'.repeat(5000), '%00', '2026-13-45', encodeURIComponent('😀'), 'true', 'null'];
const DEEP = `${'['.repeat(5000)}${']'.repeat(5000)}`;
const WIDE = JSON.stringify(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])));
const WHOLE_BODIES: Array<[string, string | Buffer]> = [
  ['an array', '[]'],
  ['a number', '42'],
  ['a string', '"hello"'],
  ['null', 'null'],
  ['true', 'true'],
  ['cut-off JSON', '{"a":'],
  ['not JSON', '{oops'],
  ['5,000 nested arrays', DEEP],
  ['5,000 keys', WIDE],
  ['a __proto__ key', '{"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}}}'],
  ['bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ['an empty body', ''],
];
const WRONG_VALUES: Array<[string, unknown]> = [
  ['a number', 42],
  ['a negative number', -1],
  ['a huge number', 1e308],
  ['a float', 0.5],
  ['an empty string', ''],
  ['a 100 kB string', 'x'.repeat(100_000)],
  ['a NUL character', 'a\u0000b'],
  ['astral characters', '😀'.repeat(500)],
  ['a lone surrogate', 'a\ud800b'],
  ['an empty array', []],
  ['an array of numbers', [1, 2, 3]],
  ['an object', { a: { b: { c: 1 } } }],
  ['null', null],
  ['true', true],
];

function resolveSchema(doc: { components?: { schemas?: Record<string, unknown> } }, schema: unknown): Record<string, unknown> | null {
  const s = schema as { $ref?: string } | undefined;
  if (!s) return null;
  if (s.$ref) return (doc.components?.schemas?.[s.$ref.split('/').pop()!] as Record<string, unknown>) ?? null;
  return s as Record<string, unknown>;
}

async function readOperations(): Promise<Operation[]> {
  const doc = json(await t.request({ method: 'GET', url: '/openapi.json' }));
  const found: Operation[] = [];
  for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const content = (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content ?? {};
      const contentTypes = Object.keys(content);
      const body = contentTypes.length > 0 ? resolveSchema(doc, content[contentTypes[0]!]!.schema) : null;
      const security = (op.security as Array<Record<string, unknown>> | undefined) ?? [];
      const secured = security.length > 0 && security.every((requirement) => Object.keys(requirement).length > 0);
      found.push({ method: method.toUpperCase(), path, params: (op.parameters as Operation['params']) ?? [], body, contentTypes, secured });
    }
  }
  return found;
}

async function call(options: InjectOptions): Promise<LightMyRequestResponse> {
  const response = await t.request(options);
  if (response.statusCode >= 300) throw new Error(`${options.method} ${options.url}: ${response.statusCode} ${response.body}`);
  return response;
}

async function makeWorld(): Promise<World> {
  const owner = await registerUser(t);
  const auth = bearer(owner.accessToken);
  const chatbot = json(await call({ method: 'POST', url: '/v1/chatbots', headers: auth, payload: { name: 'Fuzzed', is_public: true } }));
  const conversation = json(await call({ method: 'POST', url: '/v1/conversations', headers: auth, payload: { chatbot_id: chatbot.id } }));
  const sent = json(await call({ method: 'POST', url: `/v1/conversations/${conversation.id}/messages`, headers: auth, payload: { content: 'Hello there' } }));
  const key = json(await call({ method: 'POST', url: `/v1/chatbots/${chatbot.id}/keys`, headers: auth, payload: { name: 'fuzz' } }));
  const visit = json(await call({ method: 'POST', url: `/v1/public/chatbots/${chatbot.id}/conversations`, payload: { visitor_id: `visitor-${randomUUID()}` } }));
  return {
    owner,
    chatbotId: chatbot.id,
    conversationId: conversation.id,
    messageId: sent.reply?.id ?? sent.id,
    apiKey: key.key,
    visitorToken: visit.visitor_token,
    visitorConversationId: visit.conversation_id,
  };
}

/** Whether a route's cases left the world whole (a case may delete, log out or revoke what the next route needs). */
async function intact(world: World): Promise<boolean> {
  const checks: Array<[string, string]> = [
    ['/v1/auth/me', world.owner.accessToken],
    [`/v1/chatbots/${world.chatbotId}`, world.owner.accessToken],
    [`/v1/conversations/${world.conversationId}/messages`, world.owner.accessToken],
    ['/v1/models', world.apiKey],
    [`/v1/public/conversations/${world.visitorConversationId}/messages`, world.visitorToken],
  ];
  for (const [url, token] of checks) {
    const response = await t.request({ method: 'GET', url, headers: bearer(token) });
    if (response.statusCode !== 200) return false;
    if (url.endsWith('/messages') && (json(response).data as unknown[]).length === 0) return false;
  }
  return true;
}

/** The id a path parameter names in this world, so body and query cases get past the lookup. */
function realParam(op: Operation, name: string, world: World): string {
  if (name === 'username') return world.owner.username;
  if (name === 'chatbot') return world.chatbotId;
  if (name !== 'id') return randomUUID();
  if (op.path.startsWith('/v1/chatbots/')) return world.chatbotId;
  if (op.path.startsWith('/v1/public/conversations/')) return world.visitorConversationId;
  if (op.path.startsWith('/v1/messages/')) return world.messageId;
  if (op.path.startsWith('/v1/models/')) return 'builtin';
  return world.conversationId;
}

function urlFor(op: Operation, values: (name: string) => string, query = ''): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => values(name)) + query;
}

function tokenFor(op: Operation, world: World): string {
  if (op.path === '/v1/chat/completions' || op.path.startsWith('/v1/models')) return world.apiKey;
  if (op.path.startsWith('/v1/public/conversations/')) return world.visitorToken;
  return world.owner.accessToken;
}

function validishBody(op: Operation, world: World): Record<string, unknown> {
  // Required fields get a plausible value, so a wrong value in one field is what gets judged.
  const required = (op.body?.required as string[] | undefined) ?? [];
  const properties = (op.body?.properties as Record<string, { type?: string }> | undefined) ?? {};
  const body: Record<string, unknown> = {};
  for (const name of required) {
    const type = properties[name]?.type;
    if (name.endsWith('chatbot_id')) body[name] = world.chatbotId;
    else if (type === 'array') body[name] = [];
    else if (type === 'integer' || type === 'number') body[name] = 1;
    else if (type === 'boolean') body[name] = false;
    else if (type === 'object') body[name] = {};
    else body[name] = 'hello';
  }
  return body;
}

/** The validish body as sent, for routes that take one. */
const validishPayload = (op: Operation, world: World) => (op.body ? JSON.stringify(validishBody(op, world)) : undefined);

function casesFor(op: Operation, world: World): Case[] {
  const real = (name: string) => realParam(op, name, world);
  const cases: Case[] = [];
  const pathParams = op.params.filter((p) => p.in === 'path');
  const body = validishPayload(op, world);
  const contentType = op.body ? 'application/json' : undefined;
  for (const bad of pathParams.length > 0 ? BAD_IDS : []) {
    cases.push({ name: `path ${bad.slice(0, 40)}`, url: urlFor(op, () => bad), payload: body, contentType });
  }
  for (const q of op.params.filter((p) => p.in === 'query')) {
    for (const value of BAD_QUERY_VALUES) cases.push({ name: `?${q.name}=${value.slice(0, 40)}`, url: urlFor(op, real, `?${q.name}=${value}`), payload: body, contentType });
    cases.push({ name: `?${q.name} twice`, url: urlFor(op, real, `?${q.name}=1&${q.name}=2`), payload: body, contentType });
  }
  if (!op.body) return cases;
  const url = urlFor(op, real);
  for (const [name, raw] of WHOLE_BODIES) cases.push({ name: `body: ${name}`, url, payload: raw, contentType: 'application/json' });
  cases.push({ name: 'body as text/plain', url, payload: 'hello', contentType: 'text/plain' });
  const base = validishBody(op, world);
  for (const field of Object.keys((op.body.properties as Record<string, unknown> | undefined) ?? {})) {
    for (const [name, value] of WRONG_VALUES) cases.push({ name: `${field}: ${name}`, url, payload: JSON.stringify({ ...base, [field]: value }), contentType: 'application/json' });
  }
  return cases;
}

async function run(op: Operation, c: Case, world: World): Promise<string | null> {
  const headers: Record<string, string> = { ...bearer(tokenFor(op, world)) };
  if (c.contentType) headers['content-type'] = c.contentType;
  const response = await t.request({ method: op.method as InjectOptions['method'], url: c.url, headers, payload: c.payload });
  const label = `${op.method} ${op.path} ${c.name}: ${response.statusCode} ${response.body.slice(0, 200)}`;
  if (response.statusCode >= 500) return label;
  if (response.statusCode < 400) return null;
  const type = String(response.headers['content-type']);
  // A path the router cannot take (a segment over its length, bytes that are not UTF-8) never
  // reaches a route, and is answered as the whole API answers (problem+json). Past that:
  // the hosted chat page is a page, and a browser shows its 404 as one;
  if (op.path.startsWith('/c/') && /^text\/html/.test(type)) return null;
  // the OpenAI-compatible routes answer in OpenAI's error shape, which its SDKs read (§8).
  if (OPENAI_SHAPED.test(op.path) && /^application\/json/.test(type)) {
    const error = json(response).error as { message?: unknown; code?: unknown } | undefined;
    return typeof error?.message === 'string' && typeof error.code === 'string' ? null : `${label} (not OpenAI's error shape)`;
  }
  if (!/^application\/problem\+json/.test(type)) return `${label} (not problem+json)`;
  const problem = json(response);
  if (problem.status !== response.statusCode || !/^[a-z][a-z0-9_]*$/.test(String(problem.code))) return `${label} (malformed problem)`;
  return null;
}

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '100000/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m', RATE_LIMIT_PUBLIC_IP: '100000/1m', RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m' });
  operations = await readOperations();
});
afterAll(async () => {
  await t?.close();
});

/** Routes anyone may read by a chatbot's slug or id, or a username: another account's answer there is its public page. */
const PUBLIC_BY_NAME = /^\/(c\/|v1\/public\/chatbots\/|v1\/public\/profiles\/)/;

describe('another account\'s ids, on every route that takes one, answer 404 and change nothing', () => {
  it('answers 404 (or a validation error before any lookup) and leaves the other account as it was', { timeout: 600_000 }, async () => {
    const stranger = await makeWorld();
    const leaks: string[] = [];
    let cases = 0;
    // Requests that name the other account's ids change nothing of the caller's: one world serves every route.
    const world = await makeWorld();
    for (const op of operations.filter((o) => o.params.some((p) => p.in === 'path') && !PUBLIC_BY_NAME.test(o.path))) {
      // A model named by the other account's chatbot id: the server's own model names are everyone's.
      const url = urlFor(op, (name) => (op.path.startsWith('/v1/models/') ? stranger.chatbotId : realParam(op, name, stranger)));
      const headers: Record<string, string> = { ...bearer(tokenFor(op, world)) };
      if (op.body) headers['content-type'] = 'application/json';
      const payload = validishPayload(op, world);
      const response = await t.request({ method: op.method as InjectOptions['method'], url, headers, payload });
      cases++;
      // An AI SDK chat id is the client's name for its chat, kept per caller: another's is "nothing running here" (§8).
      const allowed = op.path === '/v1/ai-sdk/chat/{id}/stream' ? [204] : [400, 404, 422];
      if (!allowed.includes(response.statusCode)) leaks.push(`${op.method} ${op.path}: ${response.statusCode} ${response.body.slice(0, 200)}`);
    }
    expect(cases).toBeGreaterThan(25);
    expect(leaks).toEqual([]);
    const auth = bearer(stranger.owner.accessToken);
    expect((await t.request({ method: 'GET', url: `/v1/chatbots/${stranger.chatbotId}`, headers: auth })).statusCode).toBe(200);
    const messages = json(await t.request({ method: 'GET', url: `/v1/conversations/${stranger.conversationId}/messages`, headers: auth }));
    expect(messages.data.map((m: { role: string }) => m.role)).toEqual(expect.arrayContaining(['user', 'assistant']));
    expect((await t.request({ method: 'GET', url: '/v1/auth/me', headers: auth })).statusCode).toBe(200);
  });
});

/** Credentials a route must refuse: none, malformed, unsigned, forged, expired, of the wrong kind. */
async function badCredentials(world: World): Promise<Array<[string, Record<string, string>]>> {
  const claims = JSON.parse(Buffer.from(world.owner.accessToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  const sign = (payload: Record<string, unknown>, secret: string) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
  const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, exp: now + 600 })).toString('base64url')}.`;
  const key = world.apiKey;
  return [
    ['no Authorization header', {}],
    ['"Bearer" alone', { authorization: 'Bearer' }],
    ['Basic credentials', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['not a token', { authorization: 'Bearer not.a.jwt' }],
    ['an unsigned token (alg none)', { authorization: `Bearer ${unsigned}` }],
    ['a token signed with another secret', bearer(await sign({ ...claims, exp: now + 600 }, 'another-secret-another-secret-another-secret-42'))],
    ['an expired token', bearer(await sign({ ...claims, iat: now - 7200, exp: now - 3600 }, t.config.jwtSecret))],
    ['a refresh-typed token', bearer(await sign({ ...claims, typ: 'refresh', exp: now + 600 }, t.config.jwtSecret))],
    ['the refresh token itself', bearer(world.owner.refreshToken)],
    ['an API key with a broken checksum', bearer(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)],
    ['10 kB of token', bearer('x'.repeat(10_000))],
  ];
}

describe('every route that needs a credential refuses bad ones with 401', () => {
  it('answers 401 (admin routes: 404) to each bad credential on each secured route, with the route\'s own ids', { timeout: 600_000 }, async () => {
    const world = await makeWorld();
    const credentials = await badCredentials(world);
    const accepted: string[] = [];
    let cases = 0;
    for (const op of operations.filter((o) => o.secured)) {
      const url = urlFor(op, (name) => realParam(op, name, world));
      // Admin routes are invisible to everyone but admins, a caller with a refused token included (docs/decisions.md).
      const refusal = op.path.startsWith('/v1/admin/') ? 404 : 401;
      const payload = validishPayload(op, world);
      for (const [name, headers] of credentials) {
        const response = await t.request({ method: op.method as InjectOptions['method'], url, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) }, payload });
        cases++;
        if (response.statusCode !== refusal) accepted.push(`${op.method} ${op.path} with ${name}: ${response.statusCode} ${response.body.slice(0, 160)}`);
      }
    }
    expect(cases).toBeGreaterThan(400);
    expect(accepted).toEqual([]);
    // The world's own credentials still work: nothing above logged it out.
    expect((await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(world.owner.accessToken) })).statusCode).toBe(200);
  });
});

describe('every documented route refuses bad input with a 4xx problem+json, never a 5xx', () => {
  it('finds the routes in /openapi.json', () => {
    expect(operations.length).toBeGreaterThan(50);
    expect(operations.filter((op) => op.body).length).toBeGreaterThan(20);
  });

  it('answers every case of every route without a 5xx', { timeout: 600_000 }, async () => {
    const failures: string[] = [];
    let cases = 0;
    let world = await makeWorld();
    for (const op of operations) {
      // A case that deleted or logged out something spoils nothing for the next route: it gets a new world.
      if (!(await intact(world))) world = await makeWorld();
      for (const c of casesFor(op, world)) {
        cases++;
        const failure = await run(op, c, world);
        if (failure) failures.push(failure);
      }
    }
    expect(cases).toBeGreaterThan(1000);
    expect(failures).toEqual([]);
    // Still serving.
    expect((await t.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });
});
