// CSV per §12 "Exports": `conversation_id, status, created_at, updated_at`, then one column per
// field key of the chatbot's `collect`; RFC 4180 (CRLF, quotes only where needed, doubled
// inside); a UTF-8 byte order mark, so spreadsheet programs read Chinese and Bengali as such; and
// string cells that begin with = + - @ tab or CR prefixed with ' (OWASP "CSV injection"). A
// number stays a number: written as is, never quoted or prefixed, a negative one included.
import type { CsvRecord } from './exports.repo.js';

export const BOM = '\uFEFF';
export const FIXED_COLUMNS = ['conversation_id', 'status', 'created_at', 'updated_at'] as const;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** The field keys a chatbot's `collect` declares, in its order; none when it declares nothing. */
export function collectKeys(collect: unknown): string[] {
  const fields = (collect as { fields?: unknown } | null | undefined)?.fields;
  if (!Array.isArray(fields)) return [];
  const keys: string[] = [];
  for (const field of fields) {
    const key = (field as { key?: unknown } | null)?.key;
    if (typeof key === 'string' && !keys.includes(key)) keys.push(key);
  }
  return keys;
}

/** A text cell: guarded against formulas, then quoted when RFC 4180 needs it. */
export function textCell(text: string): string {
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One collected value: absent → empty; a finite number as is; a list or object as JSON; anything else as text. */
export function valueCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'string') return textCell(value);
  if (typeof value === 'boolean') return String(value);
  return textCell(JSON.stringify(value));
}

const line = (cells: string[]) => `${cells.join(',')}\r\n`;

/** The byte order mark and the header line. */
export function csvHead(keys: string[]): string {
  return BOM + line([...FIXED_COLUMNS, ...keys].map(textCell));
}

/** One conversation's line; its collected values come as the JSON array the database made of them (exports.repo.ts). */
export function csvRow(record: CsvRecord, keys: string[]): string {
  const values = keys.length > 0 && record.cells !== null ? (JSON.parse(record.cells) as unknown[]) : [];
  return line([
    textCell(record.id),
    textCell(record.status),
    textCell(record.created_at),
    textCell(record.updated_at),
    ...keys.map((_, i) => valueCell(values[i])),
  ]);
}
