import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../src/config/config.js';

// §12 "Webhooks": the worker's settings, their documented defaults, and values refused at start-up
// with one line naming the variable.

function refusal(env: Env): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('webhook settings', () => {
  it('default to public addresses only, a 15 s timeout and retries over about a day', () => {
    const { webhooks } = loadConfig({});
    expect(webhooks).toEqual({
      allowPrivate: false,
      timeoutMs: 15_000,
      retryScheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000],
      pollMs: 1000,
      leaseMs: 60_000,
      logRetentionMs: 30 * 86_400_000,
      logSweepMs: 60_000,
    });
    const total = webhooks.retryScheduleMs.reduce((sum, wait) => sum + wait, 0);
    expect(total).toBeGreaterThan(12 * 3_600_000);
    expect(total).toBeLessThan(30 * 3_600_000);
  });

  it('read a schedule of durations', () => {
    expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE: '250ms, 2s,1m' }).webhooks.retryScheduleMs).toEqual([250, 2000, 60_000]);
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'true' }).webhooks.allowPrivate).toBe(true);
    expect(loadConfig({ WEBHOOK_LOG_RETENTION: '7d' }).webhooks.logRetentionMs).toBe(7 * 86_400_000);
  });

  it('refuse malformed values, and a lease no longer than the timeout, in one line naming the variable', () => {
    for (const [env, variable] of [
      [{ WEBHOOK_RETRY_SCHEDULE: '5s,soon' }, 'WEBHOOK_RETRY_SCHEDULE'],
      [{ WEBHOOK_RETRY_SCHEDULE: ',' }, 'WEBHOOK_RETRY_SCHEDULE'],
      [{ WEBHOOK_ALLOW_PRIVATE: 'maybe' }, 'WEBHOOK_ALLOW_PRIVATE'],
      [{ WEBHOOK_TIMEOUT_MS: '15s' }, 'WEBHOOK_TIMEOUT_MS'],
      [{ WEBHOOK_POLL_MS: '0' }, 'WEBHOOK_POLL_MS'],
      [{ WEBHOOK_LEASE_MS: '10000' }, 'WEBHOOK_LEASE_MS'],
      [{ WEBHOOK_LOG_RETENTION: '30 days' }, 'WEBHOOK_LOG_RETENTION'],
      [{ WEBHOOK_LOG_RETENTION: '10m' }, 'WEBHOOK_LOG_RETENTION'],
      [{ WEBHOOK_LOG_SWEEP_MS: '1m' }, 'WEBHOOK_LOG_SWEEP_MS'],
    ] as const) {
      const message = refusal(env);
      expect(message, JSON.stringify(env)).toContain(variable);
      expect(message).not.toContain('\n');
    }
    // A lease that could end while its attempt still waits would let a second instance send it too.
    expect(refusal({ WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_LEASE_MS: '20000' })).toMatch(/WEBHOOK_LEASE_MS .* longer than WEBHOOK_TIMEOUT_MS/);
  });

  it('are documented in the README', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const name of ['WEBHOOK_ALLOW_PRIVATE', 'WEBHOOK_TIMEOUT_MS', 'WEBHOOK_RETRY_SCHEDULE', 'WEBHOOK_POLL_MS', 'WEBHOOK_LEASE_MS']) {
      expect(readme).toMatch(new RegExp(`\\| \`${name}\` \\|`));
    }
  });
});
