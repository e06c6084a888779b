import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { createConversation, parseSse } from '../helpers/chat.js';

// The OpenAPI document describes what the server does (§2): the streamed answers of chat
// turns (§6.1), and chatbot fields that are stored but not in effect yet (§5, §7).

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

let t: TestApp;
let doc: Record<string, any>;
let user: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  doc = json(await t.request({ method: 'GET', url: '/openapi.json' }));
  user = await registerUser(t);
});
afterAll(async () => {
  await t.close();
});

/** Follows a local $ref, should the generator have moved a schema to components. */
function resolve(schema: any): any {
  if (schema?.$ref) return resolve(doc.components.schemas[String(schema.$ref).split('/').pop()!]);
  return schema;
}

const STREAMED = [
  ['/v1/conversations/{id}/messages', ['user_message', 'reply']],
  ['/v1/conversations/{id}/regenerate', ['reply']],
  ['/v1/chat', ['conversation_id', 'user_message', 'reply']],
] as const;

/** The documented `data` schema of each event, by event name. */
function eventSchemas(path: string): Record<string, any> {
  const answer = doc.paths[path].post.responses['200'];
  expect(Object.keys(answer.content)).toEqual(['text/event-stream']);
  const stream = resolve(answer.content['text/event-stream'].schema);
  const frames = (stream.anyOf ?? stream.oneOf) as any[];
  expect(Array.isArray(frames), JSON.stringify(stream).slice(0, 200)).toBe(true);
  return Object.fromEntries(
    frames.map((frame) => {
      const resolved = resolve(frame);
      const name = resolved.properties.event;
      // A TypeBox literal is a `const`; the generator may write it as a one-value `enum`.
      return [name.const ?? name.enum?.[0], resolve(resolved.properties.data)];
    }),
  );
}

describe('streamed chat turns in /openapi.json', () => {
  it.each(STREAMED)('%s documents the 200 text/event-stream answer and its four events', (path) => {
    const events = eventSchemas(path);
    expect(Object.keys(events).sort()).toEqual(['error', 'message.delta', 'message.end', 'message.start']);

    const start = events['message.start'];
    expect(start.required).toEqual(expect.arrayContaining(['conversation_id', 'user_message', 'reply_id']));
    const delta = events['message.delta'];
    expect(delta.required).toEqual(expect.arrayContaining(['reply_id', 'delta']));
    expect(delta.properties.delta.type).toBe('string');
    const end = events['message.end'];
    expect(end.required).toEqual(['reply']);
    expect(resolve(end.properties.reply).required).toEqual(expect.arrayContaining(['id', 'role', 'content', 'status', 'created_at']));
    const error = events.error;
    expect(error.required).toEqual(expect.arrayContaining(['code', 'message']));
  });

  it.each(STREAMED)('%s still documents its 201 JSON answer', (path, fields) => {
    const answer = doc.paths[path].post.responses['201'];
    expect(Object.keys(answer.content)).toEqual(['application/json']);
    expect(resolve(answer.content['application/json'].schema).required).toEqual(expect.arrayContaining([...fields]));
  });

  it('describes the events a real stream sends, and the JSON answer a real call gets', async () => {
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    const events = eventSchemas('/v1/chat');
    const validators = Object.fromEntries(Object.entries(events).map(([name, schema]) => [name, ajv.compile(schema)]));

    const conversation = await createConversation(t, user);
    const turns = [
      { url: `/v1/conversations/${conversation.id}/messages`, payload: { content: 'What is on the menu?', stream: true } },
      { url: `/v1/conversations/${conversation.id}/regenerate`, payload: { stream: true } },
      { url: '/v1/chat', payload: { message: 'Hello there', stream: true } },
    ];
    for (const turn of turns) {
      const response = await t.request({ method: 'POST', url: turn.url, headers: bearer(user.accessToken), payload: turn.payload });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
      const received = parseSse(response.body);
      expect(received.map((e) => e.event).at(-1)).toBe('message.end');
      for (const event of received) {
        const validate = validators[event.event];
        expect(validate, `undocumented event ${event.event}`).toBeDefined();
        expect(validate!(event.data), `${turn.url} ${event.event}: ${ajv.errorsText(validate!.errors)}`).toBe(true);
      }
    }

    // The stream's schema sits beside the 201 one: the JSON answer is still serialised whole.
    const whole = await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(user.accessToken), payload: { message: 'Hello again' } });
    expect(whole.statusCode, whole.body).toBe(201);
    expect(whole.headers['content-type']).toMatch(/^application\/json/);
    const body = json(whole);
    expect(ajv.validate(resolve(doc.paths['/v1/chat'].post.responses['201'].content['application/json'].schema), body), ajv.errorsText()).toBe(true);
    expect(body.reply).toMatchObject({ role: 'assistant', status: 'complete', content: expect.any(String) });
    expect(body.user_message).toMatchObject({ role: 'user', content: 'Hello again' });
  });
});

describe('chatbot fields', () => {
  it('are all in effect: none of the request or answer schemas of /v1/chatbots says otherwise, and the public ones say what they do', () => {
    const schemas = {
      'POST body': doc.paths['/v1/chatbots'].post.requestBody.content['application/json'].schema,
      'PATCH body': doc.paths['/v1/chatbots/{id}'].patch.requestBody.content['application/json'].schema,
      'POST 201': doc.paths['/v1/chatbots'].post.responses['201'].content['application/json'].schema,
      'GET 200': doc.paths['/v1/chatbots/{id}'].get.responses['200'].content['application/json'].schema,
    };
    for (const [where, schema] of Object.entries(schemas)) {
      const properties = resolve(schema).properties;
      for (const [field, property] of Object.entries(properties as Record<string, { description?: string }>)) {
        expect(property.description ?? '', `${where} ${field}`).not.toMatch(/not yet|takes effect when/i);
      }
      expect(properties.allowed_origins.description, where).toMatch(/origin_not_allowed/);
      expect(properties.token_budget_monthly.description, where).toMatch(/quota_exceeded/);
    }
  });
});

describe('the document over HTTP', () => {
  it('carries a validator: a client holding the same document is answered 304 without it', async () => {
    const first = await t.request({ method: 'GET', url: '/openapi.json' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{10,}"$/);
    expect(json(first)).toEqual(doc);

    const again = await t.request({ method: 'GET', url: '/openapi.json', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const other = await t.request({ method: 'GET', url: '/openapi.json', headers: { 'if-none-match': '"another"' } });
    expect(other.statusCode).toBe(200);
    expect(json(other)).toEqual(doc);
  });
});
