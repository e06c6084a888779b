// An external user is their issuer's user id exactly as the issuer sends it: ids that differ only
// in surrounding spaces are two people at the issuer, and must be two users here.
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

const SECRET = randomBytes(32).toString('hex');
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET });
});
afterAll(async () => {
  await t.close();
});

const sign = (payload: JWTPayload) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
const me = async (payload: JWTPayload) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign(payload)) });

describe('an external user id with spaces around it', () => {
  it('is another user than the id without them', async () => {
    const id = `ext_${randomBytes(5).toString('hex')}`;
    const ids = new Set<string>();
    for (const variant of [id, ` ${id}`, `${id} `, `\t${id}\n`]) {
      const answer = await me({ sub: variant, username: 'spaced' });
      expect(answer.statusCode, answer.body).toBe(200);
      ids.add(json(answer).id);
    }
    expect(ids.size).toBe(4);
    const stored = await t.database.sql.query<{ external_id: string }>("SELECT external_id FROM users WHERE issuer = 'external' AND external_id LIKE $1", [`%${id}%`]);
    expect(stored.map((row) => row.external_id).sort()).toEqual([id, ` ${id}`, `${id} `, `\t${id}\n`].sort());
  });

  it('that is only spaces is no id: the next claim is read', async () => {
    const id = `ext_${randomBytes(5).toString('hex')}`;
    const answer = await me({ user_id: '   ', sub: id, username: 'blank' });
    expect(answer.statusCode, answer.body).toBe(200);
    const stored = await t.database.sql.query<{ external_id: string }>("SELECT external_id FROM users WHERE id = $1", [json(answer).id]);
    expect(stored[0]!.external_id).toBe(id);
  });
});
