// Classifies database faults. A fault of the database (down, restarting, out of
// connections) is 503; any other database error is a bug on our side (500), never 400.

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
  '53300',
]);

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
    if (code && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
    if (typeof layer.message === 'string' && /PGlite is closed/i.test(layer.message)) return true;
  }
  return false;
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
