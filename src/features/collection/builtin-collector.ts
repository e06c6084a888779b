// The builtin responder's form (§6.3, §9, §12): it greets, asks each missing required field in
// turn, reads each answer as the value of the field it asked, and gathers list items one at a
// time until the user says they are done. Deterministic, and the same in every language it speaks.
import type { Collect, CollectField } from './collect-schema.js';
import { cleanRecord, emptyCollectState, MAX_ITEMS, ownValue, readCollectState, type CollectLang, type CollectState, type ItemField } from './collect-state.js';
import { listText, MAX_LIST_TEXT, textSize } from './data-size.js';
import { closesList, detectLang, isSkipWord, isYesWord, nextLang, phrases, type Phrases } from './phrases.js';
import { inLanguage } from './templates.js';
import { acceptedItems, enumOptions, hasRequired, pendingFields, sameJson, validateValue, type ValidationContext } from './validators.js';

export interface BuiltinCollectInput {
  collect: Collect;
  data: Record<string, unknown>;
  state: CollectState | null;
  /** The user's new message; null when the last reply is regenerated (nothing new to read: ask the current question again). */
  message: string | null;
  greeting: string;
}

export interface CollectTurn {
  data: Record<string, unknown>;
  state: CollectState;
  reply: string;
  changed: boolean;
  /** Every required field is valid and no list is still being gathered. */
  completed: boolean;
}

interface Turn {
  collect: Collect;
  data: Record<string, unknown>;
  state: CollectState;
  say: Phrases;
  context: ValidationContext;
  changed: boolean;
}

const HAN = /\p{Script=Han}/u;
const BENGALI = /\p{Script=Bengali}/u;

/** Whether a text is written in the conversation's language (its script is enough to tell). */
const writtenIn = (text: string, lang: CollectLang) =>
  lang === 'zh-Hant' ? HAN.test(text) : lang === 'bn' ? BENGALI.test(text) : /\p{Script=Latin}/u.test(text) && !HAN.test(text) && !BENGALI.test(text);

/** The question for a field, with its description when that is written in the conversation's language. */
function question(field: CollectField | ItemField, say: Phrases, lang: CollectLang): string {
  const options = enumOptions(field).map((option) => option.label);
  const asked = field.type === 'enum' ? say.choose(field.label, options) : say.ask(field.label);
  const description = field.description?.trim();
  if (!description || !writtenIn(description, lang)) return asked;
  return lang === 'zh-Hant' ? `${asked}（${description}）` : `${asked} (${description})`;
}

function itemQuestion(field: ItemField, say: Phrases, lang: CollectLang): string {
  const asked = question(field, say, lang);
  return field.required ? asked : `${asked}${say.gap}${say.skipHint}`;
}

const sentences = (say: Phrases, ...parts: Array<string | null>) => parts.filter((part): part is string => Boolean(part)).join(say.gap);

const itemsOf = (data: Record<string, unknown>, key: string): unknown[] => {
  const value = ownValue(data, key);
  return Array.isArray(value) ? value : [];
};

/** How the bot names an item it just added: its first text value, quoted. */
function summary(item: Record<string, unknown>, fields: readonly ItemField[], say: Phrases): string | null {
  const first = fields.map((field) => item[field.key]).find((value) => typeof value === 'string' || typeof value === 'number');
  return first === undefined ? null : say.quote(String(first));
}

/** Asks the first required field still to gather (starting a list at its first item field), or says the collection is complete. */
function askNext(turn: Turn, before: string | null): string {
  const { collect, state, say } = turn;
  const key = pendingFields(collect, turn.data, state.lang)[0];
  const field = collect.fields.find((candidate) => candidate.key === key);
  if (!field) {
    state.asked = null;
    state.item = null;
    // The completion message thanks the user itself: no acknowledgement before it.
    return collect.completion_message?.trim() || say.defaultCompletion;
  }
  state.asked = field.key;
  if (field.type !== 'list') {
    state.item = null;
    return sentences(say, before, question(field, say, state.lang));
  }
  const first = field.item_fields![0]!;
  state.item = { values: {}, field: first.key };
  delete state.items;
  return sentences(say, before, say.listStart(field.label), itemQuestion(first, say, state.lang));
}

/** The question the bot asked last, asked again. */
function currentQuestion(turn: Turn, field: CollectField): string {
  const { state, say } = turn;
  if (field.type !== 'list') return question(field, say, state.lang);
  const fields = field.item_fields ?? [];
  const asked = fields.find((item) => item.key === state.item?.field);
  if (asked) return itemQuestion(asked, say, state.lang);
  return say.another(null, field.label, fields[0]!.label);
}

/** "skip" or "no" for a required field is not its value (unless it is one of an enum's options). */
const refusesSkip = (field: CollectField | ItemField, message: string) =>
  Boolean(field.required) && isSkipWord(message) && !(field.type === 'enum' && validateValue(field, message, { data: {}, lang: 'en' }).ok);

/** An answer to a top-level field: stored when valid, else the reason and the question again. */
function answerField(turn: Turn, field: CollectField, message: string): string {
  const { state, say } = turn;
  const checked = refusesSkip(field, message) ? ({ ok: false, reason: say.reasons.required } as const) : validateValue(field, message, turn.context);
  if (!checked.ok) {
    state.refused[field.key] = checked.reason;
    return sentences(say, say.sorry(checked.reason), question(field, say, state.lang));
  }
  turn.data[field.key] = checked.value;
  delete state.refused[field.key];
  turn.changed = true;
  return askNext(turn, say.ack);
}

/** Closes the list being gathered: its items join the data, unless it is required and has none. */
function closeList(turn: Turn, field: CollectField): string {
  const { state, say } = turn;
  const first = field.item_fields![0]!;
  const gathered = state.items ?? [];
  const current = itemsOf(turn.data, field.key);
  const stored = acceptedItems(field, current, turn.context);
  if (field.required && stored.length + gathered.length === 0) {
    state.item = { values: {}, field: first.key };
    return sentences(say, say.listNeedsOne(field.label), itemQuestion(first, say, state.lang));
  }
  const list = [...stored, ...gathered];
  if (gathered.length > 0 || (current.length > 0 && !sameJson(list, current))) {
    turn.data[field.key] = list;
    turn.changed = true;
  }
  delete state.items;
  state.item = null;
  return askNext(turn, say.ack);
}

/** An answer while a list is gathered: an item field's value, "another?" answered, or the list closed. */
function answerList(turn: Turn, field: CollectField, message: string): string {
  const { state, say } = turn;
  const fields = field.item_fields ?? [];
  const item = state.item ?? { values: {}, field: fields[0]!.key };
  const asked = fields.find((candidate) => candidate.key === item.field) ?? fields[0]!;
  const startsItem = Object.keys(item.values).length === 0 && asked === fields[0];
  // An empty answer or a done word closes the list when asked for another item or for a new item's first field.
  if ((item.field === null || startsItem) && (message.trim() === '' || closesList(message, field.label))) return closeList(turn, field);
  // "Is there another one?" answered "yes": no item's value, but a wish to give one.
  if (item.field === null && isYesWord(message)) {
    state.item = { values: {}, field: fields[0]!.key };
    return itemQuestion(fields[0]!, say, state.lang);
  }
  state.item = item;
  item.field = asked.key;
  const skipped = !asked.required && (message.trim() === '' || isSkipWord(message));
  if (!skipped) {
    const checked = refusesSkip(asked, message) ? ({ ok: false, reason: say.reasons.required } as const) : validateValue(asked, message, turn.context);
    if (!checked.ok) {
      state.refused[field.key] = `${asked.label}: ${checked.reason}`;
      return sentences(say, say.sorry(checked.reason), itemQuestion(asked, say, state.lang));
    }
    item.values[asked.key] = checked.value;
  }
  const next = fields[fields.indexOf(asked) + 1];
  if (next) {
    item.field = next.key;
    return itemQuestion(next, say, state.lang);
  }
  const added = cleanRecord(item.values);
  const gathered = state.items ?? [];
  // The lists' text in all is bounded as on the model's path (data-size.ts); a list's first item is always taken.
  if (itemsOf(turn.data, field.key).length + gathered.length > 0 && listText(turn.collect.fields, turn.data) + textSize(field, [...gathered, added]) > MAX_LIST_TEXT) {
    return sentences(say, say.sorry(say.reasons.formFull(MAX_LIST_TEXT)), closeList(turn, field));
  }
  state.items = [...gathered, added].slice(0, MAX_ITEMS);
  delete state.refused[field.key];
  // The item that fills the list closes it: past it, items were said to be added and dropped.
  if (itemsOf(turn.data, field.key).length + state.items.length >= MAX_ITEMS) {
    return sentences(say, say.sorry(say.reasons.listFull(MAX_ITEMS)), closeList(turn, field));
  }
  state.item = { values: {}, field: null };
  return say.another(summary(added, fields, say), field.label, fields[0]!.label);
}

/** The first reply: the greeting, then the first question. The user's first message is not an answer. */
function opening(turn: Turn, greeting: string): string {
  const hello = greeting.trim() || turn.say.defaultGreeting;
  return `${hello}\n\n${askNext(turn, null)}`;
}

/** The collect with a template's own labels and completion message in the conversation's language. */
function localized(collect: Collect, lang: CollectLang): Collect {
  if (lang === 'zh-Hant') return collect;
  const labelled = <F extends { label: string }>(field: F): F => ({ ...field, label: inLanguage(field.label, lang) });
  return {
    ...collect,
    fields: collect.fields.map((field) => ({ ...labelled(field), ...(field.item_fields ? { item_fields: field.item_fields.map(labelled) } : {}) })),
    ...(collect.completion_message ? { completion_message: inLanguage(collect.completion_message, lang) } : {}),
  };
}

export function builtinCollectTurn(input: BuiltinCollectInput): CollectTurn {
  const { message } = input;
  const fresh = input.state === null || input.state === undefined;
  const greetingLang = detectLang(input.greeting ?? '') ?? 'en';
  const state = fresh ? emptyCollectState(nextLang(greetingLang, message)) : readCollectState(input.state, greetingLang);
  if (!fresh) state.lang = nextLang(state.lang, message);
  const collect = localized(input.collect, state.lang);
  const greeting = inLanguage(input.greeting ?? '', state.lang);
  const data = cleanRecord(input.data ?? {});
  const turn: Turn = { collect, data, state, say: phrases(state.lang), context: { data, lang: state.lang }, changed: false };
  const asked = collect.fields.find((field) => field.key === state.asked);
  let reply: string;
  if (fresh) reply = opening(turn, greeting);
  else if (!asked) reply = askNext(turn, null);
  else if (message === null) {
    // A regenerated opening keeps its greeting.
    const untouched =
      Object.keys(data).length === 0 && Object.keys(state.refused).length === 0 && Object.keys(state.item?.values ?? {}).length === 0 && !state.items?.length;
    reply = untouched && pendingFields(collect, data, state.lang)[0] === asked.key ? opening(turn, greeting) : currentQuestion(turn, asked);
  } else reply = asked.type === 'list' ? answerList(turn, asked, message) : answerField(turn, asked, message);
  return { data, state, reply, changed: turn.changed, completed: state.asked === null && hasRequired(collect) && pendingFields(collect, data, state.lang).length === 0 };
}
