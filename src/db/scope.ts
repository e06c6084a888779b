// How requests tell row security (§10, migrations/0004_row_security.sql) whose rows they may
// touch. Settings are transaction-local, so a pooled connection never carries one over.
import type { Access, AppAccess, TransactionOptions } from './client.js';

/**
 * Paths that serve no single user; migrations/0004 (and 0007 for public-profile, 0008 for public,
 * 0012 for api-key, 0015, 0022 and 0024 for webhooks) say what each may read or change.
 */
export type SystemScope = 'auth' | 'admin' | 'slugs' | 'stop-poll' | 'sweep' | 'public-profile' | 'public' | 'api-key' | 'webhooks';

export interface Scoped {
  /** One transaction that sees only this user's rows. */
  user<T>(userId: string, fn: (tx: Access) => Promise<T>, options?: TransactionOptions): Promise<T>;
  system<T>(scope: SystemScope, fn: (tx: Access) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

const ENTER = "SELECT set_config('app.user_id', $1, true), set_config('app.scope', $2, true)";

export function createScoped(app: AppAccess): Scoped {
  const run = <T>(userId: string, scope: string, fn: (tx: Access) => Promise<T>, options?: TransactionOptions) =>
    app.transaction(async (tx) => {
      await tx.sql.query(ENTER, [userId, scope]);
      return fn(tx);
    }, options);
  return {
    user: (userId, fn, options) => run(userId, '', fn, options),
    system: (scope, fn, options) => run('', scope, fn, options),
  };
}

/**
 * For a single statement on the chat hot path, instead of a transaction: a term for the
 * statement's top-level WHERE that sets the user. It mentions no table, so the planner makes
 * it a one-time filter at the top of the plan, evaluated before any table (or CTE) is read;
 * the setting then holds until the statement's implicit transaction ends.
 */
export const userGate = (param: string) => `(SELECT set_config('app.user_id', ${param}::text, true)) IS NOT NULL`;
export const scopeGate = (scope: SystemScope) => `(SELECT set_config('app.scope', '${scope}', true)) IS NOT NULL`;
