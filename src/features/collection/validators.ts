// Every value is validated by its field's type before it is stored (§9), the same way whether a
// user typed it to the builtin responder or a model extracted it. A refusal says why, briefly, in
// the conversation's language, so the bot can tell the user and ask again.
import { codePointLength } from '../../lib/text.js';
import { foldLetters } from '../knowledge/letter-folding.js';
import type { Collect, CollectField } from './collect-schema.js';
import { isPlainObject, ownValue, type CollectLang, type ItemField } from './collect-state.js';
import { readNumber } from './numbers.js';
import { readPhone } from './phones.js';
import { compact, fold, isDecline, phrases, type Reasons } from './phrases.js';

export type Validated = { ok: true; value: unknown } | { ok: false; reason: string };
export interface ValidationContext {
  data: Record<string, unknown>;
  lang: CollectLang;
}

export const MAX_TEXT = 1000;
const MAX_URL = 2048;
/** Longer than any value could be once trimmed: refused before any normalising work. */
const MAX_RAW = 20_000;

const refuse = (reason: string): Validated => ({ ok: false, reason });
const accept = (value: unknown): Validated => ({ ok: true, value });

/** A value as text: models may give a number for a text field (a "3M" company, a phone). */
function asText(raw: unknown): string | null {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  return null;
}

// PostgreSQL's jsonb cannot hold U+0000, and other control characters (but line breaks and tabs)
// are never part of an answer.
const CONTROL = /[\p{Cc}]/gu;
/** A lone surrogate: with /u, half of a pair is matched only when the other half is not there. */
const HALF_CHARACTER = /\p{Cs}/u;
const clean = (text: string) => text.replace(CONTROL, (char) => (char === '\n' || char === '\t' || char === '\r' ? char : '')).trim();

function validateString(text: string, reasons: Reasons): Validated {
  const value = clean(text);
  if (codePointLength(value) > MAX_TEXT) return refuse(reasons.tooLong(MAX_TEXT));
  return accept(value);
}

const EMAIL =
  /^([a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@((?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59}))$/iu;
const EMAIL_IN_TEXT = /[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9.-]+\.[a-z]{2,63}/giu;
const TRAILING_CHARS = new Set([...' .,;:!?\'"。，、；：！？）)」』>']);
const LEADING = /^[\s'"「『(（<]+/u;

/**
 * The text without the punctuation and spaces after an answer ("me@example.com."). A scan from
 * the end: a pattern anchored only at the end is tried from every position, and a run of 10,000
 * dots before a letter made that quadratic (4 s of a frozen event loop for one message).
 */
function withoutTrailing(text: string): string {
  let end = text.length;
  while (end > 0 && (TRAILING_CHARS.has(text[end - 1]!) || /\s/u.test(text[end - 1]!))) end--;
  return text.slice(0, end);
}

/** The longest run of text without spaces that can hold an address (RFC 5321: 64 + 1 + 255) or a URL. */
const MAX_EMAIL_TOKEN = 320;

/**
 * Matches of `pattern` (global) in the text's space-free pieces of at most `longest` characters.
 * Neither an address nor a URL holds a space, so nothing is missed in a piece; a longer piece
 * holds none that could be valid, and a pattern with unbounded parts scanning it from every
 * position would take time growing with the square of its length.
 */
function matchesInPieces(text: string, pattern: RegExp, longest: number): string[] {
  const found = new Set<string>();
  for (const piece of text.split(/\s+/u)) {
    if (piece.length === 0 || piece.length > longest) continue;
    for (const match of piece.match(pattern) ?? []) found.add(match);
  }
  return [...found];
}

function validateEmail(text: string, reasons: Reasons): Validated {
  let candidate = withoutTrailing(text.normalize('NFKC').replace(LEADING, '')).replace(/^mailto:/iu, '');
  if (!EMAIL.test(candidate)) {
    const found = matchesInPieces(candidate, EMAIL_IN_TEXT, MAX_EMAIL_TOKEN);
    if (found.length !== 1) return refuse(reasons.notEmail);
    candidate = found[0]!.replace(/^\.+|\.+$/gu, '');
  }
  const parts = EMAIL.exec(candidate);
  if (!parts || parts[1]!.length > 64 || candidate.length > 254) return refuse(reasons.notEmail);
  return accept(`${parts[1]}@${parts[2]!.toLowerCase()}`);
}

const URL_IN_TEXT = /(?<![@\w.-])(?:https?:\/\/)?(?:[a-z0-9-]+\.)+[a-z]{2,63}(?::\d{1,5})?(?:[/?#][^\s<>"'，。！？」）]*)?/giu;
const SCHEME = /^([a-z][a-z0-9+.-]*):/iu;
const HOST_AND_PORT = /^[a-z0-9.-]+:\d+(?:[/?#]|$)/iu;

function normaliseUrl(candidate: string): Validated | 'only_http' | null {
  let text = candidate;
  if (text.startsWith('//')) text = `https:${text}`;
  const scheme = SCHEME.exec(text);
  if (scheme && !HOST_AND_PORT.test(text)) {
    if (!/^https?$/iu.test(scheme[1]!)) return 'only_http';
  } else text = `https://${text}`;
  if (/\s/u.test(text) || text.length > MAX_URL) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only_http';
  const labels = url.hostname.split('.');
  const top = labels[labels.length - 1] ?? '';
  // A site's name: at least two labels and a real top-level domain, no credentials in it.
  if (labels.length < 2 || labels.some((label) => label === '') || !/^(?:[a-z]{2,63}|xn--[a-z0-9-]+)$/u.test(top)) return null;
  if (url.username || url.password) return null;
  return accept(`${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}${url.search}${url.hash}`);
}

function validateUrl(text: string, reasons: Reasons): Validated {
  const candidate = withoutTrailing(text.normalize('NFKC').replace(LEADING, ''));
  let result = normaliseUrl(candidate);
  if (result === null && /\s|[^\p{ASCII}]/u.test(candidate)) {
    const found = matchesInPieces(candidate, URL_IN_TEXT, MAX_URL);
    if (found.length === 1) result = normaliseUrl(withoutTrailing(found[0]!));
  }
  if (result === 'only_http') return refuse(reasons.onlyHttp);
  return result ?? refuse(reasons.notUrl);
}

function validateNumber(raw: unknown, reasons: Reasons): Validated {
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return refuse(reasons.notNumber);
    return Math.abs(raw) > Number.MAX_SAFE_INTEGER ? refuse(reasons.tooLarge) : accept(raw);
  }
  if (typeof raw !== 'string') return refuse(reasons.notNumber);
  const reading = readNumber(raw);
  if (reading.ok) return accept(reading.value);
  return refuse(reading.problem === 'several' ? reasons.severalNumbers : reading.problem === 'too_large' ? reasons.tooLarge : reasons.notNumber);
}

export interface EnumOption {
  value: string;
  label: string;
}

export const enumOptions = (field: CollectField | ItemField): EnumOption[] =>
  (field.options ?? []).map((option) => (typeof option === 'string' ? { value: option, label: option } : option));

const LATIN_WORD = /^[\p{Script=Latin}\p{N}\s'’-]+$/u;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
/** Whether a text names a phrase: as whole words for Latin letters ("pro" is not in "improve"), anywhere for Chinese or Bengali. */
export function mentions(text: string, phrase: string): boolean {
  const wanted = fold(phrase);
  if (!wanted) return false;
  if (LATIN_WORD.test(wanted)) return new RegExp(`(?<![\\p{L}\\p{N}])${escape(foldLetters(wanted))}(?![\\p{L}\\p{N}])`, 'u').test(foldLetters(fold(text)));
  const bare = compact(phrase);
  // Punctuation alone ("???") is in every text once punctuation is set aside: only the text that is it names it.
  if (!bare) return fold(text) === wanted;
  return compact(text).includes(bare);
}

const onlyOne = <T>(found: T[]): T | undefined => (found.length === 1 ? found[0] : undefined);

/**
 * The option an answer is: written exactly so, then with case and width forgiven, then without
 * spaces, punctuation and accents when that leaves one option only ("C++", "C#" and "C" all read
 * "c"; "cafe" is "Café" unless "Cafe" is an option too). Accents go as knowledge search forgives
 * them (letter-folding.ts): "strasse" is "Straße", Greek "καφε" is "Καφέ", Cyrillic keeps "й".
 */
function chosenOption(options: EnumOption[], text: string): EnumOption | undefined {
  const trimmed = text.trim();
  const folded = fold(text);
  const answer = foldLetters(compact(text));
  const bare = (option: string) => foldLetters(compact(option));
  return (
    options.find((option) => option.value === trimmed || option.label === trimmed) ??
    options.find((option) => fold(option.value) === folded || fold(option.label) === folded) ??
    onlyOne(options.filter((option) => answer !== '' && (bare(option.value) === answer || bare(option.label) === answer)))
  );
}

function validateEnum(field: CollectField | ItemField, text: string, reasons: Reasons): Validated {
  const options = enumOptions(field);
  const exact = chosenOption(options, text);
  if (exact) return accept(exact.value);
  // "We're on the Professional plan": one option named inside a sentence.
  const named = options.filter((option) => mentions(text, option.value) || mentions(text, option.label));
  if (named.length === 1) return accept(named[0]!.value);
  return refuse(reasons.notOption(options.map((option) => option.label)));
}

/** A list item: an object with its item fields, each validated; a required one must be there. */
export function validateItem(fields: readonly ItemField[], raw: unknown, context: ValidationContext): Validated {
  const reasons = phrases(context.lang).reasons;
  if (!isPlainObject(raw)) return refuse(reasons.notList);
  const item: Record<string, unknown> = {};
  for (const field of fields) {
    const value = ownValue(raw, field.key);
    if (value === undefined || value === null || value === '') {
      if (field.required) return refuse(reasons.itemIncomplete(field.label));
      continue;
    }
    const checked = validateValue(field, value, context);
    if (!checked.ok) return refuse(`${field.label}: ${checked.reason}`);
    item[field.key] = checked.value;
  }
  return accept(item);
}

/**
 * The stored items a list keeps when items join it or it is closed. A required list holding an
 * item the schema does not accept (an item field added as required, or taken away) is asked for
 * again, and the items given then joined the old ones: the list stayed invalid whatever the user
 * gave, and the conversation never completed. It keeps the items the schema accepts now, in the
 * form it gives them (a key it no longer has set aside). An optional list holds nothing back: its
 * items stay as they are, unvalidated (500 items of 20 fields take 140 ms).
 */
export function acceptedItems(field: CollectField, stored: unknown, context: ValidationContext): unknown[] {
  if (!Array.isArray(stored)) return [];
  if (!field.required) return [...stored];
  const kept: unknown[] = [];
  for (const item of stored) {
    const checked = validateItem(field.item_fields ?? [], item, context);
    if (checked.ok) kept.push(checked.value);
  }
  return kept;
}

function validateList(field: CollectField, raw: unknown, context: ValidationContext): Validated {
  const items = Array.isArray(raw) ? raw : isPlainObject(raw) ? [raw] : null;
  if (!items) return refuse(phrases(context.lang).reasons.notList);
  const valid: unknown[] = [];
  for (const item of items) {
    const checked = validateItem(field.item_fields ?? [], item, context);
    if (!checked.ok) return checked;
    valid.push(checked.value);
  }
  return accept(valid);
}

/** raw: a user's typed answer (string) or a value a model extracted (string | number | object…). */
export function validateValue(field: CollectField | ItemField, raw: unknown, context: ValidationContext): Validated {
  const reasons = phrases(context.lang).reasons;
  if (raw === null || raw === undefined) return refuse(reasons.empty);
  if (field.type === 'list') return validateList(field as CollectField, raw, context);
  if (field.type === 'number') {
    if (typeof raw === 'string') {
      if (raw.length > MAX_RAW) return refuse(reasons.tooLong(MAX_TEXT));
      if (clean(raw) === '') return refuse(reasons.empty);
      if (isDecline(raw)) return refuse(reasons.declined);
    }
    return validateNumber(raw, reasons);
  }
  const text = asText(raw);
  if (text === null) return refuse(reasons.notText);
  if (text.length > MAX_RAW) return refuse(reasons.tooLong(MAX_TEXT));
  // Half of a character (a model's JSON may escape a lone surrogate) is no text anyone typed, and
  // jsonb refuses it: the statement storing the turn's data failed with it.
  if (HALF_CHARACTER.test(text)) return refuse(reasons.notText);
  if (clean(text) === '') return refuse(reasons.empty);
  if (isDecline(text)) return refuse(reasons.declined);
  switch (field.type) {
    case 'email':
      return validateEmail(text, reasons);
    case 'phone': {
      const reading = readPhone(text, context.data);
      if (reading.ok) return accept(reading.value);
      return refuse(reading.problem === 'needs_country_code' ? reasons.needsCountryCode : reasons.notPhone);
    }
    case 'url':
      return validateUrl(text, reasons);
    case 'enum':
      return validateEnum(field, text, reasons);
    default:
      return validateString(text, reasons);
  }
}

/** The same JSON value, whatever the order of object keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => sameJson(ownValue(a, key), ownValue(b, key)));
}

const isMissing = (field: CollectField, value: unknown) =>
  value === undefined || value === null || value === '' || (field.type === 'list' && (!Array.isArray(value) || value.length === 0));

/**
 * Keys of the required fields still to be gathered: missing (as missingFields says) or holding a
 * value that is not valid as stored (the schema changed since), in the schema's order.
 */
export function pendingFields(collect: Collect, data: Record<string, unknown>, lang: CollectLang = 'en'): string[] {
  return collect.fields
    .filter((field) => field.required)
    .filter((field) => isMissing(field, ownValue(data, field.key)) || !holdsValid(field, data, lang))
    .map((field) => field.key);
}

/** Whether the field's stored value is valid as stored (the schema may have changed since it was stored). */
export function holdsValid(field: CollectField, data: Record<string, unknown>, lang: CollectLang = 'en'): boolean {
  const value = ownValue(data, field.key);
  // A stored value is kept in the form validation gives it (a number as a JSON number).
  const checked = validateValue(field, value, { data, lang });
  return checked.ok && sameJson(checked.value, value);
}

/** Every required field holds a valid value: the only way a conversation completes. */
/** A collect without required fields gathers what it can and never completes: completion needs something required. */
export const hasRequired = (collect: Collect): boolean => collect.fields.some((field) => field.required);

export const isComplete = (collect: Collect, data: Record<string, unknown>): boolean => hasRequired(collect) && pendingFields(collect, data).length === 0;
