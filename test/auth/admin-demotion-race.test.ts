// An admin's change applies only if its author is still an active admin when it is made: two
// admins demoting (or deactivating) each other at once must not both succeed, which would leave
// the server with neither, as an admin demoting themself would (refused: own_account).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const patch = (by: RegisteredUser, target: RegisteredUser, payload: object) =>
  t.request({ method: 'PATCH', url: `/v1/admin/users/${target.id}`, headers: bearer(by.accessToken), payload });

async function twoAdmins(): Promise<[RegisteredUser, RegisteredUser]> {
  const pair = [await registerUser(t), await registerUser(t)] as const;
  for (const admin of pair) await runUsersCommand(['promote', admin.username], t.database.sql);
  return [pair[0], pair[1]];
}

async function stillAdmins(...users: RegisteredUser[]): Promise<number> {
  const rows = await t.database.sql.query<{ n: number | string }>(
    "SELECT count(*) AS n FROM users WHERE id = ANY($1::uuid[]) AND role = 'admin' AND is_active",
    [users.map((user) => user.id)],
  );
  return Number(rows[0]!.n);
}

describe('two admins changing each other at once', () => {
  for (const change of [{ role: 'user' }, { is_active: false }]) {
    it(`leave one of them an admin (${JSON.stringify(change)})`, async () => {
      for (let round = 0; round < 5; round++) {
        const [a, b] = await twoAdmins();
        const answers = await Promise.all([patch(a, b, change), patch(b, a, change)]);
        const codes = answers.map((answer) => answer.statusCode).sort();
        // One change is made; the other's author is no longer an admin, so for them the route is gone.
        expect(codes, answers.map((answer) => answer.body).join('\n')).toEqual([200, 404]);
        expect(json(answers.find((answer) => answer.statusCode === 404)!).code).toBe('not_found');
        expect(await stillAdmins(a, b)).toBe(1);
      }
    });
  }
});
