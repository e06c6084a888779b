// Where a collecting conversation stands between turns (§9): stored with the conversation, so
// any instance can take the next turn. It is read back from the database as plain JSON, so
// readCollectState accepts anything and keeps only what has the right shape.
import type { CollectField } from './collect-schema.js';

export type CollectLang = 'en' | 'zh-Hant' | 'bn';
export const COLLECT_LANGS: readonly CollectLang[] = ['en', 'zh-Hant', 'bn'];

/** A field of a list's items (a list never holds lists). */
export type ItemField = NonNullable<CollectField['item_fields']>[number];

export interface CollectState {
  /** The top-level field the bot asked for last; null before the first question and once completed. */
  asked: string | null;
  /** A list item being gathered: the values so far and the item field asked (null: the bot asked whether there is another item). */
  item: { values: Record<string, unknown>; field: string | null } | null;
  /**
   * Items of the list being gathered, complete but not yet in the data: the list joins the data
   * when the user closes it, so `missing` names it until then.
   */
  items?: Array<Record<string, unknown>>;
  lang: CollectLang;
  /** Why a value was refused, by field key (e.g. "contact_email": "not an email address"); cleared when the field is accepted. */
  refused: Record<string, string>;
}

/** What GET /v1/conversations/{id}/data answers and the SSE `collect.update` event carries. */
export interface CollectUpdate {
  data: Record<string, unknown>;
  missing: string[];
  completed: boolean;
}

/** Items one list gathers in a conversation. */
export const MAX_ITEMS = 500;

// The pattern of field keys (collect-schema), so no stored key can be `__proto__` or the like.
const FIELD_KEY = /^[a-z][a-z0-9_]{0,63}$/;

export const emptyCollectState = (lang: CollectLang = 'en'): CollectState => ({ asked: null, item: null, lang, refused: {} });

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An own data property's value, without running getters or reading the prototype chain. */
export function ownValue(object: Record<string, unknown>, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor && 'value' in descriptor ? descriptor.value : undefined;
}

/** A record without a prototype, so keys such as `__proto__` stay plain keys. */
export function cleanRecord(source: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(source)) Object.defineProperty(copy, key, { value: ownValue(source, key), enumerable: true, writable: true, configurable: true });
  return copy;
}

/** The stored state, or a fresh one when it is missing or not of the expected shape. */
export function readCollectState(raw: unknown, fallbackLang: CollectLang = 'en'): CollectState {
  if (!isPlainObject(raw)) return emptyCollectState(fallbackLang);
  const lang = ownValue(raw, 'lang');
  const asked = ownValue(raw, 'asked');
  const item = ownValue(raw, 'item');
  const refused = ownValue(raw, 'refused');
  const items = ownValue(raw, 'items');
  const state = emptyCollectState(COLLECT_LANGS.includes(lang as CollectLang) ? (lang as CollectLang) : fallbackLang);
  if (typeof asked === 'string') state.asked = asked;
  if (isPlainObject(item)) {
    const values = ownValue(item, 'values');
    const field = ownValue(item, 'field');
    state.item = { values: isPlainObject(values) ? cleanRecord(values) : {}, field: typeof field === 'string' ? field : null };
  }
  if (Array.isArray(items)) state.items = items.filter(isPlainObject).slice(0, MAX_ITEMS).map(cleanRecord);
  if (isPlainObject(refused)) {
    for (const key of Object.keys(refused)) {
      const reason = ownValue(refused, key);
      if (FIELD_KEY.test(key) && typeof reason === 'string') state.refused[key] = reason;
    }
  }
  return state;
}
