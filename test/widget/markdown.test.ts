import { describe, expect, it } from 'vitest';
import { MAX_SOURCE, parseMarkdown, safeHref, type Block, type Inline } from '../../widget/src/markdown.js';
import { XSS_CORPUS } from './xss-corpus.js';

const text = (v: string): Inline => ({ t: 'text', v });
const strong = (...c: Inline[]): Inline => ({ t: 'strong', c });
const em = (...c: Inline[]): Inline => ({ t: 'em', c });
const code = (v: string): Inline => ({ t: 'code', v });
const link = (href: string, ...c: Inline[]): Inline => ({ t: 'link', href, c });
/** A link showing its own address as written. */
const self = (href: string, shown = href): Inline => link(href, text(shown));
const br: Inline = { t: 'br' };
const p = (...c: Inline[]): Block => ({ t: 'p', c });
const ul = (...items: Inline[][]): Block => ({ t: 'ul', items });
const ol = (start: number, ...items: Inline[][]): Block => ({ t: 'ol', start, items });

/** The inlines of a text that must parse to exactly one paragraph. */
function inlines(source: string): Inline[] {
  const blocks = parseMarkdown(source);
  expect(blocks).toHaveLength(1);
  expect(blocks[0]!.t).toBe('p');
  return (blocks[0] as { c: Inline[] }).c;
}

function* walk(nodes: Inline[]): Generator<Inline> {
  for (const n of nodes) {
    yield n;
    if ('c' in n) yield* walk(n.c);
  }
}

const blockInlines = (b: Block): Inline[] => (b.t === 'p' ? b.c : b.t === 'pre' ? [] : b.items.flat());
const allInlines = (blocks: Block[]): Inline[] => [...walk(blocks.flatMap(blockInlines))];
const links = (blocks: Block[]) => allInlines(blocks).filter((n) => n.t === 'link');
/** Text as a reader sees it, markup gone. */
const visible = (blocks: Block[]): string =>
  blocks.map((b) => (b.t === 'pre' ? b.v : allInlines([b]).map((n) => ('v' in n ? n.v : '')).join(''))).join('');
const depth = (nodes: Inline[]): number => Math.max(0, ...nodes.map((n) => ('c' in n ? 1 + depth(n.c) : 0)));

/** Compares long strings by length and first difference, so a failure does not print 100 000 characters. */
function expectSame(actual: string, expected: string): void {
  let i = 0;
  while (i < expected.length && actual[i] === expected[i]) i++;
  const at = i === expected.length && actual.length === expected.length ? -1 : i;
  const got = { length: actual.length, firstDifference: at, near: actual.slice(at, at + 20) };
  expect(got).toEqual({ length: expected.length, firstDifference: -1, near: '' });
}

describe('blocks', () => {
  it('splits paragraphs at blank lines (whitespace-only ones too) and trims every line', () => {
    expect(parseMarkdown('  one  \n\n \t \n\n two')).toEqual([p(text('one')), p(text('two'))]);
  });

  it('turns single line ends (LF, CRLF, CR) into line breaks', () => {
    expect(parseMarkdown('a\nb\r\nc\rd')).toEqual([p(text('a'), br, text('b'), br, text('c'), br, text('d'))]);
  });

  it('gives no blocks for empty or blank text', () => {
    expect(parseMarkdown('')).toEqual([]);
    expect(parseMarkdown(' \n\n\t\n')).toEqual([]);
  });

  it('renders headings as strong paragraphs, without closing hashes, interrupting a paragraph', () => {
    const heading = p(strong(em(text('Getting')), text(' started')));
    expect(parseMarkdown('intro\n## *Getting* started ##\nbody')).toEqual([p(text('intro')), heading, p(text('body'))]);
    expect(parseMarkdown('# C#')).toEqual([p(strong(text('C#')))]);
  });

  it('leaves hashtags, seven hashes and empty headings as they are', () => {
    expect(parseMarkdown('#hashtag')).toEqual([p(text('#hashtag'))]);
    expect(parseMarkdown('####### seven')).toEqual([p(text('####### seven'))]);
    expect(parseMarkdown('#\ntext')).toEqual([p(text('text'))]);
  });
});

describe('fenced code', () => {
  it('keeps the content literal, markup and HTML included, with the language word', () => {
    const pre: Block = { t: 'pre', v: 'const a = **b** <i>[x](y)</i>;\n\n  indented', lang: 'ts' };
    expect(parseMarkdown('```ts extra words\nconst a = **b** <i>[x](y)</i>;\n\n  indented\n```\nafter')).toEqual([pre, p(text('after'))]);
  });

  it('accepts tilde fences, and closes only on a run at least as long as the opening one', () => {
    expect(parseMarkdown('~~~~\n~~~\n```\n~~~~~  \nx')).toEqual([{ t: 'pre', v: '~~~\n```' }, p(text('x'))]);
  });

  it('runs an unterminated fence to the end of the text', () => {
    expect(parseMarkdown('text\n```\n<b>a</b>\n\n*b*')).toEqual([p(text('text')), { t: 'pre', v: '<b>a</b>\n\n*b*' }]);
  });

  it('strips the fence indentation from its lines (as under a list item)', () => {
    const pre: Block = { t: 'pre', v: 'npm test\n  --watch', lang: 'sh' };
    expect(parseMarkdown('1. Run:\n   ```sh\n   npm test\n     --watch\n   ```\n2. Done')).toEqual([ol(1, [text('Run:')]), pre, ol(2, [text('Done')])]);
  });

  it('drops a language word that is not a plain name', () => {
    expect(parseMarkdown('```"><b>\nx\n```')).toEqual([{ t: 'pre', v: 'x' }]);
  });

  it('reads three backticks with more on the same line as inline code, not a fence', () => {
    expect(parseMarkdown('```a``` b')).toEqual([p(code('a'), text(' b'))]);
  });
});

describe('lists', () => {
  it('makes bullet lists from -, * and +', () => {
    expect(parseMarkdown('- one\n* two\n+ **three**')).toEqual([ul([text('one')], [text('two')], [strong(text('three'))])]);
  });

  it('makes ordered lists with their start number, from 1. and 1)', () => {
    expect(parseMarkdown('3. c\n4) d')).toEqual([ol(3, [text('c')], [text('d')])]);
  });

  it('joins continuation lines to their item with a line break', () => {
    expect(parseMarkdown('- a\n  indented\nlazy\n- b')).toEqual([ul([text('a'), br, text('indented'), br, text('lazy')], [text('b')])]);
  });

  it('keeps one list across blank lines between items, and joins an indented paragraph with two breaks', () => {
    const list = ol(1, [text('a')], [text('b'), br, br, text('more')]);
    expect(parseMarkdown('1. a\n\n2. b\n\n   more\n\nafter')).toEqual([list, p(text('after'))]);
  });

  it('keeps a nested item as text of its parent item (one level only)', () => {
    expect(parseMarkdown('1. a\n   - sub *x*\n2. b')).toEqual([ol(1, [text('a'), br, text('- sub '), em(text('x'))], [text('b')])]);
  });

  it('starts a new list when bullets and numbers change', () => {
    expect(parseMarkdown('- a\n1. b')).toEqual([ul([text('a')]), ol(1, [text('b')])]);
  });

  it('interrupts a paragraph only with a bullet or a list starting at 1', () => {
    expect(parseMarkdown('In\n2019. it rained')).toEqual([p(text('In'), br, text('2019. it rained'))]);
    expect(parseMarkdown('Steps:\n1. go')).toEqual([p(text('Steps:')), ol(1, [text('go')])]);
    expect(parseMarkdown('Items:\n- x')).toEqual([p(text('Items:')), ul([text('x')])]);
    expect(parseMarkdown('a\n-')).toEqual([p(text('a'), br, text('-'))]);
  });

  it('does not mistake emphasis or a dash in a word for a list', () => {
    expect(parseMarkdown('**bold** start\n-not a list')).toEqual([p(strong(text('bold')), text(' start'), br, text('-not a list'))]);
  });

  it('parses links and emphasis in items', () => {
    expect(parseMarkdown('- see [*docs*](https://docs.example/a)')).toEqual([ul([text('see '), link('https://docs.example/a', em(text('docs')))])]);
  });
});

describe('emphasis', () => {
  it('reads ** and __ as strong, * and _ as emphasis, *** as both', () => {
    const sp = text(' ');
    const expected = [strong(text('a')), sp, strong(text('b')), sp, em(text('c')), sp, em(text('d')), sp, em(strong(text('e')))];
    expect(inlines('**a** __b__ *c* _d_ ***e***')).toEqual(expected);
  });

  it('nests strong in emphasis and emphasis in strong', () => {
    const expected = [em(text('a '), strong(text('b')), text(' c')), text(' and '), strong(text('d '), em(text('e')))];
    expect(inlines('*a **b** c* and **d *e***')).toEqual(expected);
  });

  it('leaves underscores inside words alone, but not asterisks', () => {
    expect(inlines('snake_case_name and foo_bar_')).toEqual([text('snake_case_name and foo_bar_')]);
    expect(inlines('un*frigging*believable')).toEqual([text('un'), em(text('frigging')), text('believable')]);
  });

  it('keeps unmatched or space-surrounded delimiters as text', () => {
    expect(inlines('**a and b * c * d_')).toEqual([text('**a and b * c * d_')]);
  });

  it('spans line breaks', () => {
    expect(inlines('*a\nb*')).toEqual([em(text('a'), br, text('b'))]);
  });

  it('honours backslash escapes, and a backslash before other characters is text', () => {
    expect(inlines('\\*not em\\* \\<b> a\\b \\\\')).toEqual([text('*not em* <b> a\\b \\')]);
  });
});

describe('inline code', () => {
  it('keeps its content literal', () => {
    expect(inlines('run `**x** [a](https://a.example) <b>` now')).toEqual([text('run '), code('**x** [a](https://a.example) <b>'), text(' now')]);
  });

  it('pairs runs of equal length, strips one padding space, turns line ends into spaces', () => {
    expect(inlines('`` a`b `` and `x\ny`')).toEqual([code('a`b'), text(' and '), code('x y')]);
  });

  it('binds tighter than emphasis and link brackets', () => {
    const linked = link('https://x.example/', text('x '), code(']'), text(' y'));
    expect(inlines('*a `*` b* [x `]` y](https://x.example)')).toEqual([em(text('a '), code('*'), text(' b')), text(' '), linked]);
  });

  it('leaves unmatched backticks as text', () => {
    expect(inlines('a `` b ` c')).toEqual([text('a `` b ` c')]);
  });
});

describe('links', () => {
  it('makes links with normalised hrefs, with or without a title', () => {
    const [a, b, c] = [link('https://a.example/', text('a')), link('http://b.example/x', text('b')), link('https://c.example/y', text('c'))];
    expect(inlines('[a](https://A.example) [b](http://b.example/x "t") [c](<https://c.example/y> (t))')).toEqual([a, text(' '), b, text(' '), c]);
  });

  it('keeps balanced and escaped parentheses in the destination', () => {
    const [w, e] = [link('https://en.example/Foo_(bar)', text('w')), link('https://e.example/a)b', text('e'))];
    expect(inlines('[w](https://en.example/Foo_(bar)) [e](https://e.example/a\\)b)')).toEqual([w, text(' '), e]);
  });

  it('allows brackets and emphasis in link text, and links in emphasis', () => {
    const [a, d] = [link('https://x.example/', text('a [b] '), strong(text('c'))), em(link('mailto:d@x.example', text('d')))];
    expect(inlines('[a [b] **c**](https://x.example) *[d](mailto:d@x.example)*')).toEqual([a, text(' '), d]);
  });

  it('renders a link with an unsafe or relative destination as its text only', () => {
    expect(inlines('[**a**](javascript:alert(1)) [b](/relative) [c](#top) [d]()')).toEqual([strong(text('a')), text(' b c d')]);
  });

  it('keeps text that only looks like a link', () => {
    const [x, y] = [self('https://x.example/', 'https://x.example'), self('https://y.example/', 'https://y.example')];
    expect(inlines('[a](https://x.example [b] (https://y.example) [c][1] [d]')).toEqual([text('[a]('), x, text(' [b] ('), y, text(') [c][1] [d]')]);
  });

  it('renders images as links to their source named by the alt text, or as the alt text', () => {
    const [cat, bare] = [link('https://img.example/c.png', text('a cat')), self('https://img.example/d.png')];
    expect(inlines('![a *cat*](https://img.example/c.png) ![](https://img.example/d.png) ![x](data:image/png;base64,AA)')).toEqual([cat, text(' '), bare, text(' x')]);
  });

  it('never nests links: an image in a link becomes its alt text, an inner link wins over an outer one', () => {
    expect(inlines('[![badge](https://img.example/b.svg)](https://ci.example)')).toEqual([link('https://ci.example/', text('badge'))]);
    const [b, a] = [link('https://b.example/', text('b')), self('https://a.example/', 'https://a.example')];
    expect(inlines('[a [b](https://b.example) c](https://a.example)')).toEqual([text('[a '), b, text(' c]('), a, text(')')]);
  });
});

describe('autolinks and bare URLs', () => {
  it('links <scheme:…> and <address@host>, showing them as written', () => {
    const [a, b, d] = [self('https://a.example/x?y=1'), self('mailto:b@c.example', 'MAILTO:b@c.example'), self('mailto:d@e.example', 'd@e.example')];
    expect(inlines('<https://a.example/x?y=1> <MAILTO:b@c.example> <d@e.example>')).toEqual([a, text(' '), b, text(' '), d]);
  });

  it('keeps unsafe autolinks and anything like HTML as text', () => {
    expect(inlines('<javascript:alert(1)> <b>x</b> a < b > c &amp; &#60;')).toEqual([text('<javascript:alert(1)> <b>x</b> a < b > c &amp; &#60;')]);
  });

  it('links bare http(s) URLs, leaving trailing punctuation and unbalanced ) to the sentence', () => {
    const [a, b, c] = [self('https://a.example/x_(y)_z'), self('http://b.example/c'), strong(self('https://c.example/', 'https://c.example'))];
    const expected = [text('See '), a, text('. ('), b, text('), '), c, text('!')];
    expect(inlines('See https://a.example/x_(y)_z. (http://b.example/c), **https://c.example**!')).toEqual(expected);
  });

  it('does not link a URL inside a word, and ends one at brackets and angle brackets', () => {
    expect(inlines('xhttps://a.example https://b.example/<i>')).toEqual([text('xhttps://a.example '), self('https://b.example/'), text('<i>')]);
    expect(inlines('[https://shown.example](https://real.example)')).toEqual([link('https://real.example/', text('https://shown.example'))]);
  });
});

describe('safeHref', () => {
  it.each([
    ['https://example.com', 'https://example.com/'],
    ['  HTTP://Example.COM/a?b#c  ', 'http://example.com/a?b#c'],
    ['mailto:someone@example.com', 'mailto:someone@example.com'],
    ['https://exa\u200Bmple.com/pa\tth', 'https://example.com/path'],
    ['https:example.com', 'https://example.com/'],
  ])('allows %j as %j', (raw, href) => {
    expect(safeHref(raw)).toBe(href);
  });

  it.each([
    ...['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', 'java\nscript:alert(1)'],
    ...['\u0000javascript:alert(1)', ' \u0001 javascript:alert(1)', 'java\u0085script:alert(1)', '\uFEFFjavascript:alert(1)'],
    ...['java\u202Escript:alert(1)', 'java\u200Bscript:alert(1)', 'java\u2060script:alert(1)', 'java\u2066script:alert(1)'],
    ...['&#106;avascript:alert(1)', '&#x6A;avascript:alert(1)', 'javascript&colon;alert(1)', '%6Aavascript:alert(1)'],
    ...['data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', 'data:text/html,<script>alert(1)</script>'],
    ...['vbscript:msgbox(1)', 'file:///etc/passwd', 'blob:https://example.com/0000', 'ftp://example.com/'],
    ...['https:javascript:alert(1)', '//evil.example/', '/relative', 'relative/path', '#top', 'https://', ''],
  ])('refuses %j', (raw) => {
    expect(safeHref(raw)).toBeNull();
  });
});

describe('the XSS corpus', () => {
  const decoded = (text: string) => [text, ...[...text.matchAll(/base64,([A-Za-z0-9+/=]+)/g)].map((m) => atob(m[1]!))].join('\n');

  it('has at least 70 uniquely named payloads, each calling __pwned with its own name', () => {
    expect(XSS_CORPUS.length).toBeGreaterThanOrEqual(70);
    expect(new Set(XSS_CORPUS.map((x) => x.name)).size).toBe(XSS_CORPUS.length);
    for (const { name, text: payload } of XSS_CORPUS) expect(decoded(payload), name).toContain(`__pwned('${name}')`);
  });

  it('parses every payload to links with http(s) or mailto hrefs only', () => {
    for (const { name, text: payload } of XSS_CORPUS) {
      for (const l of links(parseMarkdown(payload))) {
        expect(['http:', 'https:', 'mailto:'], name).toContain(new URL((l as { href: string }).href).protocol);
      }
    }
  });

  it('renders every Markdown link aimed at a script as its text alone', () => {
    const aimed = XSS_CORPUS.filter((x) => /^md-(js|data|vbscript|file|protocol)/.test(x.name) && x.text.startsWith('[click]('));
    expect(aimed.length).toBeGreaterThan(20);
    for (const { name, text: payload } of aimed) {
      const blocks = parseMarkdown(payload);
      expect(links(blocks), name).toEqual([]);
      expect(visible(blocks), name).toMatch(/^(click|\[click\]\(.*)$/s);
    }
  });

  it('keeps raw HTML, however it is split or commented, as visible text', () => {
    for (const { name, text: payload } of XSS_CORPUS.filter((x) => /^(script|img|svg|mxss|iframe|object|html|comment)/.test(x.name))) {
      expect(visible(parseMarkdown(payload)).replace(/`/g, ''), name).toBe(payload.replace(/`/g, '').replace(/\n/g, ''));
    }
  });
});

describe('hostile and runaway input', { timeout: 5_000 }, () => {
  const N = MAX_SOURCE;
  it.each([
    ['asterisks', '*'.repeat(N)],
    ['underscores', '_'.repeat(N)],
    ['open brackets', '['.repeat(N)],
    ['close brackets', ']'.repeat(N)],
    ['image openers', '!['.repeat(N / 2)],
    ['nested brackets', '['.repeat(N / 2) + ']'.repeat(N / 2)],
    ['unclosed link tails', '[a]('.repeat(N / 4)],
    ['unclosed parentheses', '[('.repeat(N / 2)],
    ['unclosed titles', '[a](b "'.repeat(N / 7)],
    ['unclosed angle destinations', '[a](<'.repeat(N / 5)],
    ['backticks after a letter', 'a' + '`'.repeat(N - 1)],
    ['angle brackets', '<'.repeat(N)],
    ['unclosed autolinks', '<ab:'.repeat(N / 4)],
    ['escaped backslashes', '\\'.repeat(N), '\\'.repeat(N / 2)],
  ])('keeps %s as the text they are', (_name, source, shown = source) => {
    const blocks = parseMarkdown(source);
    expect(blocks.map((b) => b.t)).toEqual(['p']);
    expect(blockInlines(blocks[0]!).map((n) => n.t)).toEqual(['text']);
    expectSame(visible(blocks), shown);
  });

  it('pairs 50 000 single backticks into code spans', () => {
    const c = inlines('` '.repeat(N / 2));
    expect(c).toHaveLength(N / 2 - 1);
    expect(c.slice(0, 2)).toEqual([code(' '), text(' ')]);
  });

  it('parses backtick runs of every length from 1 to 400, none of them matched', () => {
    const source = Array.from({ length: 400 }, (_, i) => 'a' + '`'.repeat(i + 1)).join(' ');
    expectSame(visible(parseMarkdown(source)), source.slice(0, N));
  });

  it('parses 50 000 emphasis pairs and thousands of nested ones, flattening beyond 16 levels', () => {
    expectSame(visible(parseMarkdown('*a'.repeat(N / 2))).replace(/\*/g, ''), 'a'.repeat(N / 2));
    const levels = Math.floor(N / 6);
    const nested = inlines('*x '.repeat(levels) + 'y' + ' x*'.repeat(levels));
    expect(depth(nested)).toBeLessThanOrEqual(17);
    expectSame(visible([p(...nested)]).replace(/[ *]/g, ''), 'x'.repeat(levels) + 'y' + 'x'.repeat(levels));
    expect(depth(inlines('*'.repeat(N / 2) + 'a' + '*'.repeat(N / 2)))).toBeLessThanOrEqual(17);
  });

  it('parses a text full of links, and 25 000 list items', () => {
    expect(links(parseMarkdown('[a](https://a.example) '.repeat(N / 23)))).toHaveLength(Math.floor(N / 23));
    const [list] = parseMarkdown('- a\n'.repeat(N / 4));
    expect(list).toMatchObject({ t: 'ul' });
    expect((list as { items: unknown[] }).items).toHaveLength(N / 4);
  });

  it('parses images nested 3 000 deep into one link', () => {
    const source = '!['.repeat(3000) + 'x' + '](https://i.example/p.png)'.repeat(3000);
    expect(inlines(source)).toEqual([link('https://i.example/p.png', text('x'))]);
  });
});

describe('the 100 000-character cap', () => {
  it('drops everything after the first 100 000 characters', () => {
    const blocks = parseMarkdown('a'.repeat(MAX_SOURCE) + 'b'.repeat(10));
    expect(blocks).toHaveLength(1);
    expectSame(visible(blocks), 'a'.repeat(MAX_SOURCE));
  });

  it('leaves a fence closed after the cap unterminated', () => {
    const [pre, ...rest] = parseMarkdown('```\n' + 'x'.repeat(MAX_SOURCE) + '\n```');
    expect(rest).toEqual([]);
    expect(pre?.t).toBe('pre');
    expectSame((pre as { v: string }).v, 'x'.repeat(MAX_SOURCE - 4));
  });

  it('does not keep half of a character cut at the cap', () => {
    expectSame(visible(parseMarkdown('a'.repeat(MAX_SOURCE - 1) + '😀')), 'a'.repeat(MAX_SOURCE - 1));
  });
});
