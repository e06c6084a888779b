// Classifies database faults. A fault of the database (down, restarting, out of
// connections, out of disk or memory) is 503; any other database error is a bug on our side
// (500), never 400.

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'CONNECTION_STALLED',
  '57P01',
  '57P02',
  '57P03',
  // A read-only transaction refusing a write: connections that landed on a standby during a
  // failover, or a database set read-only for maintenance. It takes writes again by itself.
  '25006',
  // A statement the database gave up by its own limits (lock_timeout, statement_timeout set on
  // the role or database; a provider's defaults), typically behind a maintenance lock or under
  // overload: nothing of it was done, and it may pass later.
  '55P03',
  '57014',
]);

/**
 * The database is short of something only its operator can give: disk (53100, which on the
 * embedded database is DATA_DIR's disk), memory (53200), files or the disk itself failing
 * (58030). The request failed whole and may be tried again later (503), but nobody's retry will
 * fix it: it is logged as an error, not as a passing outage.
 */
const OPERATOR_CODES = new Set(['53000', '53100', '53200', '53400', '58030']);

/**
 * PostgreSQL could not go on (a PANIC: it could not write its log), or the embedded database is
 * refusing every call since one (db/pglite-panic.ts). Whatever SQLSTATE the PANIC carries (EROFS
 * arrives as 42501), it is the database's fault and its operator's to fix.
 */
function stoppedDatabase(layer: Record<string, unknown>): boolean {
  return layer.severity === 'PANIC' || layer.code === 'PGLITE_STOPPED';
}

function* causes(error: unknown): Generator<Record<string, unknown>> {
  let current = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    yield current as Record<string, unknown>;
    current = (current as { cause?: unknown }).cause;
  }
}

/** The PostgreSQL SQLSTATE (or driver code) of an error or of any error it wraps. */
export function databaseErrorCode(error: unknown): string | undefined {
  for (const layer of causes(error)) {
    if (typeof layer.code === 'string') return layer.code;
    if (typeof layer.errno === 'string') return layer.errno;
  }
  return undefined;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  for (const layer of causes(error)) {
    const code = typeof layer.code === 'string' ? layer.code : undefined;
    // Class 08 is a connection fault, class 53 "insufficient resources" (53300: too many connections).
    if (code && (UNAVAILABLE_CODES.has(code) || OPERATOR_CODES.has(code) || code.startsWith('08') || code.startsWith('53'))) return true;
    if (stoppedDatabase(layer)) return true;
    if (typeof layer.message === 'string' && /PGlite is closed/i.test(layer.message)) return true;
  }
  return false;
}

/** A fault only the database's operator can fix (disk full, out of memory, I/O errors): see OPERATOR_CODES. */
export function needsOperator(error: unknown): boolean {
  for (const layer of causes(error)) if (stoppedDatabase(layer)) return true;
  const code = databaseErrorCode(error);
  return code !== undefined && OPERATOR_CODES.has(code);
}

export const isUniqueViolation = (error: unknown): boolean => databaseErrorCode(error) === '23505';

/**
 * A loggable description without the failed query's parameters (which can hold
 * password or token hashes): the innermost error's name, code and message.
 */
export function describeError(error: unknown): { type: string; code?: string; message: string } {
  let innermost: Record<string, unknown> | undefined;
  for (const layer of causes(error)) innermost = layer;
  const target = innermost ?? { message: String(error) };
  return {
    type: typeof target.name === 'string' ? target.name : 'Error',
    code: databaseErrorCode(error),
    message: typeof target.message === 'string' ? target.message.slice(0, 500) : String(target),
  };
}

/** The constraint a violation names (postgres.js: constraint_name, PGlite: constraint). */
export function constraintName(error: unknown): string | undefined {
  for (const layer of causes(error)) {
    const name = layer.constraint_name ?? layer.constraint;
    if (typeof name === 'string') return name;
  }
  return undefined;
}

export function isForeignKeyViolation(error: unknown): boolean {
  return databaseErrorCode(error) === '23503';
}
