// Bodies the server cannot read as sent: compressed (`Content-Encoding`) or in another charset
// than UTF-8. Each answers 415, saying what to change, and changes nothing: a client that
// compressed its body learns to stop, where "not valid UTF-8" (400) sent it looking at its text.
import { gzipSync, brotliCompressSync, deflateSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let user: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

const registration = () => JSON.stringify({ username: uniqueUsername('enc'), password: 'a long enough password' });
const register = (payload: Buffer | string, headers: Record<string, string>) =>
  t.request({ method: 'POST', url: '/v1/auth/register', headers: { 'content-type': 'application/json', ...headers }, payload });

function expect415(response: LightMyRequestResponse, mentions: RegExp) {
  expect(response.statusCode, response.body).toBe(415);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(response).code).toBe('unsupported_media_type');
  expect(json(response).detail).toMatch(mentions);
}

describe('a compressed request body', () => {
  it('answers 415 naming the coding, with Accept-Encoding: identity, and creates no account', async () => {
    const before = await t.count('users');
    const body = registration();
    for (const [coding, bytes] of [
      ['gzip', gzipSync(body)],
      ['GZIP', gzipSync(body)],
      ['x-gzip', gzipSync(body)],
      ['br', brotliCompressSync(body)],
      ['deflate', deflateSync(body)],
      ['gzip, identity', gzipSync(body)],
      ['zstd', Buffer.from(body)],
    ] as const) {
      const response = await register(bytes, { 'content-encoding': coding });
      expect415(response, /uncompressed|Content-Encoding/);
      expect(response.headers['accept-encoding'], coding).toBe('identity');
    }
    expect(await t.count('users')).toBe(before);
  });

  it('is read as sent when its coding is identity', async () => {
    expect((await register(registration(), { 'content-encoding': 'identity' })).statusCode).toBe(201);
    expect((await register(registration(), { 'content-encoding': 'Identity' })).statusCode).toBe(201);
  });

  it('answers 415 on a message, a form and the OpenAI endpoint, and stores nothing', async () => {
    const conversation = await createConversation(t, user);
    const messagesBefore = await t.count('messages');
    const message = await t.request({
      method: 'POST',
      url: `/v1/conversations/${conversation.id}/messages`,
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify({ content: 'Hello there' })),
    });
    expect415(message, /Content-Encoding/);

    const form = await t.request({
      method: 'POST',
      url: '/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
      payload: gzipSync(`username=${user.username}&password=whatever-it-is`),
    });
    expect(form.statusCode, form.body).toBe(415);
    expect(form.headers['accept-encoding']).toBe('identity');

    const bot = await createChatbot(t, user, { name: 'Encoded bot' });
    const key = await createApiKey(t, user, bot.id);
    const completion = await t.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { ...bearer(key.key), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify({ model: bot.slug, messages: [{ role: 'user', content: 'Hi' }] })),
    });
    expect(completion.statusCode, completion.body).toBe(415);
    expect(json(completion).error.message).toMatch(/Content-Encoding/);
    expect(await t.count('messages')).toBe(messagesBefore);
  });
});

describe('a body in another charset than UTF-8', () => {
  it('answers 415 naming the charset, and creates no account', async () => {
    const before = await t.count('users');
    const body = registration();
    for (const [charset, bytes] of [
      ['utf-16', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')])],
      ['UTF-16LE', Buffer.from(body, 'utf16le')],
      ['"utf-16"', Buffer.from(body, 'utf16le')],
      ['utf-32', Buffer.from(body, 'utf16le')],
      ['iso-8859-1', Buffer.from(body, 'latin1')],
      ['windows-1252', Buffer.from(body, 'latin1')],
    ] as const) {
      const response = await register(bytes, { 'content-type': `application/json; charset=${charset}` });
      expect415(response, /UTF-8/);
      expect(json(response).detail, charset).toContain(charset.replace(/"/g, '').toLowerCase());
    }
    expect(await t.count('users')).toBe(before);
  });

  it('is read when it says UTF-8 (any spelling) or US-ASCII', async () => {
    for (const charset of ['utf-8', 'UTF-8', '"utf-8"', 'utf8', 'us-ascii']) {
      const response = await register(registration(), { 'content-type': `application/json;charset=${charset}` });
      expect(response.statusCode, `${charset}: ${response.body}`).toBe(201);
    }
    const form = await t.request({
      method: 'POST',
      url: '/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      payload: `username=${user.username}&password=${encodeURIComponent(user.password)}`,
    });
    expect(form.statusCode, form.body).toBe(200);
  });
});
