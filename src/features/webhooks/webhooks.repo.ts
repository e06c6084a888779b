import { and, asc, desc, eq, exists, gt, inArray, isNotNull, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import type { Scoped } from '../../db/scope.js';
import { chatbots, users, webhookAttempts, webhookDeliveries, type WebhookAttemptRow, type WebhookDeliveryRow } from '../../db/schema.js';
import { ATTEMPTS_SHOWN } from './webhooks.schemas.js';

/** A delivery an instance has claimed: what it needs to send one attempt, and the claim's name. */
export interface ClaimedDelivery {
  id: string;
  /** The chatbot's owner: the account whose share of the instance's deliveries this takes. */
  userId: string;
  chatbotId: string;
  type: string;
  payload: Record<string, unknown>;
  createdAt: Date;
  /** This attempt's number (1 for the first). */
  attempt: number;
  /** Failures since the event was queued or last redelivered: where the retry schedule stands. */
  retryStep: number;
  url: string;
  /** The current secret, then the previous one while a rotation's overlap lasts. */
  secrets: string[];
  token: string;
}

/** How an attempt ended, and what becomes of the delivery. */
export type AttemptResult = {
  statusCode: number | null;
  error: string | null;
  latencyMs: number | null;
} & ({ kind: 'delivered' } | { kind: 'retry'; nextAttemptAt: Date } | { kind: 'failed' } | { kind: 'gone' });

export type DeliveryRecord = WebhookDeliveryRow & { attemptRows: WebhookAttemptRow[] };

export interface ClaimOptions {
  now: Date;
  leaseMs: number;
  limit: number;
  token: string;
  perAccount: number;
  /** Deliveries in flight on this instance, by account. */
  busy: ReadonlyMap<string, number>;
  /** When this instance last claimed one of each account's (any increasing number); an account not named never was, or long ago. */
  served?: ReadonlyMap<string, number>;
}

export interface WebhooksRepo {
  /**
   * Takes up to `limit` due deliveries under a lease (SKIP LOCKED: instances never take the same
   * one), oldest first, but no more of an account's than `perAccount` less what `busy` says it
   * already has in flight here.
   */
  claim(options: ClaimOptions): Promise<ClaimedDelivery[]>;
  /**
   * Records the attempt's outcome; the delivery changes only if the claim still holds. Answers the
   * outcome as recorded: a 410 Gone from a url the owner has changed since is a retry, due now.
   */
  finish(claim: ClaimedDelivery, result: AttemptResult, now: Date): Promise<AttemptResult>;
  /** Whether any account's delivery is still to be made, now or at a later retry. */
  pending(): Promise<boolean>;
  /** Newest first; `after` is the (created_at, id) of the last row seen. */
  list(userId: string, chatbotId: string, limit: number, after: [Date, string] | null): Promise<DeliveryRecord[]>;
  find(userId: string, chatbotId: string, deliveryId: string): Promise<DeliveryRecord | null>;
  /** Makes the delivery due now with a fresh retry schedule; null when no such delivery. */
  redeliver(userId: string, chatbotId: string, deliveryId: string, now: Date): Promise<DeliveryRecord | null>;
  /** Replaces the secret, the old one signing too until `previousUntil`; false when the chatbot has no webhook. */
  rotateSecret(userId: string, chatbotId: string, secret: string, previousUntil: Date): Promise<boolean>;
}

const WEBHOOK_OFF = "the chatbot's webhook is off (its url was removed, or the receiver answered 410 Gone)";
const OWNER_DEACTIVATED = "the chatbot's owner is deactivated: nothing of theirs is sent (redeliver once they are active again)";
const INTERRUPTED = 'no outcome recorded: the instance sending it stopped; retried after its lease';

const due = {
  id: webhookDeliveries.id,
  userId: webhookDeliveries.userId,
  chatbotId: webhookDeliveries.chatbotId,
  type: webhookDeliveries.type,
  payload: webhookDeliveries.payload,
  createdAt: webhookDeliveries.createdAt,
  attempts: webhookDeliveries.attempts,
  retryStep: webhookDeliveries.retryStep,
  url: chatbots.webhookUrl,
  enabled: chatbots.webhookEnabled,
  secret: chatbots.webhookSecret,
  previousSecret: chatbots.webhookPreviousSecret,
  previousUntil: chatbots.webhookPreviousSecretUntil,
  ownerActive: users.isActive,
};

/**
 * The ids of the due deliveries to claim: the accounts with pending deliveries are walked on
 * webhook_deliveries_account_due_idx (migrations/0018) one index step each, every account gives
 * its oldest due ones up to its room (`perAccount` less what `busy` says it has in flight here),
 * and `limit` of those are taken round the accounts: each account's next one by how many it would
 * then have in flight, among equals the account this instance served least lately first, then the
 * oldest. Taken oldest first overall, freed slots went to whichever accounts had the oldest
 * backlog: four accounts whose receivers do not answer held all 16 of an instance's slots wave
 * after wave, and another account's event waited behind them all;
 * with more such accounts than slots, each had none in flight as often as a newcomer, and among
 * equals the oldest came first. The work grows with the accounts that have pending deliveries, not
 * with a backlog's size (ranking every due delivery took 111 ms at 100,000).
 */
function fairDueIds(options: ClaimOptions): SQL {
  const busy = JSON.stringify(Object.fromEntries(options.busy));
  const served = JSON.stringify(Object.fromEntries(options.served ?? []));
  return sql`WITH RECURSIVE accounts(user_id) AS (
      (SELECT w.user_id FROM webhook_deliveries w WHERE w.status = 'pending' ORDER BY w.user_id LIMIT 1)
      UNION ALL
      SELECT (SELECT w.user_id FROM webhook_deliveries w WHERE w.status = 'pending' AND w.user_id > a.user_id ORDER BY w.user_id LIMIT 1)
        FROM accounts a WHERE a.user_id IS NOT NULL)
    SELECT d.id FROM accounts a
     CROSS JOIN LATERAL (SELECT coalesce((${busy}::jsonb ->> a.user_id::text)::int, 0) AS n) busy
     CROSS JOIN LATERAL (SELECT coalesce((${served}::jsonb ->> a.user_id::text)::bigint, 0) AS at) served
     CROSS JOIN LATERAL (
       SELECT w.id, w.next_attempt_at, row_number() OVER (ORDER BY w.next_attempt_at) AS nth FROM webhook_deliveries w
        WHERE w.status = 'pending' AND w.user_id = a.user_id AND w.next_attempt_at <= ${options.now.toISOString()}::timestamptz
        ORDER BY w.next_attempt_at
        LIMIT greatest(0, ${options.perAccount}::int - busy.n)) d
     ORDER BY busy.n + d.nth, served.at, d.next_attempt_at LIMIT ${options.limit}::int`;
}

function selectDue(db: Db, options: ClaimOptions) {
  return db
    .select(due)
    .from(webhookDeliveries)
    .innerJoin(chatbots, eq(chatbots.id, webhookDeliveries.chatbotId))
    .innerJoin(users, eq(users.id, webhookDeliveries.userId))
    .where(
      and(
        inArray(webhookDeliveries.id, sql`(${fairDueIds(options)})`),
        // The ids come from this statement's snapshot; a delivery another instance claimed and
        // committed since is locked anew, and PostgreSQL re-tests only these conditions on its
        // newer version (READ COMMITTED): without them it would be taken a second time.
        eq(webhookDeliveries.status, 'pending'),
        lte(webhookDeliveries.nextAttemptAt, options.now),
      ),
    )
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(options.limit)
    .for('update', { of: webhookDeliveries, skipLocked: true });
}
type DueRow = Awaited<ReturnType<typeof selectDue>>[number];

function secretsOf(row: DueRow, now: Date): string[] {
  const secrets = [row.secret!];
  if (row.previousSecret && row.previousUntil && row.previousUntil > now) secrets.push(row.previousSecret);
  return secrets;
}

/**
 * A delivery is shown with its latest attempts: each try and each redelivery adds one, and
 * nothing bounds how often an owner redelivers, so a log showing them all grew with each.
 */
async function withAttempts(db: Db, rows: WebhookDeliveryRow[]): Promise<DeliveryRecord[]> {
  if (rows.length === 0) return [];
  // Attempts are numbered 1…attempts, so the latest are a range of the primary key each.
  const latest = rows.map((row) => and(eq(webhookAttempts.deliveryId, row.id), gt(webhookAttempts.attempt, row.attempts - ATTEMPTS_SHOWN)));
  const attempts = await db
    .select()
    .from(webhookAttempts)
    .where(or(...latest))
    .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.attempt));
  const byDelivery = new Map<string, WebhookAttemptRow[]>();
  for (const attempt of attempts) {
    const list = byDelivery.get(attempt.deliveryId);
    if (list) list.push(attempt);
    else byDelivery.set(attempt.deliveryId, [attempt]);
  }
  return rows.map((row) => ({ ...row, attemptRows: byDelivery.get(row.id) ?? [] }));
}

/** The leases and attempt rows of a claim, in the claim's transaction. */
async function lease(db: Db, rows: DueRow[], options: { now: Date; leaseMs: number; token: string }): Promise<void> {
  const ids = rows.map((row) => row.id);
  const until = new Date(options.now.getTime() + options.leaseMs);
  // Due again once the lease ends, should this instance stop before it records an outcome.
  await db
    .update(webhookDeliveries)
    .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, leaseToken: options.token, leaseUntil: until, nextAttemptAt: until })
    .where(inArray(webhookDeliveries.id, ids));
  await db
    .update(webhookAttempts)
    .set({ error: INTERRUPTED })
    .where(and(inArray(webhookAttempts.deliveryId, ids), isNull(webhookAttempts.statusCode), isNull(webhookAttempts.error)));
  await db.insert(webhookAttempts).values(rows.map((row) => ({ deliveryId: row.id, attempt: row.attempts + 1, userId: row.userId, startedAt: options.now })));
  // Each try and each redelivery adds an attempt, as often as an owner asks: a delivery keeps the
  // ones its log shows, so the one falling out goes as the next starts (a range of the primary key).
  const beyond = rows.filter((row) => row.attempts + 1 > ATTEMPTS_SHOWN);
  if (beyond.length > 0) {
    await db
      .delete(webhookAttempts)
      .where(or(...beyond.map((row) => and(eq(webhookAttempts.deliveryId, row.id), lte(webhookAttempts.attempt, row.attempts + 1 - ATTEMPTS_SHOWN)))));
  }
}

const OUTCOME = {
  delivered: (now: Date) => ({ status: 'delivered' as const, deliveredAt: now, nextAttemptAt: null }),
  retry: (nextAttemptAt: Date) => ({ nextAttemptAt, retryStep: sql`${webhookDeliveries.retryStep} + 1` }),
  failed: () => ({ status: 'failed' as const, nextAttemptAt: null }),
  /** Still pending, due now, on the same step of the schedule: the receiver that answered is no longer the webhook's. */
  moved: (now: Date) => ({ nextAttemptAt: now }),
};

const MOVED_AWAY = 'the receiver answered 410 Gone, but the webhook_url was changed since: the event goes where it points now';

/**
 * After a 410 Gone: turns the chatbot's webhook off if it still points where the attempt went and
 * the claim still holds (a redelivery since is what the owner asked for). Answers whether the
 * webhook_url was changed since, in which case nothing was turned off.
 */
async function movedAway(db: Db, claim: ClaimedDelivery): Promise<boolean> {
  const held = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, claim.id), eq(webhookDeliveries.leaseToken, claim.token)));
  const off = await db
    .update(chatbots)
    .set({ webhookEnabled: false })
    .where(and(eq(chatbots.id, claim.chatbotId), eq(chatbots.webhookUrl, claim.url), exists(held)))
    .returning({ id: chatbots.id });
  if (off.length > 0) return false;
  const [chatbot] = await db.select({ url: chatbots.webhookUrl }).from(chatbots).where(eq(chatbots.id, claim.chatbotId));
  return chatbot !== undefined && chatbot.url !== claim.url;
}

/**
 * Whether the chatbot's webhook_url is no longer the one the attempt went to. Read under a share
 * lock: a url being written now is waited for, so either its write finds this delivery no longer
 * leased and makes it due, or this reads the new url.
 */
async function urlChanged(db: Db, claim: ClaimedDelivery): Promise<boolean> {
  const [chatbot] = await db.select({ url: chatbots.webhookUrl }).from(chatbots).where(eq(chatbots.id, claim.chatbotId)).for('share');
  return chatbot !== undefined && chatbot.url !== null && chatbot.url !== claim.url;
}

/** The worker's side: every tenant's deliveries, in the `webhooks` scope. */
function workerQueries(scoped: Scoped): Pick<WebhooksRepo, 'claim' | 'finish' | 'pending'> {
  return {
    claim: (options) =>
      scoped.system('webhooks', async ({ db }) => {
        const rows = await selectDue(db, options);
        const live = rows.filter((row) => row.url !== null && row.enabled && row.secret !== null && row.ownerActive);
        const off = rows.filter((row) => !live.includes(row));
        for (const [lastError, stopped] of [
          [OWNER_DEACTIVATED, off.filter((row) => !row.ownerActive)],
          [WEBHOOK_OFF, off.filter((row) => row.ownerActive)],
        ] as const) {
          if (stopped.length === 0) continue;
          await db
            .update(webhookDeliveries)
            .set({ status: 'failed', nextAttemptAt: null, leaseToken: null, leaseUntil: null, lastError })
            .where(inArray(webhookDeliveries.id, stopped.map((row) => row.id)));
        }
        if (live.length > 0) await lease(db, live, options);
        return live.map((row) => ({
          id: row.id,
          userId: row.userId,
          chatbotId: row.chatbotId,
          type: row.type,
          payload: row.payload,
          createdAt: row.createdAt,
          attempt: row.attempts + 1,
          retryStep: row.retryStep,
          url: row.url!,
          secrets: secretsOf(row, options.now),
          token: options.token,
        }));
      }),

    pending: () =>
      scoped.system('webhooks', async ({ sql }) => {
        const [row] = await sql.query<{ pending: boolean }>("SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending') AS pending");
        return row?.pending === true;
      }),

    finish: (claim, result, now) =>
      scoped.system('webhooks', async ({ db }) => {
        const { statusCode, latencyMs } = result;
        // Only the url that answered 410 is turned off: one written since is the owner's new choice,
        // and the event is sent there now rather than failed for good with the old receiver. So
        // with any failure there: the events waiting were made due at the new url when it was
        // written (chatbots.repo.ts), this one was under way and is due now as well.
        const moved = result.kind === 'gone' ? await movedAway(db, claim) : result.kind !== 'delivered' && (await urlChanged(db, claim));
        const recorded: AttemptResult = moved
          ? { kind: 'retry', statusCode, error: result.kind === 'gone' ? MOVED_AWAY : result.error, latencyMs, nextAttemptAt: now }
          : result;
        const { error } = recorded;
        const outcome = moved
          ? OUTCOME.moved(now)
          : result.kind === 'delivered' ? OUTCOME.delivered(now) : result.kind === 'retry' ? OUTCOME.retry(result.nextAttemptAt) : OUTCOME.failed();
        await db
          .update(webhookAttempts)
          .set({ statusCode, error, latencyMs })
          .where(and(eq(webhookAttempts.deliveryId, claim.id), eq(webhookAttempts.attempt, claim.attempt)));
        await db
          .update(webhookDeliveries)
          .set({ ...outcome, lastStatusCode: statusCode, lastError: error, leaseToken: null, leaseUntil: null })
          .where(and(eq(webhookDeliveries.id, claim.id), eq(webhookDeliveries.leaseToken, claim.token)));
        return recorded;
      }),
  };
}

/** The owner's side: one user's deliveries and chatbot. */
function ownerQueries(scoped: Scoped): Omit<WebhooksRepo, 'claim' | 'finish' | 'pending'> {
  return {
    list: (userId, chatbotId, limit, after) =>
      scoped.user(userId, async ({ db }) => {
        const conditions: SQL[] = [eq(webhookDeliveries.userId, userId), eq(webhookDeliveries.chatbotId, chatbotId)];
        if (after) conditions.push(sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) < (${after[0].toISOString()}::timestamptz, ${after[1]}::uuid)`);
        const rows = await db
          .select()
          .from(webhookDeliveries)
          .where(and(...conditions))
          .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
          .limit(limit + 1);
        return withAttempts(db, rows);
      }),

    find: (userId, chatbotId, deliveryId) =>
      scoped.user(userId, async ({ db }) => {
        const rows = await db
          .select()
          .from(webhookDeliveries)
          .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.userId, userId), eq(webhookDeliveries.chatbotId, chatbotId)));
        const [record] = await withAttempts(db, rows);
        return record ?? null;
      }),

    redeliver: (userId, chatbotId, deliveryId, now) =>
      scoped.user(userId, async ({ db }) => {
        // Clearing the lease also drops the outcome of an attempt still running: this one is what was asked for.
        const rows = await db
          .update(webhookDeliveries)
          .set({ status: 'pending', nextAttemptAt: now, retryStep: 0, leaseToken: null, leaseUntil: null })
          .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.userId, userId), eq(webhookDeliveries.chatbotId, chatbotId)))
          .returning();
        const [record] = await withAttempts(db, rows);
        return record ?? null;
      }),

    async rotateSecret(userId, chatbotId, secret, previousUntil) {
      const rows = await scoped.user(userId, ({ db }) =>
        db
          .update(chatbots)
          .set({ webhookPreviousSecret: sql`${chatbots.webhookSecret}`, webhookPreviousSecretUntil: previousUntil, webhookSecret: secret })
          .where(and(eq(chatbots.id, chatbotId), eq(chatbots.userId, userId), isNotNull(chatbots.webhookUrl)))
          .returning({ id: chatbots.id }),
      );
      return rows.length > 0;
    },
  };
}

export function createWebhooksRepo(scoped: Scoped): WebhooksRepo {
  return { ...workerQueries(scoped), ...ownerQueries(scoped) };
}
