// The sweep for replies cut short by a stopped instance runs every minute on every instance and
// reads every conversation's hold: on a large database a scan of the whole table (400,000
// conversations, 176 MB: 520–860 ms a sweep, ~577 ms of it LLVM compiling the statement, as its
// cost passes jit_above_cost). Its statement is not compiled.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Scoped } from '../../src/db/scope.js';
import { createScoped } from '../../src/db/scope.js';
import { storeCutTurns } from '../../src/features/chat/cut-turns.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

it("reads the holds with JIT compilation off, in the sweep's own transaction only", async () => {
  const scoped = createScoped(t.database.app);
  const seen: string[] = [];
  // Looks at the transaction the sweep reads in, right before its read.
  const watching: Scoped = {
    user: (userId, fn) => scoped.user(userId, fn),
    system: (scope, fn) =>
      scoped.system(scope, (tx) =>
        fn({
          ...tx,
          sql: {
            ...tx.sql,
            query: async (text: string, params?: unknown[]) => {
              if (/FROM conversations c\s+WHERE c\.busy_reply_id IS NOT NULL/.test(text)) {
                const [row] = await tx.sql.query<{ jit: string }>("SELECT current_setting('jit') AS jit");
                seen.push(row!.jit);
              }
              return tx.sql.query(text, params as never);
            },
          } as typeof tx.sql,
        }),
      ),
  };
  await storeCutTurns(watching, { everyHold: false, countTokens: () => 0 });
  await storeCutTurns(watching, { everyHold: true, countTokens: () => 0 });
  expect(seen).toEqual(['off', 'off']);
  // Other transactions keep the server's setting.
  const [after] = await t.database.app.sql.query<{ jit: string }>("SELECT current_setting('jit') AS jit");
  expect(after!.jit).toBe('on');
});
