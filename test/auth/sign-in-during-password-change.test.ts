// A password change ends every session made with the old password (PUT /v1/auth/password). A
// sign-in with the old password that is under way as the change lands was let in: its account was
// read before the change, its password checked against the hash read then, and its session made
// after the change had ended the others, so whoever knew the old password (and kept signing in)
// kept a session the change was meant to end. Sign-ins run here without pause beside the change,
// so some of them are always in flight as it lands.
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoped } from '../../src/db/scope.js';
import { createUsersRepo } from '../../src/features/users/users.repo.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, uniqueUsername } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  // Every request reads its session afresh: what is checked is the stored state.
  t = await createTestApp({ AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
});

const login = (username: string, password: string) => t.request({ method: 'POST', url: '/v1/auth/login', payload: { username, password } });
const me = (accessToken: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(accessToken) });

describe('signing in with the old password while it is changed', () => {
  it('leaves no session made with the old password working after the change', { timeout: 60_000 }, async () => {
    const oldPasswordSessions: string[] = [];
    for (let round = 0; round < 4; round++) {
      const user = await registerUser(t);
      let changed = false;
      async function keepSigningIn() {
        while (!changed) {
          const answer = await login(user.username, user.password);
          if (answer.statusCode === 200) oldPasswordSessions.push(json(answer).access_token);
          else expect(json(answer).code).toBe('invalid_credentials');
        }
      }
      const signingIn = [keepSigningIn(), keepSigningIn(), keepSigningIn()];
      // Let the sign-ins get going, so some are under way whenever the change lands.
      while (oldPasswordSessions.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const change = await t.request({
        method: 'PUT',
        url: '/v1/auth/password',
        headers: bearer(user.accessToken),
        payload: { current_password: user.password, new_password: 'a brand new passphrase' },
      });
      expect(change.statusCode, change.body).toBe(204);
      changed = true;
      await Promise.all(signingIn);
      expect((await me(user.accessToken)).statusCode).toBe(200);
      expect((await login(user.username, 'a brand new passphrase')).statusCode).toBe(200);
    }

    let stillWorking = 0;
    for (const accessToken of oldPasswordSessions) if ((await me(accessToken)).statusCode === 200) stillWorking++;
    expect(oldPasswordSessions.length).toBeGreaterThan(0);
    expect(stillWorking, `of ${oldPasswordSessions.length} sessions made with the old password`).toBe(0);
  });
});

// A sign-in replaces an imported (or weaker) hash only over the hash it checked, so that it never
// sets a password changed meanwhile back to the old one. First sign-ins at once (two tabs, a phone
// and a laptop) each try to replace it: none may be refused for having come second.
describe('first sign-ins at once on an imported account', () => {
  it('lets first sign-ins at once on an imported account all in, its hash replaced once', async () => {
    const users = createUsersRepo(createScoped(t.database.app));
    const username = uniqueUsername('imported');
    await users.insertLocal({ username, email: null, passwordHash: bcrypt.hashSync('the legacy secret', 8) }, new Date());

    const answers = await Promise.all(Array.from({ length: 4 }, () => login(username, 'the legacy secret')));
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200, 200]);
    for (const answer of answers) expect((await me(json(answer).access_token)).statusCode).toBe(200);
    const [row] = await t.database.sql.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [json(answers[0]!).user.id]);
    expect(row!.password_hash.startsWith('$argon2id$')).toBe(true);
    expect((await login(username, 'the legacy secret')).statusCode).toBe(200);
  });
});
