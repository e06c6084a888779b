// The doctor reads how long ago each instance's heartbeat came against its own transaction's
// start; a heartbeat whose transaction began a moment later and committed first was read as
// "last heartbeat -0.0 s ago" (seen in CI). An age is never below zero.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { checkInstances } from '../../src/features/doctor/doctor.instances.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

it('a heartbeat stamped a moment after the check began reads 0.0 s ago', async () => {
  await t.database.sql.query(
    "INSERT INTO instances (id, seen_at, gone_after, since) VALUES ($1, now() + interval '50 milliseconds', now() + interval '1 hour', now())",
    [randomUUID()],
  );
  const line = await checkInstances(t.database.sql);
  // Newest first; on PostgreSQL the test app's own heartbeat may be listed after it.
  expect(line.detail).toMatch(/last heartbeat 0\.0 s(, \d+(\.\d)? s)* ago/);
  expect(line.detail).not.toContain('-');
});
