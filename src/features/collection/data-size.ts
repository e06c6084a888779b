// How much of the user's text a conversation's collected data holds, and the most its lists may
// hold together.
import type { CollectField } from './collect-schema.js';
import { isPlainObject, ownValue, type ItemField } from './collect-state.js';

/**
 * The user's text all lists of one conversation's data may hold together (a list's first item is
 * always taken, so a required list can be filled). Each turn's additions were bounded (twice the
 * message, 500 items a list), their sum was not: some 780 turns of 32,000-character messages
 * through a model filled one list with 10 MB, and every later turn held the event loop 450 ms
 * reading and writing it. 500,000 characters are 1,600 items of 300 characters.
 */
export const MAX_LIST_TEXT = 500_000;

/** The user's text a value holds; an enum's value is the owner's word, not the user's. */
export function textSize(field: CollectField | ItemField, value: unknown): number {
  if (typeof value === 'string') return field.type === 'enum' ? 0 : value.length;
  if (Array.isArray(value)) return value.reduce((sum: number, item: unknown) => sum + textSize(field, item), 0);
  if (!isPlainObject(value)) return 0;
  const fields = (field as CollectField).item_fields ?? [];
  return fields.reduce((sum, inner) => sum + textSize(inner, ownValue(value, inner.key)), 0);
}

/** The user's text the lists of `data` hold together. */
export function listText(fields: readonly CollectField[], data: Record<string, unknown>): number {
  return fields.reduce((sum, field) => sum + (field.type === 'list' ? textSize(field, ownValue(data, field.key)) : 0), 0);
}
