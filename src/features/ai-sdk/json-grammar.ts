// The pieces of JSON's grammar that LastMessageScanner checks a body against, byte by byte.

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const BOM = [0xef, 0xbb, 0xbf];
/** `true`, `false` and `null`, by their first byte. */
export const LITERALS: Record<number, Buffer> = { 0x74: Buffer.from('true'), 0x66: Buffer.from('false'), 0x6e: Buffer.from('null') };
/** What may follow a backslash in a string, but for `u` and its four hex digits. */
export const ESCAPES = new Set([...'"\\/bfnrt'].map((c) => c.charCodeAt(0)));

export const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
export const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
export const isHex = (b: number) => isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46);
const isExponent = (b: number) => b === 0x65 || b === 0x45;

// Where a number is: after `-`, after a leading 0, in the integer, after `.`, in the fraction, after `e`, after its sign, in the exponent.
const N_MINUS = 0;
const N_ZERO = 1;
const N_INT = 2;
const N_DOT = 3;
const N_FRAC = 4;
const N_E = 5;
const N_E_SIGN = 6;
const N_EXP = 7;

/** The number state after its first byte (`-` or a digit). */
export const numberStart = (b: number) => (b === 0x2d ? N_MINUS : b === 0x30 ? N_ZERO : N_INT);

/** Whether a number may end in this state (not after `-`, `.`, `e` or the exponent's sign). */
export const numberMayEnd = (state: number) => state === N_ZERO || state === N_INT || state === N_FRAC || state === N_EXP;

/** The number state after byte `b`, or -1 when `b` is not part of the number. */
export function nextInNumber(state: number, b: number): number {
  const digit = isDigit(b);
  switch (state) {
    case N_MINUS:
      return b === 0x30 ? N_ZERO : digit ? N_INT : -1;
    case N_ZERO:
      return b === 0x2e ? N_DOT : isExponent(b) ? N_E : -1;
    case N_INT:
      return digit ? N_INT : b === 0x2e ? N_DOT : isExponent(b) ? N_E : -1;
    case N_DOT:
      return digit ? N_FRAC : -1;
    case N_FRAC:
      return digit ? N_FRAC : isExponent(b) ? N_E : -1;
    case N_E:
      return b === 0x2b || b === 0x2d ? N_E_SIGN : digit ? N_EXP : -1;
    case N_E_SIGN:
      return digit ? N_EXP : -1;
    default:
      return digit ? N_EXP : -1;
  }
}

/** The containers a value is nested in, innermost last: one bit a level, 1 an object, 0 an array. */
export class Nesting {
  private kinds = new Uint8Array(64);
  depth = 0;

  push(object: boolean): void {
    if (this.depth >> 3 >= this.kinds.length) {
      const grown = new Uint8Array(this.kinds.length * 2);
      grown.set(this.kinds);
      this.kinds = grown;
    }
    const bit = 1 << (this.depth & 7);
    const at = this.depth >> 3;
    this.kinds[at] = object ? this.kinds[at]! | bit : this.kinds[at]! & ~bit;
    this.depth++;
  }

  pop(): void {
    this.depth--;
  }

  /** Whether the innermost container is an object. */
  inObject(): boolean {
    const level = this.depth - 1;
    return ((this.kinds[level >> 3]! >> (level & 7)) & 1) === 1;
  }
}
