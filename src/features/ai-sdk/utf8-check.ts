// UTF-8 checked as a body streams in, for last-message-scanner.ts: each chunk natively (isUtf8),
// a character cut between two chunks checked whole. The parser's words (src/http/body-parsers.ts).
import { isUtf8 } from 'node:buffer';
import { AppError } from '../../errors/app-error.js';

const notUtf8 = () => new AppError('invalid_json', 'The request body is not valid UTF-8');

const sequenceLength = (lead: number) => (lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1);

/** Where a character cut off by the chunk's end begins (the chunk's length when none is). */
function incompleteTail(chunk: Buffer, from: number): number {
  const n = chunk.length;
  for (let j = n - 1; j >= Math.max(from, n - 3); j--) {
    const byte = chunk[j]!;
    if (byte < 0x80) return n;
    if (byte >= 0xc0) return n - j < sequenceLength(byte) ? j : n;
  }
  return n;
}

/** UTF-8 checked chunk by chunk (natively): a character cut between two chunks is checked whole. */
export class Utf8Check {
  private carry: Buffer | null = null;

  write(chunk: Buffer): void {
    let from = 0;
    if (this.carry) {
      const length = sequenceLength(this.carry[0]!);
      from = Math.min(chunk.length, length - this.carry.length);
      const joined = Buffer.concat([this.carry, chunk.subarray(0, from)]);
      this.carry = joined.length < length ? joined : null;
      if (this.carry) return;
      if (!isUtf8(joined)) throw notUtf8();
    }
    const cut = incompleteTail(chunk, from);
    if (!isUtf8(chunk.subarray(from, cut))) throw notUtf8();
    if (cut < chunk.length) this.carry = Buffer.from(chunk.subarray(cut));
  }

  end(): void {
    if (this.carry) throw notUtf8();
  }
}
