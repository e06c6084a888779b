// Idempotency-Key (§6, §12): the first answer to a (user, key) is kept for 24 h and
// replayed; the same key with another request is refused, and so is a repeat that
// arrives while the first is still running.
import { createHash } from 'node:crypto';
import type { Scoped } from '../../db/scope.js';
import { AppError, validationError } from '../../errors/app-error.js';
import { isUuid } from '../../lib/ids.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/**
 * A key whose request is still running is held for this long, renewed by that request every
 * CLAIM_RENEW_MS. Its instance killed mid-request (nobody renews), the key is free again after
 * this, and the client's retry runs, rather than being told for a day that the request still runs.
 */
export const CLAIM_LEASE_MS = 30_000;
export const CLAIM_RENEW_MS = 10_000;
const KEY = /^[\x21-\x7e]{1,255}$/;

export type Claim =
  | { state: 'new' }
  | { state: 'replay'; status: number; body: unknown };

export interface Idempotency {
  /** Claims the key for this request, or answers with the stored response. Throws 409/422 otherwise. */
  claim(userId: string, key: string, fingerprint: string): Promise<Claim>;
  /** Keeps a claimed key held while its request runs (see CLAIM_LEASE_MS). */
  renew(userId: string, key: string): Promise<void>;
  complete(userId: string, key: string, status: number, body: unknown): Promise<void>;
  /** Frees the key when the request changed nothing (refused before it started). */
  abandon(userId: string, key: string): Promise<void>;
  sweep(): Promise<number>;
}

export function idempotencyKeyOf(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !KEY.test(value)) {
    throw validationError('idempotency-key', 'must be 1–255 visible ASCII characters', { detail: 'Idempotency-Key must be 1–255 visible ASCII characters', part: 'headers' });
  }
  return value;
}

/** Text written as it stands, between the values canonicalJson still has to write. */
class Raw {
  constructor(readonly text: string) {}
}

/**
 * JSON with object keys sorted, so the order a client wrote them in does not matter. Written with
 * a stack of its own rather than by recursion: a body may nest as deep as its size allows, and
 * JSON.parse takes any depth.
 */
export function canonicalJson(root: unknown): string {
  const out: string[] = [];
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value instanceof Raw) {
      out.push(value.text);
    } else if (Array.isArray(value)) {
      out.push('[');
      pending.push(new Raw(']'));
      for (let i = value.length - 1; i >= 0; i--) {
        // An array's undefined is written as null, as JSON.stringify does.
        pending.push(value[i] === undefined ? null : value[i]);
        if (i > 0) pending.push(new Raw(','));
      }
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>).filter(([, field]) => field !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      out.push('{');
      pending.push(new Raw('}'));
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, field] = entries[i]!;
        pending.push(field, new Raw(`${i > 0 ? ',' : ''}${JSON.stringify(key)}:`));
      }
    } else {
      out.push(JSON.stringify(value ?? null));
    }
  }
  return out.join('');
}

/**
 * What makes two requests "the same": method, route, path parameters and body, as parsed. A UUID
 * names the same resource in either case, and the body's key order carries no meaning, so
 * neither makes a retry "another request".
 */
export function fingerprint(method: string, route: string, params: Record<string, string>, body: unknown): string {
  const named = Object.fromEntries(Object.entries(params).map(([name, value]) => [name, isUuid(value) ? value.toLowerCase() : value]));
  return createHash('sha256').update(`${method} ${route}\n${canonicalJson(named)}\n${canonicalJson(body)}`).digest('base64url');
}

type Stored = { fingerprint: string; response_status: number | null; response_body: unknown };

export function createIdempotency(scoped: Scoped): Idempotency {
  return {
    async claim(userId, key, print) {
      const row = await scoped.user(userId, async ({ sql }) => {
        const claimed = await sql.query<{ key: string }>(
          `INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at, expires_at)
           VALUES ($1, $2, $3, now(), now() + $4::int * interval '1 millisecond')
           ON CONFLICT (user_id, key) DO UPDATE
              SET fingerprint = EXCLUDED.fingerprint, response_status = NULL, response_body = NULL,
                  created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
            WHERE idempotency_keys.expires_at < now()
           RETURNING key`,
          [userId, key, print, CLAIM_LEASE_MS],
        );
        if (claimed.length > 0) return 'new' as const;
        const [stored] = await sql.query<Stored>('SELECT fingerprint, response_status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2', [
          userId,
          key,
        ]);
        return stored;
      });
      if (row === 'new') return { state: 'new' };
      // Removed between the two statements (expired and swept): claim again.
      if (!row) return this.claim(userId, key, print);
      if (row.fingerprint !== print) {
        throw new AppError('idempotency_key_reused', 'This Idempotency-Key was used for a different request; use a new key');
      }
      if (row.response_status === null) {
        throw new AppError('idempotency_key_in_use', 'A request with this Idempotency-Key is still running; retry when it has finished');
      }
      const body = typeof row.response_body === 'string' ? JSON.parse(row.response_body) : row.response_body;
      return { state: 'replay', status: row.response_status, body };
    },
    async renew(userId, key) {
      await scoped.user(userId, ({ sql }) =>
        sql.query(
          `UPDATE idempotency_keys SET expires_at = now() + $3::int * interval '1 millisecond'
            WHERE user_id = $1 AND key = $2 AND response_status IS NULL`,
          [userId, key, CLAIM_LEASE_MS],
        ),
      );
    },
    async complete(userId, key, status, body) {
      // The answer is kept for the whole TTL from the first request.
      await scoped.user(userId, ({ sql }) =>
        sql.query(
          `UPDATE idempotency_keys SET response_status = $3, response_body = $4::jsonb, expires_at = created_at + $5::int * interval '1 millisecond'
            WHERE user_id = $1 AND key = $2`,
          [userId, key, status, JSON.stringify(body), IDEMPOTENCY_TTL_MS],
        ),
      );
    },
    async abandon(userId, key) {
      await scoped.user(userId, ({ sql }) => sql.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND response_status IS NULL', [userId, key]));
    },
    async sweep() {
      const rows = await scoped.system('sweep', ({ sql }) => sql.query<{ key: string }>('DELETE FROM idempotency_keys WHERE expires_at < now() RETURNING key'));
      return rows.length;
    },
  };
}
