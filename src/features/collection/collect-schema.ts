// A chatbot's `collect` (§9): the fields to gather in conversation. The TypeBox schema bounds the
// shape (and documents it); checkCollect adds what a schema cannot say — unique keys, options
// exactly for enums, item fields exactly for lists — so a schema that could never be filled is
// refused when it is written, not discovered in a conversation.
import { Type, type Static } from 'typebox';
import { validationError } from '../../errors/app-error.js';
import { isBlank } from '../../lib/text.js';
import { FIXED_COLUMNS } from '../exports/csv.js';
import { fold } from './phrases.js';
import { holdsValid } from './validators.js';

export const FIELD_TYPES = ['string', 'number', 'email', 'phone', 'url', 'enum', 'list'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

const Key = Type.String({
  pattern: '^[a-z][a-z0-9_]{0,63}$',
  description:
    "Lowercase letters, digits and _; the key in `data`. A top-level field's key is also its CSV column, so none of the columns every CSV has (conversation_id, status, created_at, updated_at)",
});
const Label = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'How the bot names the field to the user' });
const Description = Type.String({ maxLength: 1000, description: 'What the field means, for the bot asking and the model extracting' });
const Option = Type.Union([
  Type.String({ minLength: 1, maxLength: 200 }),
  Type.Object({ value: Type.String({ minLength: 1, maxLength: 200 }), label: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
]);

const fieldShape = {
  key: Key,
  label: Label,
  required: Type.Optional(Type.Boolean({ default: false })),
  description: Type.Optional(Description),
  options: Type.Optional(Type.Array(Option, { minItems: 1, maxItems: 100, description: 'For `enum`: the accepted values (matched case-insensitively, by label too)' })),
};

const ItemField = Type.Object(
  {
    ...fieldShape,
    type: Type.Union([Type.Literal('string'), Type.Literal('number'), Type.Literal('email'), Type.Literal('phone'), Type.Literal('url'), Type.Literal('enum')]),
  },
  { additionalProperties: false, title: 'CollectItemField' },
);

const Field = Type.Object(
  {
    ...fieldShape,
    type: Type.Union([
      Type.Literal('string'),
      Type.Literal('number'),
      Type.Literal('email'),
      Type.Literal('phone'),
      Type.Literal('url'),
      Type.Literal('enum'),
      Type.Literal('list'),
    ]),
    item_fields: Type.Optional(Type.Array(ItemField, { minItems: 1, maxItems: 20, description: 'For `list`: the fields of each item' })),
  },
  { additionalProperties: false, title: 'CollectField' },
);

export const CollectSchema = Type.Object(
  {
    fields: Type.Array(Field, { minItems: 1, maxItems: 50 }),
    completion_message: Type.Optional(Type.String({ maxLength: 2000, description: 'Said once every required field is filled' })),
  },
  { additionalProperties: false, title: 'Collect', description: 'Fields to gather during the chat (§9)' },
);
export type Collect = Static<typeof CollectSchema>;
export type CollectField = Collect['fields'][number];

// An answer is matched to an option by its value or its label, case and width forgiven: an option
// named like another (a label that is another's value, "Pro plan" beside "PRO PLAN") could never
// be chosen, its answers taken for the other's.
function checkOptions(options: unknown[], path: string) {
  const named = new Set<string>();
  for (const option of options) {
    const { value, label } = typeof option === 'string' ? { value: option, label: option } : (option as { value: string; label: string });
    // What shows nothing (zero-width characters pass the schema's pattern) is no answer a user can give.
    if (isBlank(value) || isBlank(label)) throw validationError(path, 'an option must show something: not only spaces or invisible characters');
    const names = new Set([fold(value), fold(label)]);
    if ([...names].some((name) => named.has(name))) throw validationError(path, 'options must be different from one another (by value and label, whatever the case)');
    for (const name of names) named.add(name);
  }
}

// A key is read from plain objects (collected data, refusals, the prompt's notes); one named like a
// member every object has (`constructor`, the only one the key pattern lets through) read as
// already given, and its "refusal" as the member's source text.
function checkFields(fields: ReadonlyArray<{ key: string; label: string; type: string; options?: unknown[]; item_fields?: unknown[] }>, at: string) {
  const seen = new Set<string>();
  fields.forEach((field, index) => {
    const path = `${at}.${index}`;
    if (seen.has(field.key)) throw validationError(`${path}.key`, `"${field.key}" is used by another field: keys must be unique`);
    if (field.key in Object.prototype) throw validationError(`${path}.key`, `"${field.key}" is a reserved name; choose another key`);
    seen.add(field.key);
    if (isBlank(field.label)) throw validationError(`${path}.label`, 'must not be blank: how the bot names the field to the user');
    if (field.type === 'enum' && !field.options) throw validationError(`${path}.options`, 'an enum field needs its options');
    if (field.type !== 'enum' && field.options) throw validationError(`${path}.options`, 'only enum fields take options');
    if (field.type === 'list' && !field.item_fields) throw validationError(`${path}.item_fields`, 'a list field needs its item_fields');
    if (field.type !== 'list' && field.item_fields) throw validationError(`${path}.item_fields`, 'only list fields take item_fields');
    if (field.options) checkOptions(field.options, `${path}.options`);
    if (field.item_fields) checkFields(field.item_fields as CollectField[], `${path}.item_fields`);
  });
}

// A top-level key is a column of the CSV export after its fixed ones: one named like them gave a
// header with two columns alike, and readers that go by the header took the collected value for
// the conversation's status or time. Item fields live inside one JSON cell and may use them.
function checkColumns(fields: Collect['fields'], at: string) {
  const fixed: readonly string[] = FIXED_COLUMNS;
  fields.forEach((field, index) => {
    if (fixed.includes(field.key)) {
      throw validationError(`${at}.${index}.key`, `"${field.key}" is a column every CSV export already has (${FIXED_COLUMNS.join(', ')}); choose another key`);
    }
  });
}

/** Throws a 422 naming the first problem; the shape itself was checked by the route's schema. */
export function checkCollect(collect: Collect | null | undefined, field = 'collect'): void {
  if (!collect) return;
  checkFields(collect.fields, `${field}.fields`);
  checkColumns(collect.fields, `${field}.fields`);
}

/** Whether a stored list item has every required item field and no key the item fields lack (its values unread). */
function keysFit(fields: readonly NonNullable<CollectField['item_fields']>[number][], item: unknown): boolean {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return false;
  const values = item as Record<string, unknown>;
  const given = (key: string) => Object.hasOwn(values, key) && values[key] !== undefined && values[key] !== null && values[key] !== '';
  return fields.every((inner) => !inner.required || given(inner.key)) && Object.keys(values).every((key) => fields.some((inner) => inner.key === key));
}

/**
 * Keys of the required fields still to be given: nothing in `data` (a required list needs at
 * least one item), or a value the schema no longer accepts (an enum option taken away, a text
 * field made a number since it was stored). Such a value is asked for again and holds completion
 * back; when only absent fields were named, the owner read `missing: []` on a conversation that
 * never completed. A list's items are not validated here (500 items of 20 fields took 140 ms of
 * the event loop, at every read of the data), but their keys are read: an item without a required
 * item field, or with one the schema no longer has, makes the list asked for again, and it was
 * not named.
 */
export function missingFields(collect: Collect | null, data: Record<string, unknown>): string[] {
  if (!collect) return [];
  return collect.fields
    .filter((field) => field.required)
    .filter((field) => {
      const value = Object.hasOwn(data, field.key) ? data[field.key] : undefined;
      if (value === undefined || value === null || value === '') return true;
      if (field.type === 'list') return !Array.isArray(value) || value.length === 0 || !value.every((item) => keysFit(field.item_fields ?? [], item));
      return !holdsValid(field, data);
    })
    .map((field) => field.key);
}
