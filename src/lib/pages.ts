// Keyset pagination (§2): an opaque cursor names the last row seen, so pages stay stable while
// rows are added. Services page with these; the HTTP schemas for `?limit=`/`?cursor=` and the
// page shape live in http/pagination.ts.
import { validationError } from '../errors/app-error.js';

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

const invalidCursor = () => validationError('cursor', 'is invalid', { detail: 'The cursor is not one this server issued', part: 'query' });

/** The cursor's parts, each checked by `valid`; a tampered cursor is a 422, never a database error. */
export function decodeCursor(cursor: string | undefined, valid: Array<(part: string) => boolean>): string[] | null {
  if (cursor === undefined) return null;
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(parts) || parts.length !== valid.length) throw invalidCursor();
  if (!parts.every((part, i) => typeof part === 'string' && valid[i]!(part))) throw invalidCursor();
  return parts as string[];
}

/**
 * A time exactly as this server writes it (`toISOString`). Date.parse alone is not enough: it takes
 * year 0000, which PostgreSQL has no room for (a 500), and rolls `02-30` or `24:00` over into another
 * day, up to year 10000, which `toISOString` then writes in a form PostgreSQL cannot read either.
 */
export const isIsoTime = (value: string) => {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value) || value.startsWith('0000')) return false;
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value;
};

/** Rows were fetched with limit + 1: the extra one only says whether another page exists. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => string[]): Page<T> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown.at(-1);
  return { data: shown.map(map), next_cursor: more && last ? encodeCursor(cursorOf(last)) : null };
}
