// What a document costs the chunking worker, weighed on the upload's own thread before it waits.
// Characters as sent do not measure it: the tokenizer reads UTF-8 bytes (a rare symbol is a token
// per byte) and the search terms read the text after NFKC, where one character may become 18
// ("ﷺ"): 500,000 of those took 14 s to chunk, 500,000 of one letter 1.2 s.

import { sliceEnd } from '../../lib/text.js';

/** Normalised a slice at a time, so that a text past the cap is not normalised to its end. */
const SLICE = 16_384;

/**
 * The larger of the text's UTF-8 length and its UTF-8 length after NFKC: per unit, the texts measured
 * cost the worker from a fifth to twice what ASCII prose does (docs/decisions.md). Counted only as far
 * as `cap`: past it the exact figure changes nothing, and 500,000 "ﷺ" make 9 MB of NFKC text.
 * Slices are normalised apart, which can differ from the whole by a composed pair at each cut.
 */
export function chunkingCost(text: string, cap: number): number {
  const raw = Buffer.byteLength(text, 'utf8');
  let normalized = 0;
  for (let start = 0; start < text.length && raw < cap && normalized < cap; ) {
    const end = sliceEnd(text, start + SLICE);
    normalized += Buffer.byteLength(text.slice(start, end).normalize('NFKC'), 'utf8');
    start = end;
  }
  return Math.max(raw, normalized);
}
