// Password checks are slow on purpose (argon2id, 19 MiB) and run on libuv's threads. Guesses from
// many addresses at many accounts (or at names that do not exist, which cost a check too) pass
// every per-address and per-account limit, and each took ~50 ms of a core: 33 a second held a
// signed-in user's turn at 337 ms p50 on 2 cores (18 ms before the guesses). The server checks a
// bounded number at once and lets a bounded number wait; more are answered 503 at once, unchecked.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { metricValue, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

it('sign-ins beyond what may wait for a password check are answered 503 at once, and cost no check', async () => {
  const user = await registerUser(t);
  const before = await metricValue(t, 'parley_password_hash_operations_total');
  const answers = await Promise.all(
    Array.from({ length: 400 }, (_, i) =>
      t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: `nobody_${i}`, password: 'a wrong password' }, remoteAddress: `10.7.${i >> 8}.${i & 255}` }),
    ),
  );
  const busy = answers.filter((answer) => answer.statusCode === 503);
  expect(busy.length).toBeGreaterThan(0);
  expect(answers.every((answer) => answer.statusCode === 401 || answer.statusCode === 503)).toBe(true);
  for (const answer of busy) {
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.headers['retry-after']).toBe('1');
    expect(json(answer).code).toBe('sign_in_busy');
  }
  const checks = (await metricValue(t, 'parley_password_hash_operations_total')) - before;
  expect(checks).toBe(answers.length - busy.length);

  // Once they are through, a sign-in is checked as usual.
  const login = await t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password } });
  expect(login.statusCode).toBe(200);
});

it('tells the operator once, not once a refusal', async () => {
  const before = t.logs.filter((line) => line.includes('"sign_in_busy"')).length;
  await Promise.all(
    Array.from({ length: 400 }, (_, i) =>
      t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: `nobody_again_${i}`, password: 'a wrong password' }, remoteAddress: `10.8.${i >> 8}.${i & 255}` }),
    ),
  );
  const told = t.logs.filter((line) => line.includes('"sign_in_busy"')).length - before;
  expect(told).toBeLessThanOrEqual(1);
});
