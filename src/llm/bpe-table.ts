// The o200k vocabulary as a byte-sequence → rank table: one file of token bytes, loaded on the
// first count into a few typed arrays (~5 MB) instead of the ~70 MB of strings and maps that
// importing gpt-tokenizer costs every process whether or not it counts anything.
//
// File format (generated/o200k.bin, written by scripts/build-tokenizer.js at build time):
//   u32 LE magic "o2kb", u32 LE version, u32 LE token count N,
//   N bytes: the byte length of each token in rank order (every token is 1..255 bytes),
//   then the tokens' bytes, concatenated in rank order.
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors/app-error.js';

const MAGIC = 0x626b326f; // "o2kb" read as a little-endian u32
const VERSION = 1;
const HEADER_BYTES = 12;
const EMPTY = -1;

/** Where the table lives: the repository's generated/, from src/llm/ and dist/llm/ alike. */
export const TABLE_URL = new URL('../../generated/o200k.bin', import.meta.url);

export interface RankTable {
  /** Every token's bytes, concatenated in rank order. */
  readonly bytes: Uint8Array;
  /** Token r is bytes[offsets[r]..offsets[r + 1]). */
  readonly offsets: Uint32Array;
  /** Open addressing, linear probing: a tagged rank (see tag), or EMPTY. */
  readonly slots: Int32Array;
  readonly mask: number;
}

/** Serialises ranks as gpt-tokenizer ships them: a string, or the bytes of a token that is not UTF-8. */
export function encodeTable(tokens: ReadonlyArray<string | readonly number[]>): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (let rank = 0; rank < tokens.length; rank++) {
    const token = tokens[rank];
    const bytes = typeof token === 'string' ? encoder.encode(token) : Uint8Array.from(token ?? []);
    if (bytes.length === 0 || bytes.length > 255) throw new Error(`token ${rank} has ${bytes.length} bytes; the table holds 1 to 255`);
    parts.push(bytes);
  }
  const size = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(HEADER_BYTES + parts.length + size);
  const header = new DataView(out.buffer);
  header.setUint32(0, MAGIC, true);
  header.setUint32(4, VERSION, true);
  header.setUint32(8, parts.length, true);
  let at = HEADER_BYTES + parts.length;
  parts.forEach((part, rank) => {
    out[HEADER_BYTES + rank] = part.length;
    out.set(part, at);
    at += part.length;
  });
  return out;
}

// Murmur3's finaliser over an FNV-1a pass: FNV alone clusters short keys in the low bits.
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// A slot holds a rank (18 bits) under the top 13 bits of the key's hash, so most probes that
// miss are decided without reading the token's bytes.
const RANK_BITS = 18;
const RANK_MASK = (1 << RANK_BITS) - 1;
const tag = (hash: number) => (hash >>> (32 - 13)) << RANK_BITS;

/** The rank of key[start..end), or -1. */
export function lookup(table: RankTable, key: Uint8Array, start: number, end: number): number {
  return lookupHashed(table, key, start, end, hashBytes(key, start, end));
}

/** lookup, given hashBytes(key, start, end). */
export function lookupHashed(table: RankTable, key: Uint8Array, start: number, end: number, hash: number): number {
  const { bytes, offsets, slots, mask } = table;
  const length = end - start;
  const wanted = tag(hash);
  let slot = hash & mask;
  for (;;) {
    const entry = slots[slot]!;
    if (entry === EMPTY) return -1;
    if ((entry & ~RANK_MASK) === wanted) {
      const rank = entry & RANK_MASK;
      const from = offsets[rank]!;
      if (offsets[rank + 1]! - from === length) {
        let i = 0;
        while (i < length && bytes[from + i] === key[start + i]) i++;
        if (i === length) return rank;
      }
    }
    slot = (slot + 1) & mask;
  }
}

/** Whether bytes[start..end) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
export function isUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    const extra = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
    if (extra < 0 || i + extra >= end) return false;
    let code = lead & (0x3f >> extra);
    for (let k = 1; k <= extra; k++) {
      const next = bytes[i + k]!;
      if ((next & 0xc0) !== 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if ((extra === 2 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) || (extra === 3 && (code < 0x10000 || code > 0x10ffff))) return false;
    i += extra + 1;
  }
  return true;
}

/** A byte-order mark followed by well-formed UTF-8 (see unreachable below). */
export function isBomPrefixedText(bytes: Uint8Array, start: number, end: number): boolean {
  return end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf && isUtf8(bytes, start, end);
}

interface Parsed {
  count: number;
  offsets: Uint32Array;
}

/** The header and token lengths, or undefined when the file is not this format's. */
function parseHead(head: Uint8Array, size: number): Parsed | undefined {
  if (head.length < HEADER_BYTES) return undefined;
  const header = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
  if (header.getUint32(0, true) !== MAGIC || header.getUint32(4, true) !== VERSION) return undefined;
  const count = header.getUint32(8, true);
  if (count > RANK_MASK || head.length < HEADER_BYTES + count) return undefined;
  const offsets = new Uint32Array(count + 1);
  for (let rank = 0; rank < count; rank++) offsets[rank + 1] = offsets[rank]! + head[HEADER_BYTES + rank]!;
  if (size !== HEADER_BYTES + count + offsets[count]!) return undefined;
  return { count, offsets };
}

function index(bytes: Uint8Array, { count, offsets }: Parsed): RankTable {
  let capacity = 1;
  while (capacity < count * 2.5) capacity *= 2;
  const table: RankTable = { bytes, offsets, slots: new Int32Array(capacity).fill(EMPTY), mask: capacity - 1 };
  for (let rank = 0; rank < count; rank++) {
    const from = offsets[rank]!;
    const to = offsets[rank + 1]!;
    // gpt-tokenizer finds a token by decoding its bytes with a TextDecoder, which drops a leading
    // byte-order mark: the nine o200k tokens that start with one are never produced. Leaving them
    // out keeps every count equal to the one the rest of the system (and its tests) expect.
    if (isBomPrefixedText(bytes, from, to)) continue;
    const hash = hashBytes(bytes, from, to);
    let slot = hash & table.mask;
    while (table.slots[slot] !== EMPTY) slot = (slot + 1) & table.mask;
    table.slots[slot] = tag(hash) | rank;
  }
  return table;
}

function fromMemory(file: Uint8Array): RankTable | undefined {
  const parsed = parseHead(file, file.length);
  return parsed && index(file.subarray(HEADER_BYTES + parsed.count), parsed);
}

// Read in two parts straight into the arrays kept: no transient copy of the whole file, whose
// freed pages the allocator would keep counted in the process's memory.
function readTable(path: string): RankTable | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const headerBytes = new Uint8Array(HEADER_BYTES);
    readSync(fd, headerBytes, 0, HEADER_BYTES, 0);
    const count = new DataView(headerBytes.buffer).getUint32(8, true);
    const head = new Uint8Array(Math.min(size, HEADER_BYTES + count));
    readSync(fd, head, 0, head.length, 0);
    const parsed = parseHead(head, size);
    if (!parsed) return undefined;
    const bytes = new Uint8Array(size - head.length);
    readSync(fd, bytes, 0, bytes.length, head.length);
    return index(bytes, parsed);
  } finally {
    closeSync(fd);
  }
}

// Running from src without a build: the same table, built from gpt-tokenizer's ranks (a second
// or so, and its memory, once), and written for the next process.
function buildFromPackage(path: string): Uint8Array {
  process.emitWarning(`${path} is missing or out of date: building it from gpt-tokenizer. Run \`npm run build\` to build it ahead.`, {
    code: 'PARLEY_TOKEN_TABLE',
  });
  const require = createRequire(import.meta.url);
  const ranks = (require('gpt-tokenizer/bpeRanks/o200k_base') as { default: Array<string | number[]> }).default;
  const file = encodeTable(ranks);
  try {
    mkdirSync(dirname(path), { recursive: true });
    // Renamed into place: test workers may build it at the same time.
    const partial = `${path}.${process.pid}.tmp`;
    writeFileSync(partial, file);
    renameSync(partial, path);
  } catch {
    // A read-only install still counts, from the table in memory.
  }
  return file;
}

export function loadTable(url: URL = TABLE_URL): RankTable {
  const path = fileURLToPath(url);
  const table = readTable(path);
  if (table) return table;
  const built = fromMemory(buildFromPackage(path));
  if (!built) throw new AppError('internal_error', 'The o200k token table built from gpt-tokenizer does not parse; reinstall with `npm ci`');
  return built;
}
