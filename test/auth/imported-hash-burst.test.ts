// An imported bcrypt hash is checked at sign-in until it is replaced. The check must not run on
// the event loop: a handful of sign-in attempts on imported accounts at once would stop every
// other request of the instance (health checks, streams) for as long as they take.
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoped } from '../../src/db/scope.js';
import { createUsersRepo } from '../../src/features/users/users.repo.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, uniqueUsername } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const login = (username: string, password: string, ip: string) =>
  t.request({ method: 'POST', url: '/v1/auth/login', payload: { username, password }, remoteAddress: ip });

describe('sign-in on accounts with imported bcrypt hashes', () => {
  // Sixteen checks at cost 12, one at a time on two cores (passwords.ts): 11–20 s on a loaded
  // two-core machine, past the default 30 s once in 4 runs with a CPU hog, and 67 s for the file on
  // PGlite beside other files. Under test is what other requests wait, not how long the checks take.
  it('keeps answering other requests while their passwords are checked', { timeout: 150_000 }, async () => {
    const users = createUsersRepo(createScoped(t.database.app));
    // Cost 12, as systems that follow today's advice hash with.
    const hash = bcrypt.hashSync('the legacy secret', 12);
    const names = Array.from({ length: 4 }, () => uniqueUsername('legacy'));
    for (const username of names) await users.insertLocal({ username, email: null, passwordHash: hash }, new Date());

    const user = await registerUser(t);
    const attempts = Array.from({ length: 16 }, (_, i) => login(names[i % 4]!, `wrong guess ${i}`, `10.9.0.${i + 1}`));
    let settled = false;
    const all = Promise.all(attempts).finally(() => (settled = true));
    // A signed-in user's requests, one after another while the attempts run: the slowest.
    let longest = 0;
    while (!settled) {
      const started = Date.now();
      const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(user.accessToken) });
      expect(me.statusCode).toBe(200);
      longest = Math.max(longest, Date.now() - started);
    }
    const answers = await all;
    expect(answers.map((answer) => json(answer).code)).toEqual(Array(16).fill('invalid_credentials'));
    // A freeze, not a slow answer: checked on the event loop, 16 guesses held it 8.4 s in all
    // and this request for most of it; off it, about 0.5 s on a busy two-core machine.
    expect(longest).toBeLessThan(3000);
    // And the right password still signs in.
    expect((await login(names[0]!, 'the legacy secret', '10.9.1.1')).statusCode).toBe(200);
  });

  it('refuses a damaged imported hash as a wrong password', async () => {
    const users = createUsersRepo(createScoped(t.database.app));
    const username = uniqueUsername('legacy');
    await users.insertLocal({ username, email: null, passwordHash: '$2b$10$not.a.whole.bcrypt.hash' }, new Date());
    const answer = await login(username, 'any password at all', '10.9.2.1');
    expect(answer.statusCode).toBe(401);
    expect(json(answer).code).toBe('invalid_credentials');
  });
});
