// Calendar days written YYYY-MM-DD, as query parameters take them (/v1/usage, exports).
import { validationError } from '../errors/app-error.js';

export const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a real calendar date written YYYY-MM-DD; null for anything else. */
export function dayNumber(text: string): number | null {
  const match = DATE.exec(text);
  if (!match || Number(match[1]) < 1) return null;
  const time = Date.parse(`${text}T00:00:00Z`);
  // Date.parse rolls 2026-02-30 over to March: the round trip catches it.
  if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== text) return null;
  return time / DAY_MS;
}

/** The day a query parameter names, or a 422 on that parameter. */
export function parseDay(field: string, text: string): number {
  const day = dayNumber(text);
  if (day === null) throw validationError(field, 'must be a date written YYYY-MM-DD', { detail: 'Dates are calendar days written YYYY-MM-DD', part: 'query' });
  return day;
}
