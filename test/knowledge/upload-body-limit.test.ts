// A knowledge document may hold 500,000 characters, but its upload was held to the server's
// BODY_LIMIT (1 MiB) like every other request: 350,000 characters of Chinese (3 bytes each in
// UTF-8) answered 413, and a client that writes JSON as ASCII (Python's json.dumps, \u escapes of
// 6 bytes a character, 12 for one outside the BMP) was refused past 175,000. The upload route now
// takes a body as large as its largest document written the longest way JSON allows; a longer
// document is still refused by its schema, a larger body with 413, and other routes keep BODY_LIMIT.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENT_BODY_LIMIT, MAX_DOCUMENT_CHARS } from '../../src/features/knowledge/knowledge.schemas.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
let chatbotId: string;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
  chatbotId = (await createChatbot(t, owner, { name: 'Long documents' })).id as string;
});
afterAll(async () => {
  await t?.close();
});

const CHINESE = '营业时间为每天上午九点至下午六点，节假日另行通知。';
const chinese = (chars: number) => CHINESE.repeat(Math.ceil(chars / CHINESE.length)).slice(0, chars);
/** As Python's json.dumps writes by default: every character past ASCII as a \u escape, one per UTF-16 unit. */
const asciiJson = (value: unknown) => JSON.stringify(value).replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);

const upload = (payload: string) =>
  t.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: { ...bearer(owner.accessToken), 'content-type': 'application/json' }, payload });
const documents = async () =>
  json(await t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/knowledge?limit=100`, headers: bearer(owner.accessToken) })).data as Array<{ title: string }>;

describe('a knowledge upload', () => {
  it('takes 499,999 characters of Chinese, 1.5 MB of UTF-8', { timeout: 60_000 }, async () => {
    const body = JSON.stringify({ title: '营业时间', content: chinese(MAX_DOCUMENT_CHARS - 1) });
    expect(Buffer.byteLength(body)).toBeGreaterThan(t.config.bodyLimit);
    const response = await upload(body);
    expect(response.statusCode, response.body.slice(0, 300)).toBe(201);
    expect(json(response).title).toBe('营业时间');
  });

  it('takes 500,000 emoji written as \\u escapes, 12 bytes each: the longest a document can be sent', { timeout: 60_000 }, async () => {
    const body = asciiJson({ title: '😀 Reactions', content: '😀'.repeat(MAX_DOCUMENT_CHARS) });
    expect(Buffer.byteLength(body)).toBeGreaterThan(12 * MAX_DOCUMENT_CHARS);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(DOCUMENT_BODY_LIMIT);
    const response = await upload(body);
    expect(response.statusCode, response.body.slice(0, 300)).toBe(201);
    expect(json(response).title).toBe('😀 Reactions');
  });

  it('refuses 500,001 characters with 422 problem+json, storing nothing', async () => {
    const before = await t.count('knowledge_documents');
    const response = await upload(JSON.stringify({ title: 'One too many', content: chinese(MAX_DOCUMENT_CHARS + 1) }));
    expect(response.statusCode, response.body.slice(0, 300)).toBe(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response)).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(json(response).errors[0].path).toBe('body.content');
    expect(await t.count('knowledge_documents')).toBe(before);
    expect((await documents()).map((doc) => doc.title)).not.toContain('One too many');
  });

  it('refuses a body past its own limit with 413 problem+json, storing nothing', async () => {
    const before = await t.count('knowledge_documents');
    const response = await upload(JSON.stringify({ title: 'Too large', content: 'a'.repeat(DOCUMENT_BODY_LIMIT) }));
    expect(response.statusCode, response.body.slice(0, 300)).toBe(413);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response)).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(await t.count('knowledge_documents')).toBe(before);
  });
});

describe('other routes', () => {
  it('keep BODY_LIMIT: a chatbot change of 1.5 MB answers 413', async () => {
    const response = await t.request({
      method: 'PATCH',
      url: `/v1/chatbots/${chatbotId}`,
      headers: bearer(owner.accessToken),
      payload: { description: chinese(MAX_DOCUMENT_CHARS - 1) },
    });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(413);
    expect(json(response)).toMatchObject({ status: 413, code: 'payload_too_large' });
  });
});

describe('the guides', () => {
  it('give the upload route\'s limit as it is', () => {
    const limit = DOCUMENT_BODY_LIMIT.toLocaleString('en-US');
    for (const guide of ['../../README.md', '../../docs/deploy.md']) expect(readFileSync(new URL(guide, import.meta.url), 'utf8'), guide).toContain(`${limit} bytes`);
  });
});
