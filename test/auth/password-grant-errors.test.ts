// OAuth2 clients read a refused token request by its `error` member (RFC 6749 §5.2): oauthlib
// raises InvalidGrantError for `invalid_grant`, and without the member reports "Missing access
// token parameter" for a mistyped password. Parley's refresh refusals carry it; a refused password
// grant must too, the same for an unknown user as for a wrong password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const form = (fields: Record<string, string>) =>
  t.request({ method: 'POST', url: '/v1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() });
const withoutRequestId = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });

describe('a refused password grant on /v1/auth/token', () => {
  it('answers with the OAuth2 error invalid_grant, alike for a wrong password and an unknown user', async () => {
    const user = await registerUser(t);
    const wrong = await form({ grant_type: 'password', username: user.username, password: 'not the password', client_id: 'mobile' });
    const unknown = await form({ grant_type: 'password', username: 'nobody_signed_up_here', password: 'not the password', client_id: 'mobile' });
    for (const answer of [wrong, unknown]) {
      expect(answer.statusCode, answer.body).toBe(401);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(json(answer)).toMatchObject({ code: 'invalid_credentials', error: 'invalid_grant' });
    }
    expect(withoutRequestId(json(wrong))).toEqual(withoutRequestId(json(unknown)));
  });

  it('answers a refused refresh grant with invalid_grant too, as before', async () => {
    const answer = await form({ grant_type: 'refresh_token', refresh_token: `prt_${'A'.repeat(43)}` });
    expect(answer.statusCode).toBe(401);
    expect(json(answer)).toMatchObject({ error: 'invalid_grant' });
  });
});
