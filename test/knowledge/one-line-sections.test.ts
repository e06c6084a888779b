// A Markdown document of many tiny sections (a heading on every line: an exported outline, a
// changelog of one-line entries, or "#\n" repeated) is chunked by taking whole sections that fit
// together, as the pieces of a long section already were: counted one by one, each section was
// measured against the chunk by counting the whole chunk's tokens again, and 249,000 "#" lines
// took the shared chunking worker 18.8 s where prose of the same size takes 1.1 s (now 1.9 s;
// `npm run bench`, phase uploads, and docs/decisions.md). These tests hold what the grouping must
// not change: which sections share a chunk, and that no text is lost or reordered.
import { describe, expect, it } from 'vitest';
import { chunkDocument } from '../../src/features/knowledge/chunking.js';

describe('chunking a document of many one-line sections', () => {
  it('lets small sections share a chunk and starts a chunk at a section that does not fit', () => {
    const sections = Array.from({ length: 300 }, (_, i) => `## Entry ${i}\nFixed item ${i}.\n`);
    const chunks = chunkDocument(sections.join(''), { maxTokens: 100 });
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) {
      expect(chunk.tokens).toBeLessThanOrEqual(100);
      expect(chunk.content.startsWith('## Entry ')).toBe(true);
      expect(chunk.content.endsWith('.')).toBe(true);
    }
    expect(chunks.map((chunk) => chunk.content).join('\n')).toBe(sections.join('').trim());
  });

  it('fills each chunk with as many heading lines as fit, in order', () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => `## Release ${i}`);
    const chunks = chunkDocument(lines.join('\n'), { maxTokens: 60 });
    expect(chunks.map((chunk) => chunk.content).join('\n')).toBe(lines.join('\n'));
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.tokens).toBeLessThanOrEqual(60);
      // The next chunk's first line would not have fitted in this one.
      const next = chunks[i + 1]?.content.split('\n')[0];
      if (next !== undefined) expect(chunkDocument(`${chunk.content}\n${next}`, { maxTokens: 60 })).toHaveLength(2);
    }
  });
});
