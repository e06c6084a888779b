// Spent refresh tokens are kept (reuse detection needs them) only until they expire; a session whose
// every token expired goes with them. Before, nothing was ever deleted: every refresh left a row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { manualClock, registerUser } from '../helpers/factories.js';

const clock = manualClock();
const DAY = 86_400_000;
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({}, { clock });
});
afterAll(async () => {
  await t.close();
});

const refresh = (token: string) => t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: token } });
const rowsOf = async (sessionUserId: string) => {
  const [row] = await t.database.sql.query<{ sessions: number | string; tokens: number | string }>(
    `SELECT (SELECT count(*) FROM sessions WHERE user_id = $1) AS sessions,
            (SELECT count(*) FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE s.user_id = $1) AS tokens`,
    [sessionUserId],
  );
  return { sessions: Number(row!.sessions), tokens: Number(row!.tokens) };
};

describe('sessions and refresh tokens past their lifetime', () => {
  it('are deleted; live ones, and the tokens a live session may still be shown, are kept', async () => {
    // One user signed in 31 days ago and refreshed 5 times then; another is in use.
    const gone = await registerUser(t);
    let token = gone.refreshToken;
    for (let i = 0; i < 5; i++) token = json(await refresh(token)).refresh_token;
    const kept = await registerUser(t);
    clock.advance(20 * DAY);
    let keptToken = json(await refresh(kept.refreshToken)).refresh_token as string;
    clock.advance(11 * DAY);
    keptToken = json(await refresh(keptToken)).refresh_token;
    expect(await rowsOf(gone.id)).toEqual({ sessions: 1, tokens: 6 });
    expect(await rowsOf(kept.id)).toEqual({ sessions: 1, tokens: 3 });

    // Another instance starting now sweeps as it starts.
    const other = await createTestApp({}, { sharedWith: t, clock });
    try {
      const until = Date.now() + 10_000;
      while ((await rowsOf(gone.id)).sessions > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await rowsOf(gone.id)).toEqual({ sessions: 0, tokens: 0 });
      // The first token of the live session expired (issued 31 days ago); the one spent 11 days ago
      // is kept, so a thief's or victim's replay of it is still caught as reuse.
      expect(await rowsOf(kept.id)).toEqual({ sessions: 1, tokens: 2 });
      expect((await refresh(token)).statusCode).toBe(401);
      expect((await refresh(keptToken)).statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });
});
