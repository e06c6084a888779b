// What a model extracted from the user's message, applied to the conversation's data (§9). The
// model's output is untrusted: only keys of the schema are read, every value is validated as the
// builtin validates a typed answer, and a value is stored only when the user's own message says
// it — so a value the assistant suggested, one taken from knowledge or the profile, or one the
// model made up is refused, with its reason kept for the next reply to address. Whether the
// conversation is complete is decided here, from the data alone.
import { domainToUnicode } from 'node:url';
import type { Collect, CollectField } from './collect-schema.js';
import { cleanRecord, isPlainObject, MAX_ITEMS, ownValue, readCollectState, type CollectState, type ItemField } from './collect-state.js';
import { listText, MAX_LIST_TEXT, textSize } from './data-size.js';
import { asciiDigits, numbersIn } from './numbers.js';
import { compact, fold, nextLang, phrases } from './phrases.js';
import { acceptedItems, isComplete, mentions, validateValue, type ValidationContext } from './validators.js';

export interface ApplyExtractedInput {
  collect: Collect;
  data: Record<string, unknown>;
  state: CollectState | null;
  /** What the model extracted: parsed JSON, any shape (it may be malformed or hostile). */
  extracted: unknown;
  /** This turn's user message: the only text values may come from. */
  userText: string;
}

export interface Applied {
  data: Record<string, unknown>;
  state: CollectState;
  changed: boolean;
  completed: boolean;
}

/** Items read from one turn's extraction; a message never states more. */
const MAX_ITEMS_PER_TURN = 50;

/**
 * The text one turn may store: twice its message, and room for what normalising adds ("a.io" is
 * stored "https://a.io"). A value needs only to be somewhere in the message, so without it one
 * message of 30,000 characters stored 1 MB of list items, each a different stretch of the same
 * text, and the next message as much again: the data now grows no faster than the messages.
 */
const turnBudget = (userText: string) => 2 * userText.length + 256;

/** Takes `size` from the turn's budget; false (and nothing taken) when it does not fit. */
function spend(run: Run, size: number): boolean {
  if (size > run.budget) return false;
  run.budget -= size;
  return true;
}

/** A value this short is read whatever the budget: it takes no time to validate. */
const ALWAYS_READ = 256;

/**
 * Takes a raw text from what the turn may read (a budget of the same size): values are validated
 * before they are compared with the message, so an extraction of 20 fields of 20,000 characters
 * per item was all read, seconds of the event loop for one of a few hundred KB. What the user
 * stated is in their message, so what passes it was not stated.
 */
function readable(run: Run, raw: unknown): boolean {
  if (typeof raw !== 'string' || raw.length <= ALWAYS_READ) return true;
  if (raw.length > run.reading) return false;
  run.reading -= raw.length;
  return true;
}

/** The user's message in the forms values are compared in. */
class Said {
  readonly folded: string;
  readonly compact: string;
  readonly digits: string;
  private numbers: Set<number> | null = null;

  constructor(readonly text: string) {
    this.folded = fold(text);
    this.compact = compact(text);
    this.digits = asciiDigits(text.normalize('NFKC')).replace(/\D/gu, '');
  }

  hasText(value: string): boolean {
    const wanted = compact(value);
    return wanted ? this.compact.includes(wanted) : this.folded.includes(fold(value));
  }

  hasNumber(value: number): boolean {
    this.numbers ??= new Set(numbersIn(this.text));
    return this.numbers.has(value);
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');

/** An address or a host as a whole token of the text: "kim@acme.co" is not in "kim@acme.com". */
const hasToken = (folded: string, token: string) =>
  token !== '' && new RegExp(`(?<![\\p{L}\\p{N}_.+-])${escape(token)}(?![\\p{L}\\p{N}_-]|\\.[\\p{L}\\p{N}])`, 'u').test(folded);

/** A part of an address as typed: its escapes decoded, or as it is when one is not valid ("100%"). */
function asTyped(part: string): string {
  try {
    return decodeURI(part);
  } catch {
    return part;
  }
}

/**
 * A web address the message states: its host (with the port, when one is written), and each of
 * its path, query and fragment somewhere in the message. A model repeating an address adds what
 * the user never wrote (OpenAI's models append `?utm_source=chatgpt.com`).
 */
function statedAddress(url: URL, said: Said): boolean {
  const port = url.port ? `:${url.port}` : '';
  // A name in its own script (bücher.de, 例子.台灣) is kept in its ASCII form (xn--…), which
  // nobody types: the user's message is searched for the name as they wrote it too.
  const names = new Set([url.hostname, fold(domainToUnicode(url.hostname))].filter(Boolean));
  const host = [...names].some((name) => hasToken(said.folded, name + port) || hasToken(said.folded, name.replace(/^www\./u, '') + port));
  const rest = [url.pathname === '/' ? '' : url.pathname, url.search, url.hash].filter(Boolean);
  return host && rest.every((part) => said.folded.includes(fold(asTyped(part))));
}

/** Whether the user's message states a value, as the type of its field allows it to be written. */
function grounded(field: CollectField | ItemField, value: unknown, said: Said): boolean {
  switch (field.type) {
    case 'number':
      return typeof value === 'number' && said.hasNumber(value);
    case 'email':
      return typeof value === 'string' && hasToken(said.folded, fold(value));
    case 'phone':
      // The subscriber's digits, however the user grouped them or wrote the country.
      return typeof value === 'string' && said.digits.includes(value.replace(/\D/gu, '').slice(-8));
    case 'url':
      return typeof value === 'string' && statedAddress(new URL(value), said);
    case 'enum': {
      const option = (field.options ?? []).map((entry) => (typeof entry === 'string' ? { value: entry, label: entry } : entry)).find((entry) => entry.value === value);
      return Boolean(option && (mentions(said.text, option.value) || mentions(said.text, option.label)));
    }
    default:
      return typeof value === 'string' && said.hasText(value);
  }
}

const sameValue = (a: unknown, b: unknown) => (typeof a === 'string' && typeof b === 'string' ? fold(a) === fold(b) : a === b);

/** The new item says nothing a stored one does not: it is that item again, not a new one. */
const sameItem = (item: Record<string, unknown>, stored: unknown) =>
  isPlainObject(stored) && Object.keys(item).every((key) => sameValue(item[key], ownValue(stored, key)));

type Checked = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * Validation, then grounding: a value the user did not state is refused as such. An invalid
 * value the user did type ("kim at acme") keeps the validator's reason, to be told to the user.
 */
function check(field: CollectField | ItemField, raw: unknown, validated: Checked, run: Run): Checked {
  const { said } = run;
  const stated = validated.ok
    ? safely(() => grounded(field, validated.value, said))
    : typeof raw === 'string' && raw.length <= 4 * said.text.length + 16 && said.hasText(raw);
  if (!stated) return { ok: false, reason: phrases(run.context.lang).reasons.notStated };
  return validated;
}

function safely(test: () => boolean): boolean {
  try {
    return test();
  } catch {
    return false;
  }
}

function applyScalar(field: CollectField, raw: unknown, run: Run): boolean {
  const { data, state } = run;
  const stored = ownValue(data, field.key);
  // The stored value given back (models often do) is short, as it was validated: not charged.
  if (raw !== stored && !readable(run, raw)) {
    // Over a stored value it is the model's noise, as an unstated one is: the stored value stands.
    if (stored === undefined || stored === null) state.refused[field.key] = phrases(run.context.lang).reasons.tooMuchAtOnce;
    return false;
  }
  const validated = validateValue(field, raw, run.context);
  if (validated.ok && stored !== undefined && sameValue(stored, validated.value)) {
    delete state.refused[field.key];
    return false;
  }
  const checked = check(field, raw, validated, run);
  if (!checked.ok) {
    // A value the user never stated over one they did is the model's noise, not something to ask
    // the user about: the stored value stands. An invalid correction the user typed is told.
    const unstated = checked.reason === phrases(run.context.lang).reasons.notStated;
    if (!(unstated && stored !== undefined && stored !== null)) state.refused[field.key] = checked.reason;
    return false;
  }
  if (!spend(run, textSize(field, checked.value))) {
    state.refused[field.key] = phrases(run.context.lang).reasons.tooMuchAtOnce;
    return false;
  }
  data[field.key] = checked.value;
  delete state.refused[field.key];
  return true;
}

/** One item the user stated: its required fields valid and said; an optional field that is not is left out. */
function readItem(fields: readonly ItemField[], raw: Record<string, unknown>, run: Run): { item: Record<string, unknown>; dropped: string | null } | { reason: string } {
  const item: Record<string, unknown> = {};
  let dropped: string | null = null;
  for (const field of fields) {
    const value = ownValue(raw, field.key);
    if (value === undefined || value === null || value === '') {
      if (field.required) return { reason: phrases(run.context.lang).reasons.itemIncomplete(field.label) };
      continue;
    }
    const checked: Checked = readable(run, value)
      ? check(field, value, validateValue(field, value, run.context), run)
      : { ok: false, reason: phrases(run.context.lang).reasons.tooMuchAtOnce };
    if (checked.ok) item[field.key] = checked.value;
    else if (field.required) return { reason: `${field.label}: ${checked.reason}` };
    else dropped ??= `${field.label}: ${checked.reason}`;
  }
  return { item, dropped };
}

function applyList(field: CollectField, raw: unknown, run: Run): boolean {
  const { data, state } = run;
  const rawItems = Array.isArray(raw) ? raw.slice(0, MAX_ITEMS_PER_TURN) : isPlainObject(raw) ? [raw] : null;
  if (!rawItems) {
    state.refused[field.key] = phrases(run.context.lang).reasons.notList;
    return false;
  }
  // Items the schema no longer accepts give way to the ones stated now (validators.ts, acceptedItems).
  const items: unknown[] = acceptedItems(field, ownValue(data, field.key), run.context);
  let added = false;
  let refusal: string | null = null;
  for (const rawItem of rawItems) {
    if (!isPlainObject(rawItem)) {
      refusal ??= phrases(run.context.lang).reasons.notList;
      continue;
    }
    const read = readItem(field.item_fields ?? [], rawItem, run);
    if (!('item' in read)) {
      refusal ??= read.reason;
      continue;
    }
    refusal ??= read.dropped;
    if (Object.keys(read.item).length === 0 || items.some((stored) => sameItem(read.item, stored))) continue;
    if (items.length >= MAX_ITEMS) {
      refusal ??= phrases(run.context.lang).reasons.listFull(MAX_ITEMS);
      break;
    }
    const size = textSize(field, read.item);
    if (items.length > 0 && size > run.listRoom) {
      refusal ??= phrases(run.context.lang).reasons.formFull(MAX_LIST_TEXT);
      break;
    }
    if (!spend(run, size)) {
      refusal ??= phrases(run.context.lang).reasons.tooMuchAtOnce;
      break;
    }
    run.listRoom -= size;
    items.push(cleanRecord(read.item));
    added = true;
  }
  if (refusal) state.refused[field.key] = refusal;
  else delete state.refused[field.key];
  if (added) data[field.key] = items;
  return added;
}

interface Run {
  data: Record<string, unknown>;
  state: CollectState;
  context: ValidationContext;
  said: Said;
  /** Characters of the user's text this turn may still store (turnBudget). */
  budget: number;
  /** Characters of the model's values this turn may still read (turnBudget too). */
  reading: number;
  /** Characters the conversation's lists may still hold (MAX_LIST_TEXT). */
  listRoom: number;
}

function apply(input: ApplyExtractedInput): Applied {
  const data = cleanRecord(isPlainObject(input.data) ? input.data : {});
  const state = readCollectState(input.state);
  const userText = typeof input.userText === 'string' ? input.userText : '';
  state.lang = nextLang(state.lang, userText);
  const run: Run = {
    data,
    state,
    context: { data, lang: state.lang },
    said: new Said(userText),
    budget: turnBudget(userText),
    reading: turnBudget(userText),
    listRoom: MAX_LIST_TEXT - listText(input.collect.fields, data),
  };
  let changed = false;
  const extracted = isPlainObject(input.extracted) ? input.extracted : null;
  // Phones last: a country stated in the same message tells how to read a local number.
  const fields = [...input.collect.fields].sort((a, b) => Number(a.type === 'phone') - Number(b.type === 'phone'));
  for (const field of extracted ? fields : []) {
    const raw = ownValue(extracted!, field.key);
    if (raw === undefined || raw === null) continue;
    const applied = field.type === 'list' ? applyList(field, raw, run) : applyScalar(field, raw, run);
    changed = applied || changed;
  }
  return { data, state, changed, completed: isComplete(input.collect, data) };
}

export function applyExtracted(input: ApplyExtractedInput): Applied {
  try {
    return apply(input);
  } catch {
    // Hostile shapes (a Proxy that throws, say) change nothing rather than fail the turn.
    return { data: {}, state: readCollectState(null), changed: false, completed: false };
  }
}
