/**
 * What a name or title shown as one line of text may not hold: control characters (C0, DEL, C1:
 * line breaks, tabs, terminal escapes), the line and paragraph separators, and the two direction
 * overrides, which reorder the letters themselves ("invoice\u202Etxt.exe" shows as "invoiceexe.txt").
 * Direction marks, embeddings and isolates stay: Hebrew and Arabic text uses them, and they only
 * place whole runs of text.
 */
const NOT_ONE_LINE = /[\p{Cc}\u2028\u2029\u202D\u202E]/u;

export const NOT_ONE_LINE_MESSAGE = 'must be one line of text, without control characters (line breaks, tabs, escapes, direction overrides)';

/** Whether `text` holds anything that would break or rewrite the line it is shown on. */
export function breaksLine(text: string): boolean {
  return NOT_ONE_LINE.test(text);
}

const NOT_ONE_LINE_ALL = new RegExp(NOT_ONE_LINE.source, 'gu');

/**
 * Text kept as it was sent (an issuer's external id), written where a person reads it (a
 * terminal): what would break or rewrite the line is shown as its \u escape instead.
 */
export function shownOnOneLine(text: string): string {
  return text.replace(NOT_ONE_LINE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
