// Keyset pagination (§2): `?limit=` 1–100 (default 20) and an opaque `?cursor=` naming the
// last row seen, so pages stay stable while rows are added.
import { Type, type TSchema } from 'typebox';
import { AppError } from '../errors/app-error.js';

export const LimitQuery = Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size (1–100)' });
export const CursorQuery = Type.String({ minLength: 1, maxLength: 200, description: 'Opaque cursor from `next_cursor`' });

export const pageOf = <T extends TSchema>(item: T, title: string) =>
  Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) }, { title });

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

const invalidCursor = () =>
  new AppError('validation_failed', 'The cursor is not one this server issued', { errors: [{ path: 'query.cursor', message: 'is invalid' }] });

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

export const isIsoTime = (value: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(value) && !Number.isNaN(Date.parse(value));

/** Rows were fetched with limit + 1: the extra one only says whether another page exists. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, cursorOf: (row: R) => string[]): Page<T> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown.at(-1);
  return { data: shown.map(map), next_cursor: more && last ? encodeCursor(cursorOf(last)) : null };
}
