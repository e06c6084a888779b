import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { createChatbot } from '../helpers/chat.js';

// §2 (a 500 can be debugged from its request_id), §10 (no secrets or bodies in logs).
// The database is damaged behind the app's back (a hand edit, a bad migration), which is
// how a real 500 happens: nothing in the product is rigged to fail.

let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  // Its own app and database: the schema is broken on purpose.
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t.close();
});

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Sends a request and returns its answer with the log lines written for it. */
async function failing(options: { method: 'POST' | 'PATCH'; url: string; requestId: string; payload: Record<string, unknown> }) {
  const start = t.logs.length;
  const response = await t.request({
    method: options.method,
    url: options.url,
    headers: { 'x-request-id': options.requestId, ...bearer(owner.accessToken) },
    payload: options.payload,
  });
  await settle();
  const text = t.logs.slice(start).join('');
  const entries = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, any>);
  return { response, text, mine: entries.filter((entry) => entry.request_id === options.requestId) };
}

function expectNoSecrets(text: string, bodyMarker: string) {
  expect(text).not.toContain(bodyMarker);
  expect(text).not.toContain(owner.accessToken);
  expect(text).not.toContain(owner.accessToken.split('.')[2]!);
  expect(text).not.toContain('Bearer');
}

describe('an unexpected failure (500)', () => {
  it('logs the error with a stack naming our source file on the line carrying the request id', async () => {
    const bot = await createChatbot(t, owner);
    // A value the code relies on is missing from a stored row, so answering throws a TypeError.
    await t.database.sql.exec(`ALTER TABLE chatbots ALTER COLUMN created_at DROP NOT NULL`);
    await t.database.sql.query(`UPDATE chatbots SET created_at = NULL WHERE id = $1`, [bot.id]);

    const requestId = 'unexpected-500-code';
    const bodyMarker = 'BodyMarker-7f3a9c';
    const { response, text, mine } = await failing({
      method: 'PATCH',
      url: `/v1/chatbots/${bot.id}`,
      requestId,
      payload: { description: `private notes ${bodyMarker}` },
    });
    expect(response.statusCode, response.body).toBe(500);
    expect(json(response)).toMatchObject({ code: 'internal_error', request_id: requestId });
    expect(response.body).not.toMatch(/toISOString|chatbots\.schemas/);

    const failure = mine.find((entry) => entry.level === 50);
    expect(failure, text).toBeDefined();
    expect(failure!.error).toMatchObject({ type: 'TypeError', message: expect.stringContaining('toISOString') });
    expect(failure!.error.stack).toMatch(/src\/features\/chatbots\/chatbots\.schemas\.ts:\d+/);
    expect(failure).toMatchObject({ method: 'PATCH', route: '/v1/chatbots/:id' });
    // The request's own line still says it was a 500.
    expect(mine.find((entry) => entry.msg === 'request')).toMatchObject({ status: 500 });
    expectNoSecrets(text, bodyMarker);
  });

  it('logs a database error with its stack but without the failed query or its parameters (the body)', async () => {
    // The insert names a column that is gone: the driver's error quotes the query and its
    // parameters, which hold the request body.
    await t.database.sql.exec('ALTER TABLE conversations RENAME COLUMN context TO context_gone');

    const requestId = 'unexpected-500-database';
    const bodyMarker = 'BodyMarker-51d0e2';
    const { response, text, mine } = await failing({
      method: 'POST',
      url: '/v1/conversations',
      requestId,
      payload: { title: `Title ${bodyMarker}`, context: `private context ${bodyMarker}` },
    });
    // A fault of ours, not of the caller (400) nor an outage (503).
    expect(response.statusCode, response.body).toBe(500);
    expect(json(response)).toMatchObject({ code: 'internal_error', request_id: requestId });

    const failure = mine.find((entry) => entry.level === 50);
    expect(failure, text).toBeDefined();
    expect(failure!.error.message).toMatch(/column "context" .*does not exist/);
    expect(failure!.error.code).toBe('42703');
    expect(failure!.error.stack).toMatch(/\.(js|ts):\d+:\d+\)?$/m);
    expect(failure).toMatchObject({ method: 'POST', route: '/v1/conversations' });
    expect(text).not.toMatch(/insert into/i);
    expectNoSecrets(text, bodyMarker);
  });
});
