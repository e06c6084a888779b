// ioredis is loaded only where REDIS_URL is set: imported, it holds ~24 MB of a process that never uses it.
import type { Redis as RedisClient } from 'ioredis';
import { limitRedisReplies } from '../lib/redis-replies.js';

export interface WindowState {
  count: number;
  /** Milliseconds until the window ends. */
  resetMs: number;
}

/** Fixed-window counters. The window starts at a key's first hit. */
export interface RateLimitStore {
  /** Resolves once the store can answer (or has given up trying; failures then follow the failure mode). */
  ready(): Promise<void>;
  hit(key: string, windowMs: number): Promise<WindowState>;
  peek(key: string): Promise<WindowState | null>;
  /** Takes back one hit of a window that is still open (never below zero, the window's end unchanged). */
  undo(key: string): Promise<void>;
  close(): Promise<void>;
}

export function createMemoryStore(now: () => number = Date.now): RateLimitStore {
  const windows = new Map<string, { count: number; resetAt: number }>();
  // Expired windows are dropped periodically so keys an attacker invents do not pile up.
  const sweeper = setInterval(() => {
    const time = now();
    for (const [key, window] of windows) if (window.resetAt <= time) windows.delete(key);
  }, 30_000);
  sweeper.unref();

  const live = (key: string) => {
    const window = windows.get(key);
    if (window && window.resetAt > now()) return window;
    windows.delete(key);
    return undefined;
  };

  return {
    async ready() {},
    async hit(key, windowMs) {
      let window = live(key);
      if (!window) {
        window = { count: 0, resetAt: now() + windowMs };
        windows.set(key, window);
      }
      window.count += 1;
      return { count: window.count, resetMs: window.resetAt - now() };
    },
    async peek(key) {
      const window = live(key);
      return window ? { count: window.count, resetMs: window.resetAt - now() } : null;
    },
    async undo(key) {
      const window = live(key);
      if (window && window.count > 0) window.count -= 1;
    },
    async close() {
      clearInterval(sweeper);
      windows.clear();
    },
  };
}

const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

// DECR keeps the key's expiry; a window that already ended is not brought back as a negative count.
const UNDO_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0`;

/** How long Redis is not asked again after a command failed; then one command tries it. */
const REDIS_PAUSE_MS = 1000;

/**
 * A Redis that stopped answering (a partition, a frozen host: no reset comes) made every command
 * wait its full timeout, and a sign-in passes four limits: 4 s each. After a failure, commands
 * fail at once (the failure mode applies) and one command a pause tries Redis again.
 *
 * The pause is timed on the monotonic clock: on the wall clock, a step back during an outage (NTP
 * correcting a host whose partition healed, a VM resumed) kept Redis unasked, and every guarded
 * request refused (closed) or unlimited (open), for as long as the step after Redis was back.
 */
function pausedWhenFailing() {
  /** 0 while Redis answers; after a failure, until when (performance.now()) it is not asked. */
  let pausedUntil = 0;
  let trying = false;
  return async function ask<T>(command: () => Promise<T>): Promise<T> {
    let tries = false;
    if (pausedUntil !== 0) {
      // Failing: the first command after the pause tries Redis; the others meanwhile do not wait on it.
      if (performance.now() < pausedUntil || trying) throw new Error('Redis did not answer a moment ago; not asked again yet');
      trying = tries = true;
    }
    try {
      const answer = await command();
      pausedUntil = 0;
      return answer;
    } catch (error) {
      pausedUntil = performance.now() + REDIS_PAUSE_MS;
      throw error;
    } finally {
      if (tries) trying = false;
    }
  };
}

/**
 * Shared counters for several instances. Commands fail fast when Redis is away (no offline queue).
 * A command whose connection was reset before its answer came is not sent again on the next one:
 * Redis may have run it already, and a count run twice took one of a user's attempts (or of the
 * day's messages) for nothing, an undo run twice gave one too many back. It fails (the failure
 * mode applies to that request), as when Redis is unreachable.
 *
 * After a failover the old primary lives on as a replica: the connection stays up and every count
 * is answered READONLY, for as long as the process runs. That answer reconnects, so the endpoint
 * (a managed Redis's DNS name, a proxy) leads to the new primary.
 */
export async function createRedisStore(url: string, onError: (error: Error) => void): Promise<RateLimitStore> {
  const { Redis } = await import('ioredis');
  const redis: RedisClient = limitRedisReplies(
    new Redis(url, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 1000,
      keyPrefix: 'parley:rl:',
    }),
  );
  redis.on('error', onError);
  const ask = pausedWhenFailing();
  redis.defineCommand('parleyHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  redis.defineCommand('parleyUndo', { numberOfKeys: 1, lua: UNDO_SCRIPT });
  const scripts = redis as unknown as { parleyHit(key: string, windowMs: number): Promise<[number, number]>; parleyUndo(key: string): Promise<number> };
  const hit = scripts.parleyHit.bind(redis);
  const undo = scripts.parleyUndo.bind(redis);

  return {
    async ready() {
      if (redis.status === 'ready') return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          redis.off('ready', done).off('error', done);
          resolve();
        };
        const timer = setTimeout(done, 2000);
        redis.once('ready', done).once('error', done);
      });
    },
    async hit(key, windowMs) {
      const [count, ttl] = await ask(() => hit(key, windowMs));
      return { count: Number(count), resetMs: Number(ttl) };
    },
    async peek(key) {
      const result = await ask(() => redis.multi().get(key).pttl(key).exec());
      const count = Number(result?.[0]?.[1] ?? 0);
      const ttl = Number(result?.[1]?.[1] ?? -2);
      return count > 0 && ttl > 0 ? { count, resetMs: ttl } : null;
    },
    async undo(key) {
      await ask(() => undo(key));
    },
    async close() {
      redis.disconnect();
    },
  };
}
