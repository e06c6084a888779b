// o200k byte-pair encoding, counting only: the same pieces and merges as gpt-tokenizer's
// countTokens(text, { disallowedSpecial: new Set() }) (special tokens are ordinary text), on the
// compact table of bpe-table.ts. Merging follows tiktoken's byte_pair_merge: repeatedly join the
// adjacent pair whose bytes have the lowest rank, the leftmost on a tie.
import { MAX_CACHED_BYTES, PieceCache } from './bpe-cache.js';
import { hashBytes, isBomPrefixedText, loadTable, lookup, lookupHashed, type RankTable } from './bpe-table.js';

// o200k's pre-tokeniser, as tiktoken and gpt-tokenizer (3.4) define it.
const CONTRACTION = String.raw`(?:'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE]))?`;
const O200K_SPLIT = new RegExp(
  String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+${CONTRACTION}` +
    String.raw`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*${CONTRACTION}` +
    String.raw`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  'gu',
);

const NONE = 0x7fffffff;
// A heap key, rank * POSITIONS + position, stays an exact integer in a double (ranks < 2^18).
const POSITIONS = 2 ** 32;
// Past this many bytes a piece (a long run of spaces, say) is merged with a heap: the linear scan
// for the lowest pair would make it quadratic.
const SCAN_LIMIT = 256;

let table: RankTable | undefined;
let cache: PieceCache | undefined;
let bytes = new Uint8Array(1024);
const scanNext = new Int32Array(SCAN_LIMIT);
const scanRankAt = new Int32Array(SCAN_LIMIT);
let hadLoneSurrogate = false;

/** Loads the table now rather than on the first count (start-up, benchmarks). */
export function loadBpe(): void {
  table ??= loadTable();
}

export function countBpe(text: string): number {
  table ??= loadTable();
  let total = 0;
  O200K_SPLIT.lastIndex = 0;
  for (let match = O200K_SPLIT.exec(text); match !== null; match = O200K_SPLIT.exec(text)) {
    total += countPiece(table, match[0]);
  }
  return total;
}

function countPiece(t: RankTable, piece: string): number {
  const length = encodeUtf8(piece);
  if (length === 1) return 1;
  const hash = hashBytes(bytes, 0, length);
  // A piece that is one token is looked up by its text in gpt-tokenizer, which no token with a
  // replaced lone surrogate can equal.
  if (!hadLoneSurrogate && lookupHashed(t, bytes, 0, length, hash) >= 0) return 1;
  if (length > MAX_CACHED_BYTES) return merge(t, length);
  cache ??= new PieceCache();
  const cached = cache.get(bytes, length, hash);
  if (cached >= 0) return cached;
  const parts = merge(t, length);
  cache.set(bytes, length, hash, parts);
  return parts;
}

/** Forgets the pieces merged so far (benchmarks measure counting text never seen). */
export function clearBpeCache(): void {
  cache?.clear();
}

function merge(t: RankTable, length: number): number {
  return length <= SCAN_LIMIT ? mergeByScan(t, length) : mergeByHeap(t, length);
}

/** UTF-8 of text into `bytes`, a lone surrogate as U+FFFD (as TextEncoder does); returns the length. */
function encodeUtf8(text: string): number {
  if (bytes.length < text.length * 3) bytes = new Uint8Array(text.length * 3);
  hadLoneSurrogate = false;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes[n++] = c;
      continue;
    }
    if (c < 0x800) {
      bytes[n++] = 0xc0 | (c >> 6);
      bytes[n++] = 0x80 | (c & 0x3f);
      continue;
    }
    if ((c & 0xf800) === 0xd800) {
      const low = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && (low & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
        bytes[n++] = 0xf0 | (c >> 18);
        bytes[n++] = 0x80 | ((c >> 12) & 0x3f);
        bytes[n++] = 0x80 | ((c >> 6) & 0x3f);
        bytes[n++] = 0x80 | (c & 0x3f);
        continue;
      }
      hadLoneSurrogate = true;
      c = 0xfffd;
    }
    bytes[n++] = 0xe0 | (c >> 12);
    bytes[n++] = 0x80 | ((c >> 6) & 0x3f);
    bytes[n++] = 0x80 | (c & 0x3f);
  }
  return n;
}

/**
 * The rank of bytes[start..end) as gpt-tokenizer finds it: well-formed UTF-8 is decoded to a
 * string first, and its TextDecoder drops a leading byte-order mark.
 */
function pairRank(t: RankTable, start: number, end: number): number {
  const rank = isBomPrefixedText(bytes, start, end) ? (end - start > 3 ? lookup(t, bytes, start + 3, end) : -1) : lookup(t, bytes, start, end);
  return rank < 0 ? NONE : rank;
}

/**
 * tiktoken's byte_pair_merge: parts as a linked list over byte positions (next), each with the
 * rank of joining it to the part after (rankAt); returns the number of parts left.
 */
function mergeByScan(t: RankTable, length: number): number {
  const next = scanNext;
  const rankAt = scanRankAt;
  for (let i = 0; i < length; i++) {
    next[i] = i + 1;
    rankAt[i] = i + 2 <= length ? pairRank(t, i, i + 2) : NONE;
  }
  let parts = length;
  for (;;) {
    let lowest = NONE;
    let at = -1;
    let before = -1;
    for (let i = 0, previous = -1; i < length; previous = i, i = next[i]!) {
      if (rankAt[i]! < lowest) {
        lowest = rankAt[i]!;
        at = i;
        before = previous;
      }
    }
    if (at < 0) return parts;
    const after = next[next[at]!]!;
    next[at] = after;
    parts--;
    rankAt[at] = after < length ? pairRank(t, at, next[after]!) : NONE;
    if (before >= 0) rankAt[before] = pairRank(t, before, after);
  }
}

/**
 * The same merges in O(n log n): parts as a linked list over byte positions, candidate pairs in a
 * min-heap keyed by (rank, position), so the lowest rank and then the leftmost pair comes first.
 * An entry whose part was merged away or re-ranked since is skipped when it surfaces.
 */
function mergeByHeap(t: RankTable, length: number): number {
  const next = new Int32Array(length);
  const prev = new Int32Array(length);
  const rankAt = new Int32Array(length);
  const heap = new MinHeap(length);
  for (let i = 0; i < length; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    rankAt[i] = i + 2 <= length ? pairRank(t, i, i + 2) : NONE;
    if (rankAt[i] !== NONE) heap.push(rankAt[i]!, i);
  }
  let parts = length;
  while (heap.size > 0) {
    const key = heap.pop();
    const rank = Math.floor(key / POSITIONS);
    const start = key - rank * POSITIONS;
    if (rankAt[start] !== rank) continue;
    const merged = next[start]!;
    const after = next[merged]!;
    rankAt[merged] = NONE;
    next[start] = after;
    if (after < length) prev[after] = start;
    parts--;
    rankAt[start] = after < length ? pairRank(t, start, next[after]!) : NONE;
    if (rankAt[start] !== NONE) heap.push(rankAt[start]!, start);
    const before = prev[start]!;
    if (before >= 0) {
      rankAt[before] = pairRank(t, before, after);
      if (rankAt[before] !== NONE) heap.push(rankAt[before]!, before);
    }
  }
  return parts;
}

class MinHeap {
  private keys: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(16, capacity));
  }

  push(rank: number, position: number): void {
    if (this.size === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const keys = this.keys;
    const key = rank * POSITIONS + position;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      i = parent;
    }
    keys[i] = key;
  }

  pop(): number {
    const keys = this.keys;
    const top = keys[0]!;
    const last = keys[--this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && keys[child + 1]! < keys[child]!) child++;
      if (keys[child]! >= last) break;
      keys[i] = keys[child]!;
      i = child;
    }
    keys[i] = last;
    return top;
  }
}
