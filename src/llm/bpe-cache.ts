// Recently merged pieces and their number of tokens, by their bytes. Words recur within a text,
// and a conversation sent again with each request (the OpenAI-compatible API) repeats every
// piece of it. The bytes live in a ring, so the memory is fixed (~1.5 MB, touched as it fills)
// and no string, and so no text a piece was cut from, is kept alive.

const ARENA_BYTES = 1 << 20;
// Two ways: a piece may sit at its even slot or the odd one after it.
const SLOTS = 1 << 15;
/** Longer pieces (long runs of spaces) are merged every time. */
export const MAX_CACHED_BYTES = 4096;

export class PieceCache {
  private readonly arena = new Uint8Array(ARENA_BYTES);
  private readonly hashes = new Uint32Array(SLOTS);
  /** 0 for an empty slot. */
  private readonly lengths = new Uint16Array(SLOTS);
  private readonly parts = new Uint16Array(SLOTS);
  /** Where a slot's bytes were written, counted from the first byte ever written. */
  private readonly positions = new Float64Array(SLOTS);
  private head = 0;

  /** The parts of bytes[0..length) when cached, or -1. */
  get(bytes: Uint8Array, length: number, hash: number): number {
    const even = hash & (SLOTS - 2);
    if (this.holds(even, bytes, length, hash)) return this.parts[even]!;
    if (this.holds(even + 1, bytes, length, hash)) return this.parts[even + 1]!;
    return -1;
  }

  set(bytes: Uint8Array, length: number, hash: number, parts: number): void {
    const even = hash & (SLOTS - 2);
    const slot = this.intact(even + 1) && (!this.intact(even) || this.positions[even]! > this.positions[even + 1]!) ? even + 1 : even;
    // A piece never wraps around the end of the ring: it starts the next lap instead.
    if ((this.head % ARENA_BYTES) + length > ARENA_BYTES) this.head += ARENA_BYTES - (this.head % ARENA_BYTES);
    this.arena.set(bytes.subarray(0, length), this.head % ARENA_BYTES);
    this.hashes[slot] = hash;
    this.lengths[slot] = length;
    this.parts[slot] = parts;
    this.positions[slot] = this.head;
    this.head += length;
  }

  clear(): void {
    this.lengths.fill(0);
  }

  /** Whether the slot holds a piece whose bytes the ring has not yet written over. */
  private intact(slot: number): boolean {
    return this.lengths[slot] !== 0 && this.head - this.positions[slot]! <= ARENA_BYTES;
  }

  private holds(slot: number, bytes: Uint8Array, length: number, hash: number): boolean {
    if (this.hashes[slot] !== hash || this.lengths[slot] !== length || !this.intact(slot)) return false;
    const from = this.positions[slot]! % ARENA_BYTES;
    const arena = this.arena;
    for (let i = 0; i < length; i++) if (arena[from + i] !== bytes[i]) return false;
    return true;
  }
}
