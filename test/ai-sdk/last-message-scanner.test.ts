// The scanner POST /v1/ai-sdk/chat reads its body with (src/features/ai-sdk/last-message-scanner.ts):
// all of a body is kept but the earlier elements of its top-level `messages`, which become
// placeholders; whatever the chunks, the same bytes are kept; a body broken anywhere (JSON or UTF-8)
// is refused as the JSON parser refuses it; and what is kept is held to its limit.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error.js';
import { readableAsSent } from '../../src/features/ai-sdk/last-message-body.js';
import { LastMessageScanner, PLACEHOLDER } from '../../src/features/ai-sdk/last-message-scanner.js';
import { seededRandom } from '../helpers/random.js';

const P = JSON.parse(PLACEHOLDER);

/** The body through the scanner, cut into chunks of `size` bytes (or at `cuts`). */
function scan(body: string | Buffer, options: { limit?: number; size?: number; cuts?: number[]; reduce?: boolean } = {}): string {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const scanner = new LastMessageScanner(options.limit ?? 1e9, options.reduce ?? true);
  const cuts = options.cuts ?? [];
  if (options.size) for (let at = options.size; at < bytes.length; at += options.size) cuts.push(at);
  const out: Buffer[] = [];
  let from = 0;
  for (const at of [...cuts, bytes.length]) {
    out.push(...scanner.write(bytes.subarray(from, at)));
    from = at;
  }
  out.push(...scanner.end());
  return Buffer.concat(out).toString();
}

/** The AppError's code and detail the scanner threw. */
function refusal(body: string | Buffer, options: Parameters<typeof scan>[1] = {}): string {
  try {
    scan(body, options);
  } catch (error) {
    if (error instanceof AppError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'kept';
}

const NOT_JSON = 'invalid_json: The request body is not valid JSON';
const NOT_UTF8 = 'invalid_json: The request body is not valid UTF-8';
const TOO_LARGE = 'payload_too_large: The request body is larger than this server accepts';

const message = (id: string, text: string) => ({ id, role: 'user', parts: [{ type: 'text', text }] });

/** The body as the server's handler sees it: earlier messages replaced. */
const reduced = (body: { messages: unknown[] }) => ({ ...body, messages: body.messages.map((m, i) => (i === body.messages.length - 1 ? m : P)) });

describe('what the scanner keeps', () => {
  const body = { id: 'chat-1', before: { messages: [1, 2, 3] }, messages: [message('u1', 'one'), message('a1', 'two'), message('u2', 'three')], trigger: 'submit-message', after: [true, false, null, -1.5e-3] };

  it('every member, and of `messages` the last element whole and placeholders for the others', () => {
    const kept = scan(JSON.stringify(body));
    expect(JSON.parse(kept)).toEqual(reduced(body));
    expect(kept.length).toBeLessThan(JSON.stringify(body).length);
  });

  it('the same bytes whatever the chunks (one byte at a time, or cut at random)', () => {
    const text = JSON.stringify(body, null, 2);
    const whole = scan(text);
    for (let size = 1; size <= 9; size++) expect(scan(text, { size }), `chunks of ${size}`).toBe(whole);
    const random = seededRandom(7);
    for (let run = 0; run < 50; run++) {
      const cuts = [...new Set(Array.from({ length: 6 }, () => Math.floor(random() * text.length)))].sort((a, b) => a - b);
      expect(scan(text, { cuts }), `cut at ${cuts.join(',')}`).toBe(whole);
    }
  });

  it('strings in earlier messages holding quotes, brackets, backslashes and escapes do not end them early', () => {
    const tricky = ['he said "]}], {"x": [', 'ends with a backslash \\', '\\"', '\\\\"]', 'é ☃ 😀 \u0000\u001f\u2028 \ud800', '{"messages":[]}', '"'];
    const chat = { id: 'c', messages: [...tricky.map((text, i) => message(`m${i}`, text)), message('last', 'the "real" one ] }')] };
    const text = JSON.stringify(chat).replace('\\u0000', '\\u0000\\/\\b\\f\\n\\r\\t\\u005D');
    const expected = reduced(JSON.parse(text));
    expect(JSON.parse(scan(text))).toEqual(expected);
    expect(JSON.parse(scan(text, { size: 1 }))).toEqual(expected);
    expect(JSON.parse(scan(text, { size: 3 }))).toEqual(expected);
  });

  it('only the top-level `messages`, and only as an array; a key written with escapes is kept whole', () => {
    const cases: Array<[string, unknown]> = [
      ['{"messages":[]}', { messages: [] }],
      ['{"messages":[ ]}', { messages: [] }],
      ['{"messages":[1]}', { messages: [1] }],
      ['{"messages":"text"}', { messages: 'text' }],
      ['{"messages":{"messages":[1,2]}}', { messages: { messages: [1, 2] } }],
      ['{"message":[1,2],"messagesX":[1,2],"Messages":[1,2]}', { message: [1, 2], messagesX: [1, 2], Messages: [1, 2] }],
      ['{"\\u006dessages":[1,2]}', { messages: [1, 2] }],
      ['{"messages":[1,2],"messages":[3,{"a":[4]}]}', { messages: [P, { a: [4] }] }],
      ['{"a":{"messages":[1,2]},"messages":[[1],[2],[3]]}', { a: { messages: [1, 2] }, messages: [P, P, [3]] }],
      ['\ufeff {"messages" : [ 1 , 2 ] } \n', { messages: [P, 2] }],
    ];
    for (const [text, expected] of cases) expect(JSON.parse(scan(text).replace(/^\ufeff/, '')), text).toEqual(expected);
  });

  it('random documents: what is kept parses as the document with placeholders', () => {
    const random = seededRandom(42);
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;
    const strings = ['', 'a', '"', '\\', '[', ']', '{', '}', ',', ':', 'é', '😀', '\n', '\u0001', 'messages', ' '];
    const value = (depth: number): unknown => {
      const kind = depth > 4 ? pick([0, 1, 2]) : pick([0, 1, 2, 3, 4]);
      if (kind === 0) return pick([0, -0.5, 1e21, 123456789, -1e-7, 42]);
      if (kind === 1) return Array.from({ length: Math.floor(random() * 4) }, () => pick(strings)).join('');
      if (kind === 2) return pick([true, false, null]);
      if (kind === 3) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(strings), value(depth + 1)]));
    };
    for (let run = 0; run < 200; run++) {
      const doc = { a: value(0), messages: Array.from({ length: Math.floor(random() * 5) }, () => value(1)), z: value(0) };
      const text = JSON.stringify(doc, null, pick([0, 1, '\t']));
      const expected = reduced(JSON.parse(text));
      expect(JSON.parse(scan(text, { size: 1 + Math.floor(random() * 20) })), text).toEqual(expected);
    }
  });

  it('nesting of any depth, in an earlier message or in a member kept', () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const text = `{"messages":[${deep},{"role":"user"}],"state":${deep}}`;
    const kept = scan(text, { size: 65_536 });
    expect(kept.startsWith(`{"messages":[${PLACEHOLDER},{"role":"user"}],"state":[[[`)).toBe(true);
    expect(kept.length).toBe(text.length - deep.length + PLACEHOLDER.length);
  });

  it('a body that is not an object is kept as sent, for the parser to judge', () => {
    for (const text of ['[1,2]', '"messages"', '   ', '', 'not json', '\u00a0{"messages":[1,2]}', 'null']) {
      expect(scan(text, { size: 2 }), JSON.stringify(text)).toBe(text);
    }
    expect(refusal('[1,2,3,4]', { limit: 8 })).toBe(TOO_LARGE);
  });

  it('unread (reduce: false): kept as sent, up to the limit', () => {
    const text = '{"messages":[1,2,3]}';
    expect(scan(text, { reduce: false })).toBe(text);
    expect(scan(Buffer.from([0xe9, 0x7b]), { reduce: false })).toBe(Buffer.from([0xe9, 0x7b]).toString());
    expect(refusal(text, { reduce: false, limit: text.length - 1 })).toBe(TOO_LARGE);
  });
});

describe('bodies the scanner refuses', () => {
  const early = (element: string) => `{"id":"c","messages":[${element},{"role":"user","parts":[{"type":"text","text":"hi"}]}]}`;

  it.each([
    ['a trailing comma', '{"a":[1,2,]}'],
    ['a missing value', '{"a":}'],
    ['a missing colon', '{"a" 1}'],
    ['a missing comma', '{"a":1 "b":2}'],
    ['an unquoted key', '{a:1}'],
    ['a single-quoted string', "{'a':1}"],
    ['a mismatched bracket', '{"a":[1}'],
    ['an extra bracket', '{"a":[1]]}'],
    ['a control character in a string', '{"a":"x\ty"}'],
    ['an unknown escape', '{"a":"\\x41"}'],
    ['a short \\u escape', '{"a":"\\u12g4"}'],
    ['a leading zero', '{"a":01}'],
    ['a bare minus', '{"a":-}'],
    ['a bare decimal point', '{"a":1.}'],
    ['a bare exponent', '{"a":1e}'],
    ['a leading plus', '{"a":+1}'],
    ['a misspelt literal', '{"a":tru}'],
    ['a literal in capitals', '{"a":True}'],
    ['NaN', '{"a":NaN}'],
    ['a comment', '{"a":1/*x*/}'],
    ['an unclosed string', '{"a":"x}'],
  ])('%s in an earlier message: not valid JSON, as JSON.parse says', (_name, element) => {
    expect(() => JSON.parse(early(element))).toThrow();
    expect(refusal(early(element))).toBe(NOT_JSON);
    expect(refusal(early(element), { size: 1 })).toBe(NOT_JSON);
  });

  it.each([
    ['cut short', '{"messages":[1,2'],
    ['cut in a string', '{"messages":["ab'],
    ['cut in a number', '{"messages":[1'],
    ['text after the object', '{"messages":[1]} x'],
    ['a second object', '{"messages":[1]}{}'],
  ])('a body %s: not valid JSON', (_name, text) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(refusal(text)).toBe(NOT_JSON);
  });

  it.each([
    ['a stray continuation byte', [0x80]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['a surrogate', [0xed, 0xa0, 0x80]],
    ['a character cut short', [0xe2, 0x98]],
    ['a byte never in UTF-8', [0xff]],
  ])('%s in an earlier message: not valid UTF-8, whatever the chunks', (_name, bytes) => {
    const body = Buffer.concat([Buffer.from('{"messages":["a'), Buffer.from(bytes), Buffer.from('b","c"]}')]);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(body)).toThrow();
    for (const size of [1, 2, 3, 100]) expect(refusal(body, { size }), `chunks of ${size}`).toBe(NOT_UTF8);
  });

  it('random documents broken by one byte: refused exactly when JSON.parse refuses them', () => {
    const random = seededRandom(7);
    const alphabet = '{}[]",:\\0123456789.-+eEtrufalsn \n\tx/';
    let broken = 0;
    for (let run = 0; run < 3000; run++) {
      const doc = { id: 'c', messages: [{ role: 'assistant', parts: [{ type: 'text', text: 'a "b" \\ [c]', n: -1.5e3 }], ok: true, no: null }, message('m2', 'x')], z: [1, { y: false }] };
      const text = JSON.stringify(doc, null, run % 3 === 0 ? 1 : 0);
      const at = Math.floor(random() * text.length);
      const byte = alphabet[Math.floor(random() * alphabet.length)]!;
      const mutated = [text.slice(0, at) + byte + text.slice(at + 1), text.slice(0, at) + byte + text.slice(at), text.slice(0, at) + text.slice(at + 1)][run % 3]!;
      if (!/^\s*\{/.test(mutated)) continue;
      let parses = true;
      try {
        JSON.parse(mutated);
      } catch {
        parses = false;
      }
      // What the scanner lets through is parsed afterwards: a fault in what it keeps is found then.
      let accepted = true;
      try {
        JSON.parse(scan(mutated, { size: 1 + (run % 7) }));
      } catch (error) {
        if (error instanceof AppError) expect(`${error.code}: ${error.message}`).toBe(NOT_JSON);
        accepted = false;
      }
      expect(accepted, mutated).toBe(parses);
      if (!parses) broken++;
    }
    expect(broken).toBeGreaterThan(1000);
  });

  it('a body cut in a character: not valid UTF-8', () => {
    expect(refusal(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xf0, 0x9f, 0x98])]))).toBe(NOT_UTF8);
  });
});

describe('what is kept is held to the limit', () => {
  const long = (id: string) => message(id, 'x'.repeat(1000));

  it('earlier messages longer than the limit are dropped; a last one is refused', () => {
    const fits = JSON.stringify({ id: 'c', messages: [long('a'), long('b'), message('c', 'short')] });
    expect(JSON.parse(scan(fits, { limit: 200, size: 7 })).messages.at(-1).id).toBe('c');
    const over = JSON.stringify({ id: 'c', messages: [message('a', 'short'), long('b')] });
    expect(refusal(over, { limit: 200 })).toBe(TOO_LARGE);
    expect(refusal(over, { limit: 200, size: 5 })).toBe(TOO_LARGE);
  });

  it('every byte kept counts: the members, the placeholders, the last message', () => {
    const body = JSON.stringify({ id: 'c', messages: [1, 2, 3, 4, message('last', 'hi')], trigger: 'submit-message' });
    const kept = scan(body);
    expect(scan(body, { limit: kept.length })).toBe(kept);
    expect(refusal(body, { limit: kept.length - 1 })).toBe(TOO_LARGE);
    expect(refusal(JSON.stringify({ state: 'x'.repeat(300), messages: [] }), { limit: 200 })).toBe(TOO_LARGE);
  });
});

describe('readableAsSent', () => {
  it('is false for a compressed body or another charset, which the JSON parser refuses (415)', () => {
    expect(readableAsSent({ 'content-type': 'application/json' })).toBe(true);
    expect(readableAsSent({ 'content-type': 'application/json; charset=UTF-8', 'content-encoding': 'identity' })).toBe(true);
    expect(readableAsSent({ 'content-type': 'application/json; charset="us-ascii"' })).toBe(true);
    expect(readableAsSent({ 'content-type': 'application/json', 'content-encoding': 'gzip' })).toBe(false);
    expect(readableAsSent({ 'content-type': 'application/json; charset=latin1' })).toBe(false);
  });
});
