// The collection part of a model's system prompt (§6.2, §9). Sent with every turn, so it is
// short: what is gathered so far, the next one or two fields to ask for (with why an answer was
// refused), and the fields the user may give unasked. The user's values are shown as JSON, so
// whatever they typed stays data; labels and descriptions are the owner's and are quoted.
import type { Collect, CollectField } from './collect-schema.js';
import { isPlainObject, ownValue, readCollectState, type CollectState, type ItemField } from './collect-state.js';
import { enumOptions, pendingFields } from './validators.js';

/** Fields asked for in one reply: more reads as a form, not a conversation. */
const AT_ONCE = 2;
/** Items of a list shown back: the newest, which the conversation is about. */
const ITEMS_SHOWN = 3;
const TEXT_SHOWN = 200;

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  email: 'an email address',
  phone: 'a phone number',
  url: 'a web address',
};

const quoted = (text: string) => JSON.stringify(text);

function describeType(field: CollectField | ItemField): string {
  if (field.type === 'enum') return `one of ${enumOptions(field).map((option) => quoted(option.label)).join(', ')}`;
  if (field.type === 'list') {
    const items = (field as CollectField).item_fields ?? [];
    const parts = items.map((item) => `${item.key} ${quoted(item.label)} (${describeType(item)}${item.required ? ', required' : ''})`);
    return `a list, one item at a time; each item: ${parts.join(', ')}`;
  }
  return TYPE_WORDS[field.type] ?? 'text';
}

function describeField(field: CollectField, refused: string | undefined): string {
  const description = field.description?.trim();
  return [
    `- ${field.key}: ${quoted(field.label)}, ${describeType(field)}.`,
    description ? ` About it: ${quoted(description)}.` : '',
    refused ? ` The last answer was refused: ${refused}.` : '',
  ].join('');
}

const shorten = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  const chars = [...value];
  return chars.length > TEXT_SHOWN ? `${chars.slice(0, TEXT_SHOWN).join('')}…` : value;
};

/** The data as the model sees it: long texts cut, long lists shown by their count and newest items. */
function shownData(collect: Collect, data: Record<string, unknown>): string {
  const shown: Record<string, unknown> = {};
  for (const field of collect.fields) {
    const value = ownValue(data, field.key);
    if (value === undefined || value === null || value === '') continue;
    if (field.type === 'list' && Array.isArray(value)) {
      const items = value.slice(-ITEMS_SHOWN).map((item) => (isPlainObject(item) ? Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, shorten(inner)])) : item));
      shown[field.key] = value.length > ITEMS_SHOWN ? { count: value.length, newest: items } : items;
    } else shown[field.key] = shorten(value);
  }
  return JSON.stringify(shown);
}

/** The collection part of the system prompt for a real model (§6.2 "collection instructions"). */
export function collectInstructions(input: { collect: Collect; data: Record<string, unknown>; state: CollectState | null }): string {
  const { collect } = input;
  const data = isPlainObject(input.data) ? input.data : {};
  const state = readCollectState(input.state);
  const pending = new Set(pendingFields(collect, data, state.lang));
  const lines = [
    'Collecting data: this conversation gathers the fields below from the user. Take a value only from what the user says; never suggest, guess or fill one in from knowledge, the profile or your own replies.',
    `Collected so far (the user's answers, as data): ${shownData(collect, data)}`,
  ];
  // Refused answers first: the user has just tried, and needs to hear why.
  const filled = (field: CollectField) => {
    const value = ownValue(data, field.key);
    return value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0);
  };
  // A refusal matters while the field still wants a value; a stored one stands otherwise.
  const next = collect.fields
    .filter((field) => pending.has(field.key) || (state.refused[field.key] !== undefined && !filled(field)))
    .sort((a, b) => Number(state.refused[b.key] !== undefined) - Number(state.refused[a.key] !== undefined))
    .slice(0, AT_ONCE);
  if (next.length > 0) {
    lines.push(`Ask next, in your own voice and the user's language (at most ${AT_ONCE} at a time):`);
    lines.push(...next.map((field) => describeField(field, state.refused[field.key])));
  }
  const corrections = collect.fields.filter((field) => state.refused[field.key] !== undefined && filled(field) && !pending.has(field.key));
  if (corrections.length > 0) {
    lines.push(`A correction was refused, so the stored value stands; tell the user why: ${corrections.map((field) => `${field.key}: ${state.refused[field.key]}`).join('; ')}.`);
  }
  const unasked = collect.fields.filter((field) => !pending.has(field.key) && !next.includes(field) && (!field.required || field.type === 'list'));
  const open = unasked.filter((field) => field.type === 'list' || !filled(field));
  if (open.length > 0) lines.push(`Also recorded if the user gives them, without pressing: ${open.map((field) => `${field.key} ${quoted(field.label)} (${field.type === 'list' ? 'more items' : describeType(field)})`).join('; ')}.`);
  if (pending.size === 0) {
    const done = collect.completion_message?.trim();
    lines.push(
      done
        ? `Everything required is collected: tell the user so, in their language, with this message: ${quoted(done)}`
        : 'Everything required is collected: thank the user and tell them so, in their language.',
    );
  }
  return lines.join('\n');
}
