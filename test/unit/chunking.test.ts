import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { chunkDocument, type Chunk } from '../../src/features/knowledge/chunking.js';
import { splitGraphemes } from '../../src/lib/text.js';

const tokens = (text: string) => countTokens(text, { disallowedSpecial: new Set() });
const words = (text: string) =>
  Array.from(new Intl.Segmenter(undefined, { granularity: 'word' }).segment(text))
    .filter((s) => s.isWordLike)
    .map((s) => s.segment);

const ENGLISH = Array.from(
  { length: 40 },
  (_, i) => `Sentence ${i} says that the factory in Taipei builds printed circuit boards for customer number ${i * 7}.`,
).join(' ');
const CHINESE = '我們生產電路板。公司位於台北！員工人數是五十人？我們的產品銷往世界各地，包括美國、日本和歐洲。'.repeat(12);
const BENGALI = 'আমাদের কোম্পানি সার্কিট বোর্ড তৈরি করে। আমরা ঢাকায় অবস্থিত এবং আমাদের পঞ্চাশ জন কর্মী আছে। '.repeat(12);

const MARKDOWN = `# Parley handbook

Parley answers questions about the company.

## Products

${ENGLISH}

Second paragraph about products. ${ENGLISH.slice(0, 600)}

## 公司

${CHINESE}

\`\`\`sh
# a comment in code, not a heading
make boards
\`\`\`

## বাংলা

${BENGALI}
`;

function expectWellFormed(chunks: Chunk[], maxTokens: number) {
  expect(chunks.length).toBeGreaterThan(0);
  for (const chunk of chunks) {
    expect(chunk.content).toBe(chunk.content.trim());
    expect(chunk.content).not.toBe('');
    expect(chunk.tokens).toBe(tokens(chunk.content));
    expect(chunk.tokens).toBeLessThanOrEqual(maxTokens);
  }
}

describe('chunkDocument', () => {
  it('gives nothing for blank documents', () => {
    expect(chunkDocument('')).toEqual([]);
    expect(chunkDocument(' \n\n\t ')).toEqual([]);
  });

  it('keeps a short document as one trimmed chunk', () => {
    const content = '\n\n# Title\n\nWe build circuit boards.\n\n';
    expect(chunkDocument(content)).toEqual([{ content: '# Title\n\nWe build circuit boards.', tokens: tokens('# Title\n\nWe build circuit boards.') }]);
  });

  it.each([40, 100, 400])('respects maxTokens %i for a mixed-language Markdown document', (maxTokens) => {
    expectWellFormed(chunkDocument(MARKDOWN, { maxTokens }), maxTokens);
    expectWellFormed(chunkDocument(MARKDOWN, { maxTokens, overlapTokens: Math.floor(maxTokens / 4) }), maxTokens);
  });

  it('loses no word of the document', () => {
    for (const maxTokens of [40, 400]) {
      const chunked = chunkDocument(MARKDOWN, { maxTokens }).flatMap((chunk) => words(chunk.content));
      const remaining = new Map<string, number>();
      for (const word of chunked) remaining.set(word, (remaining.get(word) ?? 0) + 1);
      for (const word of words(MARKDOWN)) {
        expect(remaining.get(word) ?? 0, word).toBeGreaterThan(0);
        remaining.set(word, remaining.get(word)! - 1);
      }
    }
  });

  it('keeps the text in order, without repeats, when there are no headings and no overlap', () => {
    const chunks = chunkDocument(`${ENGLISH}\n\n${CHINESE}\n\n${BENGALI}`, { maxTokens: 60 });
    expectWellFormed(chunks, 60);
    expect(chunks.flatMap((c) => words(c.content))).toEqual(words(`${ENGLISH}\n\n${CHINESE}\n\n${BENGALI}`));
  });

  it('starts a chunk at each heading when sections are too big to share one', () => {
    const section = (title: string) => `## ${title}\n\n${'Boards are tested twice before they ship. '.repeat(8)}`;
    const chunks = chunkDocument([section('One'), section('Two'), section('Three')].join('\n\n'), { maxTokens: 100 });
    expect(chunks.map((c) => c.content.split('\n')[0])).toEqual(['## One', '## Two', '## Three']);
  });

  it('lets small sections share a chunk', () => {
    const content = '# Company\n\nWe make boards.\n\n## Location\n\nTaipei.\n\n## Staff\n\nFifty people.';
    expect(chunkDocument(content, { maxTokens: 100 })).toEqual([{ content, tokens: tokens(content) }]);
  });

  it('repeats the heading trail atop every later chunk of a cut section', () => {
    const content = `# Guide\n\nIntro.\n\n## Install\n\n${ENGLISH}\n\n## Use\n\nRun it.`;
    const chunks = chunkDocument(content, { maxTokens: 80 });
    expectWellFormed(chunks, 80);
    const install = chunks.filter((c) => c.content.includes('Sentence'));
    expect(install.length).toBeGreaterThan(2);
    expect(install[0]!.content.startsWith('## Install\n\nSentence 0 ')).toBe(true);
    for (const chunk of install.slice(1)) expect(chunk.content.startsWith('# Guide\n## Install\n\nSentence ')).toBe(true);
    expect(chunks.at(-1)!.content).toBe('## Use\n\nRun it.');
  });

  it('does not take "#" lines in fenced code for headings', () => {
    const content = `## Build\n\n\`\`\`sh\n# install\nmake\n\`\`\`\n\n${ENGLISH}`;
    const chunks = chunkDocument(content, { maxTokens: 80 });
    expect(chunks[0]!.content.startsWith('## Build\n\n```sh\n# install\nmake\n```')).toBe(true);
    for (const chunk of chunks.slice(1)) expect(chunk.content.startsWith('## Build\n\n')).toBe(true);
  });

  it('cuts between paragraphs when paragraphs fit', () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}. ${'Boards ship on Mondays. '.repeat(5)}`.trim());
    const chunks = chunkDocument(paragraphs.join('\n\n'), { maxTokens: 100 });
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      for (const part of chunk.content.split('\n\n')) expect(paragraphs).toContain(part);
    }
  });

  it('cuts Chinese at 。！？ and Bengali at the danda', () => {
    for (const [text, ends] of [
      [CHINESE, /[。！？]$/u],
      [BENGALI, /।$/u],
    ] as const) {
      const chunks = chunkDocument(text, { maxTokens: 50 });
      expectWellFormed(chunks, 50);
      expect(chunks.length).toBeGreaterThan(2);
      for (const chunk of chunks) expect(chunk.content).toMatch(ends);
    }
  });

  it('never cuts inside a grapheme, even in text with no spaces', () => {
    const clusters = ['👩‍👩‍👧‍👦', '🇧🇩', '👍🏽', 'ক্ষ্মী'];
    const text = clusters.join('').repeat(100);
    const chunks = chunkDocument(text, { maxTokens: 40 });
    expectWellFormed(chunks, 40);
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.map((c) => c.content).join('')).toBe(text);
    for (const chunk of chunks) for (const grapheme of splitGraphemes(chunk.content)) expect(clusters).toContain(grapheme);
  });

  it('repeats the end of the previous chunk when asked to overlap', () => {
    const chunks = chunkDocument(ENGLISH, { maxTokens: 80, overlapTokens: 30 });
    expectWellFormed(chunks, 80);
    for (const [i, chunk] of chunks.slice(1).entries()) {
      const previous = chunks[i]!.content;
      const firstSentence = chunk.content.split(/(?<=\.) /)[0]!;
      expect(previous.endsWith(firstSentence)).toBe(true);
    }
  });

  it('counts "<|endoftext|>" in a document as plain text', () => {
    expect(chunkDocument('The marker <|endoftext|> is text.')).toEqual([
      { content: 'The marker <|endoftext|> is text.', tokens: tokens('The marker <|endoftext|> is text.') },
    ]);
  });

  it('is deterministic', () => {
    expect(chunkDocument(MARKDOWN, { maxTokens: 60, overlapTokens: 10 })).toEqual(chunkDocument(MARKDOWN, { maxTokens: 60, overlapTokens: 10 }));
  });

  it('copes with long unpunctuated text in reasonable time', () => {
    const text = '這是一個很長的句子用來測試分割'.repeat(3000);
    const started = performance.now();
    const chunks = chunkDocument(text);
    expect(performance.now() - started).toBeLessThan(15_000);
    expectWellFormed(chunks, 400);
    expect(chunks.map((c) => c.content).join('')).toBe(text);
  });

  it('refuses nonsensical options', () => {
    expect(() => chunkDocument('x', { maxTokens: 0 })).toThrow(RangeError);
    expect(() => chunkDocument('x', { maxTokens: 100.5 })).toThrow(RangeError);
    expect(() => chunkDocument('x', { maxTokens: 100, overlapTokens: 60 })).toThrow(RangeError);
    expect(() => chunkDocument('x', { overlapTokens: -1 })).toThrow(RangeError);
  });
});
