// useChat's DefaultChatTransport sends the chat's whole history with every message, though the
// server reads only the last one. This reads such a body as it streams in, byte by byte, and keeps
// all of it but the earlier elements of the top-level `messages` array: each becomes a placeholder
// (PLACEHOLDER) as soon as the comma after it shows it is not the last, so what is kept stays small
// however long the chat, and the array keeps its length (refusals name `messages.<n>` as sent, and
// its maxItems holds). The bytes it drops are checked all the same: JSON's grammar (strings and their
// escapes, numbers, literals, nesting at any depth, without recursion) and UTF-8, so a body broken
// anywhere is refused as the server's JSON parser refuses it (400 invalid_json, with its words).
// What it keeps is parsed by that parser afterwards. A body that does not start with an object is
// kept as sent, for the parser to judge.
import { AppError } from '../../errors/app-error.js';
import { BACKSLASH, BOM, COMMA, ESCAPES, isDigit, isHex, isSpace, LITERALS, Nesting, nextInNumber, numberMayEnd, numberStart, QUOTE } from './json-grammar.js';
import { Utf8Check } from './utf8-check.js';

/** What stands for each earlier message: the least the schema takes, never read. */
export const PLACEHOLDER = '{"role":"user","parts":[]}';
const PLACEHOLDER_AND_COMMA = Buffer.from(`${PLACEHOLDER},`);

// The parser's words (src/http/body-parsers.ts, src/http/problem.ts), so the answers are the same.
export const tooLarge = () => new AppError('payload_too_large', 'The request body is larger than this server accepts');
const notJson = () => new AppError('invalid_json', 'The request body is not valid JSON');

// What comes next.
const START = 0; // before the body's first value (a byte order mark, whitespace)
const VALUE = 1;
const ARRAY_FIRST = 2; // a value or `]`
const OBJECT_FIRST = 3; // a key or `}`
const KEY = 4;
const COLON = 5;
const AFTER = 6; // after a value: `,` or the container's end
const STRING = 7;
const ESCAPE = 8;
const HEX = 9;
const LITERAL = 10;
const NUMBER = 11;
const END = 12; // after the body's object: whitespace only
const AS_SENT = 13; // not an object: kept as sent

const MESSAGES = Buffer.from('messages');

/**
 * Streams a JSON body through, keeping the last element of its top-level `messages` array and
 * placeholders for the others. `write` each chunk as it comes, then `end`; each returns the bytes
 * kept so far (views of the chunks), and throws an AppError (400 invalid_json, or 413 when what is
 * kept passes `keptLimit`: a last message too long for it is refused, an earlier one is not).
 * `reduce: false` keeps the body as sent (up to `keptLimit`), unread.
 */
export class LastMessageScanner {
  private state: number;
  private number = 0;
  private literal: Buffer = MESSAGES;
  private literalAt = 0;
  private hexLeft = 0;
  private readonly nesting = new Nesting();
  private inKey = false;
  /** How much of `messages` the top-level key being read has matched; -1 when it is another. */
  private keyAt = -1;
  private messagesNext = false;
  private inMessages = false;
  private kept = 0;
  /** The element of `messages` being read: kept if `]` follows it, dropped if `,` does. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The element being read is longer than what may be kept: 413 if it is the last. */
  private overflow = false;
  /** Where the bytes from runStart go: kept (true) or the pending element. */
  private keeping = true;
  private runStart = 0;
  private seen = 0;
  private out: Buffer[] = [];
  private readonly utf8 = new Utf8Check();

  constructor(
    private readonly keptLimit: number,
    reduce = true,
  ) {
    this.state = reduce ? START : AS_SENT;
  }

  write(chunk: Buffer): Buffer[] {
    this.out = [];
    if (this.state === AS_SENT) {
      this.keep(chunk);
      return this.out;
    }
    this.utf8.write(chunk);
    this.runStart = 0;
    this.scan(chunk);
    this.flush(chunk, chunk.length);
    this.seen += chunk.length;
    return this.out;
  }

  end(): Buffer[] {
    this.out = [];
    if (this.state === AS_SENT || this.state === START) return this.out;
    this.utf8.end();
    if (this.state !== END) throw notJson();
    return this.out;
  }

  private scan(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.state === STRING) i = this.inString(chunk, i);
      else if (this.state === NUMBER) i = this.inNumber(chunk, i);
      else if (this.state === AS_SENT) return;
      else this.step(chunk, i++);
    }
  }

  /** One byte outside strings and numbers. */
  private step(chunk: Buffer, i: number): void {
    const b = chunk[i]!;
    if (this.state === ESCAPE) return this.escape(b);
    if (this.state === HEX) return this.hex(b);
    if (this.state === LITERAL) return this.inLiteral(b);
    if (isSpace(b)) return;
    switch (this.state) {
      case START:
        return this.start(b, this.seen + i);
      case VALUE:
        return this.value(b, chunk, i);
      case ARRAY_FIRST:
        return b === 0x5d ? this.close(chunk, i) : this.value(b, chunk, i);
      case OBJECT_FIRST:
        return b === 0x7d ? this.close(chunk, i) : this.key(b);
      case KEY:
        return this.key(b);
      case COLON:
        if (b !== 0x3a) throw notJson();
        this.state = VALUE;
        return;
      case AFTER:
        return this.after(b, chunk, i);
      default:
        throw notJson();
    }
  }

  private start(b: number, position: number): void {
    if (position < BOM.length && b === BOM[position]) return;
    if (b !== 0x7b) {
      this.state = AS_SENT;
      return;
    }
    this.nesting.push(true);
    this.state = OBJECT_FIRST;
  }

  private value(b: number, chunk: Buffer, i: number): void {
    const messages = this.messagesNext;
    this.messagesNext = false;
    if (b === 0x7b) {
      this.nesting.push(true);
      this.state = OBJECT_FIRST;
    } else if (b === 0x5b) {
      this.nesting.push(false);
      this.state = ARRAY_FIRST;
      if (messages) this.openMessages(chunk, i);
    } else if (b === QUOTE) {
      this.openString(false);
    } else if (LITERALS[b] !== undefined) {
      this.literal = LITERALS[b];
      this.literalAt = 1;
      this.state = LITERAL;
    } else if (b === 0x2d || isDigit(b)) {
      this.number = numberStart(b);
      this.state = NUMBER;
    } else {
      throw notJson();
    }
  }

  private key(b: number): void {
    if (b !== QUOTE) throw notJson();
    this.openString(true);
  }

  private after(b: number, chunk: Buffer, i: number): void {
    const object = this.nesting.inObject();
    if (b === COMMA) {
      this.state = object ? KEY : VALUE;
      if (this.inMessages && this.nesting.depth === 2) this.dropElement(chunk, i);
    } else if (b === (object ? 0x7d : 0x5d)) {
      this.close(chunk, i);
    } else {
      throw notJson();
    }
  }

  private close(chunk: Buffer, i: number): void {
    if (this.inMessages && this.nesting.depth === 2) this.closeMessages(chunk, i);
    this.nesting.pop();
    this.afterValue();
  }

  private afterValue(): void {
    this.state = this.nesting.depth === 0 ? END : AFTER;
  }

  private openString(key: boolean): void {
    this.state = STRING;
    this.inKey = key;
    this.keyAt = key && this.nesting.depth === 1 ? 0 : -1;
  }

  /** The string's plain bytes at once, up to its end, an escape, or a control character (refused, as JSON refuses it). */
  private inString(chunk: Buffer, i: number): number {
    const n = chunk.length;
    let j = i;
    while (j < n) {
      const b = chunk[j]!;
      if (b === QUOTE || b === BACKSLASH || b < 0x20) break;
      j++;
    }
    if (this.keyAt >= 0) this.matchKey(chunk, i, j);
    if (j === n) return n;
    const b = chunk[j]!;
    if (b === QUOTE) this.closeString();
    else if (b === BACKSLASH) this.state = ESCAPE;
    else throw notJson();
    // A key written with escapes is not taken for `messages`: that one is kept whole.
    this.keyAt = b === BACKSLASH ? -1 : this.keyAt;
    return j + 1;
  }

  private matchKey(chunk: Buffer, from: number, to: number): void {
    for (let k = from; k < to; k++) {
      if (chunk[k] !== MESSAGES[this.keyAt]) {
        this.keyAt = -1;
        return;
      }
      this.keyAt++;
    }
  }

  private closeString(): void {
    if (!this.inKey) return this.afterValue();
    this.inKey = false;
    this.messagesNext = this.keyAt === MESSAGES.length;
    this.state = COLON;
  }

  private escape(b: number): void {
    if (b === 0x75) {
      this.hexLeft = 4;
      this.state = HEX;
    } else if (ESCAPES.has(b)) {
      this.state = STRING;
    } else {
      throw notJson();
    }
  }

  private hex(b: number): void {
    if (!isHex(b)) throw notJson();
    if (--this.hexLeft === 0) this.state = STRING;
  }

  private inLiteral(b: number): void {
    if (b !== this.literal[this.literalAt]) throw notJson();
    if (++this.literalAt === this.literal.length) this.afterValue();
  }

  /** A number's bytes; the byte that ends it is left for the next state. */
  private inNumber(chunk: Buffer, i: number): number {
    const n = chunk.length;
    for (; i < n; i++) {
      const b = chunk[i]!;
      const next = nextInNumber(this.number, b);
      if (next === -1) {
        if (!numberMayEnd(this.number)) throw notJson();
        this.afterValue();
        return i;
      }
      this.number = next;
    }
    return n;
  }

  /** The `[` of the top-level `messages`: what follows is pending, element by element. */
  private openMessages(chunk: Buffer, i: number): void {
    this.flush(chunk, i + 1);
    this.keeping = false;
    this.inMessages = true;
  }

  /** A `,` after an element of `messages`: it was not the last. */
  private dropElement(chunk: Buffer, i: number): void {
    this.flush(chunk, i);
    this.forgetPending();
    this.keep(PLACEHOLDER_AND_COMMA);
    this.runStart = i + 1;
  }

  /** The `]` of `messages`: the pending element was the last, and is kept. */
  private closeMessages(chunk: Buffer, i: number): void {
    this.flush(chunk, i);
    if (this.overflow) throw tooLarge();
    const last = this.pending;
    this.forgetPending();
    this.keeping = true;
    this.inMessages = false;
    for (const part of last) this.keep(part);
  }

  private forgetPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.overflow = false;
  }

  private flush(chunk: Buffer, end: number): void {
    if (end > this.runStart) {
      const part = chunk.subarray(this.runStart, end);
      if (this.keeping) this.keep(part);
      else this.pend(part);
    }
    this.runStart = end;
  }

  private keep(part: Buffer): void {
    if (this.kept + part.length > this.keptLimit) throw tooLarge();
    this.kept += part.length;
    this.out.push(part);
  }

  private pend(part: Buffer): void {
    if (this.overflow) return;
    if (this.kept + this.pendingBytes + part.length > this.keptLimit) {
      this.forgetPending();
      this.overflow = true;
      return;
    }
    this.pending.push(part);
    this.pendingBytes += part.length;
  }
}
