// A streamed reply is parsed again as it grows, taking up from the last line after which nothing
// was open (widget/src/markdown.ts, parseGrowing). Whatever the chunks, each step must show what a
// parse of the whole text so far shows, or a visitor would see a reply drawn differently while it
// is written than when they come back to it.
import { describe, expect, it } from 'vitest';
import { MAX_SOURCE, parseGrowing, parseMarkdown, type Resume } from '../../widget/src/markdown.js';

const DOCUMENTS = [
  'Intro paragraph\nwith a second line.\n\n# Heading\nBody *text* and `code`.\n\n- one\n- two\n\n  indented after a blank\n- three\n\nAfter the list.',
  '```js\nconst a = 1;\n\nconst b = 2;\n```\nText right after.\n\n~~~\nunclosed tilde fence\n```\nstill code',
  '1. first\n2. second\nlazy line\n\n3) other kind\n\n10. ten\n\n* star\n+ plus\n\n## Closing ##\n\n\n\nend',
  'Windows\r\nline ends\r\n\r\nand old Mac\rends\r\r- item\r\n- item two\r\n\r\n```\r\ncode\r\n```\r\n',
  'Paragraph\n2019. is a year, not a list\n- but this starts one\n\n    indented text\n\n**bold\n\nnot closed** here [link](https://example.com/a\n\n) and <https://example.com>',
  '- a\n\n\n- b\n  ```\n  fenced in an item\n  ```\n- c\n# heading ends it\n```\n\n',
];

/** Feeds `text` as chunks of the given sizes, checking every step against a whole parse. */
function stream(text: string, sizes: (step: number) => number): Resume | undefined {
  let resume: Resume | undefined;
  let at = 0;
  for (let step = 0; at < text.length; step++) {
    at = Math.min(text.length, at + sizes(step));
    const shown = text.slice(0, at);
    const grown = parseGrowing(shown, resume);
    expect(grown.blocks, `after ${at} of ${text.length} units`).toEqual(parseMarkdown(shown));
    resume = grown.resume;
  }
  return resume;
}

/** The same sequence of chunk sizes for every run (a linear congruential generator). */
function seeded(seed: number, most: number): (step: number) => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return 1 + (state % most);
  };
}

describe('a reply parsed as it grows', () => {
  it('shows at every step what the whole text so far shows, one character at a time', () => {
    for (const text of DOCUMENTS) stream(text, () => 1);
  });

  it('does so for chunks of any size, over every document run together', () => {
    const all = DOCUMENTS.join('\n\n');
    for (let seed = 1; seed <= 40; seed++) stream(all, seeded(seed, 40));
  });

  it('starts again when the text shown is not the last one grown (a retry, another reply)', () => {
    const first = parseGrowing('One paragraph.\n\nTwo paragraphs.\n\nThree').resume;
    expect(first.prefix).toBe('One paragraph.\n\nTwo paragraphs.\n\n');
    const other = 'Another reply\n- with a list';
    expect(parseGrowing(other, first).blocks).toEqual(parseMarkdown(other));
  });

  it('takes up after the last closed block of a long reply, not from its start', () => {
    const long = Array.from({ length: 200 }, (_, i) => `Paragraph ${i} of the reply.`).join('\n\n');
    const resume = stream(long, seeded(7, 200));
    expect(resume!.prefix.length).toBeGreaterThan(long.length - 40);
  });

  it('cuts a reply past what is formatted as a whole parse does, even mid character', () => {
    const text = 'x'.repeat(MAX_SOURCE - 1) + '😀 and more\n\nafter';
    let resume: Resume | undefined;
    for (const at of [MAX_SOURCE - 5, MAX_SOURCE, MAX_SOURCE + 1, text.length]) {
      const grown = parseGrowing(text.slice(0, at), resume);
      expect(grown.blocks).toEqual(parseMarkdown(text.slice(0, at)));
      resume = grown.resume;
    }
  });
});
