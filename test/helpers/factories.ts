import { randomBytes } from 'node:crypto';
import type { Clock } from '../../src/lib/clock.js';
import type { TestApp } from './app.js';

export interface RegisteredUser {
  id: string;
  username: string;
  password: string;
  email: string | null;
  accessToken: string;
  refreshToken: string;
}

export const uniqueUsername = (prefix = 'user') => `${prefix}_${randomBytes(5).toString('hex')}`;

/** Registers a new account through the API, as a client would. */
export async function registerUser(
  t: TestApp,
  overrides: { username?: string; password?: string; email?: string | null; ip?: string } = {},
): Promise<RegisteredUser> {
  const username = overrides.username ?? uniqueUsername();
  const password = overrides.password ?? `pw ${randomBytes(8).toString('hex')}`;
  const email = overrides.email === undefined ? null : overrides.email;
  const response = await t.request({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { username, password, ...(email ? { email } : {}) },
    remoteAddress: overrides.ip ?? '127.0.0.1',
  });
  if (response.statusCode !== 201) throw new Error(`register failed: ${response.statusCode} ${response.body}`);
  const body = response.json();
  return { id: body.user.id, username, password, email, accessToken: body.access_token, refreshToken: body.refresh_token };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Reads one counter of the app's Prometheus metrics (0 when absent). */
export async function metricValue(t: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await t.request({ method: 'GET', url: '/metrics' })).body;
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((pair) => line.includes(pair))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A clock that stands still until the test moves it: waiting out a lifetime takes no real time. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
}

export function manualClock(start = new Date()): ManualClock {
  let time = start.getTime();
  return {
    now: () => new Date(time),
    advance(ms) {
      time += ms;
    },
  };
}

