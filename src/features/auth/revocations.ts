// Sessions and users whose access ended (logout, a reused refresh token, deactivation, a role
// change), told to every part of every instance that remembers them: the session guard's and the
// external issuers' caches, and the replies being generated for them. With REDIS_URL, instances
// hear each other through one pub/sub channel; without it, only this instance hears.
import { randomUUID } from 'node:crypto';
// Loaded only where REDIS_URL is set (see rate-limit/stores.ts).
import type { Redis } from 'ioredis';
import { limitRedisReplies } from '../../lib/redis-replies.js';

/**
 * One session ended, or a user changed (activity, role): everything remembered about them is
 * checked again, and a deactivated user's replies stop.
 */
export type Revocation = { session: string } | { user: string; deactivated: boolean };

/** A revocation, or null: revocations may have been missed, so nothing remembered may be trusted. */
export type RevocationListener = (revocation: Revocation | null) => void;

export interface Revocations {
  /**
   * Whether every revocation, from any instance, reaches this one now. Answers may be remembered
   * only while it holds: a cache that could miss a revocation would outlive it.
   */
  heard(): boolean;
  /** Tells this instance and every other one. Call once the change is committed. */
  announce(revocation: Revocation): Promise<void>;
  listen(listener: RevocationListener): void;
  /**
   * The instance has nothing to do (jobs/quiet.ts): the subscription is no longer asked whether
   * it answers. Woken, nothing is remembered until it has answered again.
   */
  rest(): void;
  wake(): void;
  close(): Promise<void>;
}

interface Log {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const CHANNEL = 'parley:revocations';
const ID = /^[0-9a-f-]{36}$/i;

/** A listener that fails does not keep the others from hearing (nor take a Redis event handler down). */
function listeners(onError: (error: Error) => void = () => {}) {
  const all: RevocationListener[] = [];
  return {
    add: (listener: RevocationListener) => void all.push(listener),
    tell(revocation: Revocation | null) {
      for (const listener of all) {
        try {
          listener(revocation);
        } catch (error) {
          onError(error as Error);
        }
      }
    },
  };
}

/**
 * Without Redis this instance hears only itself, and Parley runs as one instance (its limits are
 * kept per instance too). Several instances share limits and revocations through REDIS_URL; without
 * it, one's logout reaches another's cache only when that entry ends (AUTH_CACHE_MS). Not caching
 * at all on PostgreSQL without Redis cost about 30% of the cheapest authenticated request.
 */
export function createLocalRevocations(): Revocations {
  const local = listeners();
  return {
    heard: () => true,
    async announce(revocation) {
      local.tell(revocation);
    },
    listen: local.add,
    rest: () => {},
    wake: () => {},
    async close() {},
  };
}

interface Envelope {
  /** The announcing instance, which waits for every other one to confirm. */
  from: string;
  id: string;
  revocation: Revocation;
}

function parse(message: string): Envelope | null {
  try {
    const value = JSON.parse(message) as { from?: unknown; id?: unknown; session?: unknown; user?: unknown; deactivated?: unknown };
    if (typeof value.from !== 'string' || !ID.test(value.from) || typeof value.id !== 'string' || !ID.test(value.id)) return null;
    const { from, id } = value;
    if (typeof value.session === 'string' && ID.test(value.session)) return { from, id, revocation: { session: value.session } };
    if (typeof value.user === 'string' && ID.test(value.user)) return { from, id, revocation: { user: value.user, deactivated: value.deactivated === true } };
  } catch {
    // Not one of ours.
  }
  return null;
}

/**
 * Announcements waiting for the other instances to confirm they applied them. Counting starts
 * before the publish: a fast instance's confirmation may arrive before Redis's answer to it.
 */
function confirmations() {
  const counts = new Map<string, { got: number; need: number; done(): void }>();
  const forget = (id: string) => void counts.delete(id);
  return {
    forget,
    expect(id: string) {
      counts.set(id, { got: 0, need: Infinity, done: () => {} });
    },
    confirm(id: string) {
      const entry = counts.get(id);
      if (entry && ++entry.got >= entry.need) entry.done();
    },
    /** Resolves once `need` confirmations of `id` arrived, or after `ms`. */
    async wait(id: string, need: number, ms: number): Promise<void> {
      const entry = counts.get(id);
      if (entry && entry.got < need) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => entry.done(), ms);
          entry.need = need;
          entry.done = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      forget(id);
    },
  };
}

/** How long an announcement waits for the other instances; one that has not confirmed by then still drops its cache within AUTH_CACHE_MS. */
const CONFIRM_WITHIN_MS = 1000;

/** How often the subscription is asked whether it still answers, and how long an answer may take. */
const PING_EVERY_MS = 200;
const ANSWER_WITHIN_MS = 400;

/**
 * A partition closes nothing: a subscription whose link went silent would look up, and its
 * instance would reuse answers a missed logout should have ended. Pinging it, and trusting it only
 * while it answers, bounds that at PING_EVERY_MS + ANSWER_WITHIN_MS — well under CONFIRM_WITHIN_MS,
 * so an announcer that waited for a silent instance answers only once that instance trusts nothing.
 * A late answer needs no resubscribing: the link kept its order, so nothing sent meanwhile was lost.
 */
function heartbeat(subscriber: Redis, log: Log, onSilent: () => void) {
  let waiting = false;
  let silent = false;
  let round = 0;
  let resting = false;
  // Woken from a rest: the link went unasked meanwhile, so it is trusted once it answers again.
  let unverified = false;
  const ping = () => {
    const mine = ++round;
    waiting = true;
    // Judged in the check phase: after a stalled event loop, an answer already received is read first.
    const deadline = setTimeout(() => setImmediate(() => mine === round && waiting && goSilent()), ANSWER_WITHIN_MS).unref();
    subscriber.ping().then(
      () => {
        if (mine !== round) return;
        clearTimeout(deadline);
        waiting = false;
        unverified = false;
        if (!silent) return;
        silent = false;
        log.info({}, 'revocations: Redis subscription back');
      },
      () => {
        clearTimeout(deadline);
        if (mine === round) waiting = false;
      },
    );
  };
  const goSilent = () => {
    if (silent) return;
    silent = true;
    onSilent();
    log.warn({}, 'revocations: Redis subscription silent; sessions are checked on every request until it answers');
  };
  let timer: NodeJS.Timeout | undefined;
  let isUp: () => boolean = () => false;
  return {
    silent: () => silent || unverified,
    start(up: () => boolean) {
      isUp = up;
      timer ??= setInterval(() => !resting && up() && !waiting && ping(), PING_EVERY_MS).unref();
    },
    rest() {
      resting = true;
    },
    wake() {
      if (!resting) return;
      resting = false;
      unverified = true;
      if (isUp() && !waiting) ping();
    },
    /** The connection closed: what was pending on it is void, and `subscription` reports the loss. */
    reset() {
      round++;
      waiting = false;
      silent = false;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Keeps `subscriber` subscribed to `channels` across reconnects; `up()` holds only while it is
 * and its link answers. When it drops or goes silent, `onLost` runs at once: messages may be
 * missed from then on.
 */
function subscription(subscriber: Redis, channels: string[], log: Log, onLost: () => void) {
  let up = false;
  let lost = false;
  const beat = heartbeat(subscriber, log, onLost);
  subscriber.on('close', () => {
    beat.reset();
    if (!up) return;
    up = false;
    lost = true;
    onLost();
    log.warn({}, 'revocations: Redis subscription lost; sessions are checked on every request until it is back');
  });
  // On every (re)connect: subscribe again, and trust the channel only from then on.
  let first: Promise<void> | null = null;
  subscriber.on('ready', () => {
    const done = subscriber.subscribe(...channels).then(
      () => {
        up = subscriber.status === 'ready';
        if (up && lost) log.info({}, 'revocations: Redis subscription back');
        lost &&= !up;
      },
      (error: Error) => log.warn({ err: { message: error.message } }, 'revocations: subscribing failed'),
    );
    first ??= done;
  });
  return {
    up: () => up && !beat.silent(),
    rest: beat.rest,
    wake: beat.wake,
    /** Connects and waits for the first subscription; until it holds, nothing is remembered. */
    async start(onError: (error: Error) => void) {
      beat.start(() => up);
      await subscriber.connect().catch(onError);
      if (first) await first;
      if (up) return;
      lost = true;
      log.warn({}, 'revocations: Redis not reachable; sessions are checked on every request until it is');
    },
    stop() {
      up = false;
      beat.stop();
      subscriber.disconnect();
    },
  };
}

/**
 * After a failover the old primary lives on as a replica, and connections opened before stay on
 * it: a publish there succeeds, and even its own subscribers there hear it, but nothing published
 * on a replica reaches the instances on the new primary. A logout made through such an instance
 * was reused elsewhere for AUTH_CACHE_MS, every time, until it restarted. Asked before each
 * announcement (rare: logouts, password and role changes). A Redis that does not know ROLE (some
 * hosted ones) is taken as it answers: as the primary.
 */
async function onReplica(publisher: Redis): Promise<boolean> {
  try {
    const [role] = (await publisher.role()) as [string, ...unknown[]];
    return role === 'slave';
  } catch (error) {
    if ((error as Error).name === 'ReplyError') return false;
    throw error;
  }
}

/**
 * Pub/sub is fire and forget: a message sent while this instance's subscription is down is lost.
 * So `heard()` holds only while the subscription is up, and listeners drop everything they
 * remember the moment it goes down. Each instance confirms what it applied on the announcer's own
 * channel, and the announcer waits for every subscriber Redis delivered to: a logout answers once
 * no instance would accept its token, so the client's very next request is refused wherever it lands.
 */
export async function createRedisRevocations(url: string, log: Log, settings: { cacheMs: number }): Promise<Revocations> {
  const self = randomUUID();
  const own = `${CHANNEL}:${self}`;
  const pending = confirmations();
  const onError = (error: Error) => log.warn({ err: { message: error.message } }, 'revocations: redis error');
  const local = listeners((error) => log.warn({ err: { message: error.message } }, 'revocations: a listener failed'));
  const options = { connectTimeout: 2000, maxRetriesPerRequest: 1, lazyConnect: true };
  const { Redis } = await import('ioredis');
  // A subscribed connection takes no other command: publishing needs its own. A publish waits for
  // a reconnect at most its timeout, so a short blip does not lose a logout.
  const subscriber = limitRedisReplies(new Redis(url, { ...options, autoResubscribe: false }));
  const publisher = limitRedisReplies(new Redis(url, { ...options, commandTimeout: 1000 }));
  subscriber.on('error', onError);
  publisher.on('error', onError);
  const channel = subscription(subscriber, [CHANNEL, own], log, () => local.tell(null));

  subscriber.on('message', (from: string, message: string) => {
    if (from === own) return pending.confirm(message);
    const envelope = parse(message);
    if (!envelope) return;
    // Our own announcement, applied when it was made: it counts as one of those delivered.
    if (envelope.from === self) return pending.confirm(envelope.id);
    local.tell(envelope.revocation);
    publisher.publish(`${CHANNEL}:${envelope.from}`, envelope.id).catch(onError);
  });
  await Promise.all([channel.start(onError), publisher.connect().catch(onError)]);

  return {
    heard: channel.up,
    async announce(revocation) {
      // The monotonic clock: a wall clock stepped back an hour meanwhile made this logout wait an hour.
      const started = performance.now();
      local.tell(revocation);
      const id = randomUUID();
      pending.expect(id);
      try {
        if (await onReplica(publisher)) {
          // Both connections again, to whatever the address leads to now (the new primary). This
          // announcement is answered as when Redis is away; the next ones reach everyone.
          subscriber.disconnect(true);
          publisher.disconnect(true);
          throw new Error('Redis answered as a replica (after a failover): reconnecting');
        }
        const delivered = await publisher.publish(CHANNEL, JSON.stringify({ from: self, id, ...revocation }));
        await pending.wait(id, delivered, CONFIRM_WITHIN_MS);
      } catch (error) {
        pending.forget(id);
        onError(error as Error);
        // Redis is away from this instance, not necessarily from the others: those that still hear
        // each other keep reusing session checks made before the change (AUTH_CACHE_MS), and nobody
        // told them. The change is answered once every such check has ended, so the next request
        // is refused wherever it lands.
        const left = started + settings.cacheMs - performance.now();
        if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      }
    },
    listen: local.add,
    rest: channel.rest,
    wake: channel.wake,
    async close() {
      channel.stop();
      publisher.disconnect();
    },
  };
}
