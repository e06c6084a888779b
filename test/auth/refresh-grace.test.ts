// A refresh token presented again within the reuse grace (§12: "answers 200 with the session's
// current tokens") gets the pair its first use got, not a new refresh token: a stolen token
// replayed in the grace joins the victim's line of tokens, where rotation catches the next
// collision, instead of forking a line of its own that nothing ever notices.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { manualClock, registerUser } from '../helpers/factories.js';

const clock = manualClock();
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({}, { clock });
});
afterAll(async () => {
  await t.close();
});

const refresh = (token: string) => t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: token } });

describe('a refresh token replayed within the grace', () => {
  it('joins the victim\'s lineage, so the next collision is caught as reuse and the family revoked', async () => {
    const victim = await registerUser(t);
    // The victim's tab refreshes; a thief holding the same (stolen) token replays it 2 s later.
    const mine = await refresh(victim.refreshToken);
    expect(mine.statusCode).toBe(200);
    clock.advance(2_000);
    const theirs = await refresh(victim.refreshToken);
    expect(theirs.statusCode).toBe(200);
    expect(json(theirs).refresh_token, 'the replay is answered with the session\'s current refresh token').toBe(json(mine).refresh_token);

    // From here on, both go on refreshing, each well after the grace.
    let victimToken = json(mine).refresh_token as string;
    let thiefToken = json(theirs).refresh_token as string;
    const codes: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const who of ['victim', 'thief'] as const) {
        // Each refreshes on their own schedule, well apart (a grace's worth of time or more).
        clock.advance(30_000);
        const answer = await refresh(who === 'victim' ? victimToken : thiefToken);
        if (answer.statusCode !== 200) {
          codes.push(String(json(answer).code));
          continue;
        }
        if (who === 'victim') victimToken = json(answer).refresh_token;
        else thiefToken = json(answer).refresh_token;
      }
    }
    // Rotation exists to catch exactly this: two parties using one family.
    expect(codes, 'refresh answers other than 200 over 3 rounds of victim + thief').toContain('refresh_token_reused');
  });

  it('is not a mint: replaying one token 20 times within the grace does not give 20 independent refresh tokens', async () => {
    const user = await registerUser(t);
    expect((await refresh(user.refreshToken)).statusCode).toBe(200);
    const replays = [];
    for (let i = 0; i < 20; i++) replays.push(await refresh(user.refreshToken));
    expect(replays.map((answer) => answer.statusCode)).toEqual(replays.map(() => 200));
    const issued = new Set(replays.map((answer) => json(answer).refresh_token as string));
    expect(issued.size).toBe(1);
    // Each of them, used once after the grace, is a fresh 200 — 20 live branches of one session.
    clock.advance(60_000);
    let live = 0;
    for (const token of issued) if ((await refresh(token)).statusCode === 200) live++;
    expect(live, 'independent live refresh tokens minted from one replayed token').toBeLessThanOrEqual(1);
  });

  it('answers with the end of the line when the successor was itself refreshed meanwhile', async () => {
    const user = await registerUser(t);
    const second = json(await refresh(user.refreshToken)).refresh_token as string;
    clock.advance(1_000);
    const third = json(await refresh(second)).refresh_token as string;
    clock.advance(1_000);
    // A tab that sent the first token late gets the pair in use now, not one already spent.
    const late = await refresh(user.refreshToken);
    expect(late.statusCode).toBe(200);
    expect(json(late).refresh_token).toBe(third);
    clock.advance(60_000);
    expect((await refresh(third)).statusCode).toBe(200);
  });

  it('keeps the successor in the database only in a form the database alone cannot open', async () => {
    const user = await registerUser(t);
    const next = json(await refresh(user.refreshToken)).refresh_token as string;
    const rows = await t.database.sql.query<{ successor_sealed: string | null }>('SELECT successor_sealed FROM refresh_tokens WHERE successor_sealed IS NOT NULL');
    expect(rows.length).toBeGreaterThan(0);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(next);
    expect(stored).not.toContain(next.slice(4));
    expect(stored).not.toContain(Buffer.from(next).toString('base64url'));
  });
});
