// The largest knowledge documents Parley accepts (about 1 MB of UTF-8 each, within the
// 500,000-character limit) in the shapes that were slowest to chunk: scripts without spaces
// between words, one endless word, and very many short lines. Shared by the tests and bench/.

const CJK = '的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生';

/** `chars` characters of `alphabet` in a fixed, non-repeating-looking order. */
function cycled(alphabet: string, chars: number): string {
  const letters = [...alphabet];
  let text = '';
  for (let i = 0; text.length < chars; i++) text += letters[(i * 7) % letters.length];
  return text.slice(0, chars);
}

export const LARGE_DOCUMENTS: ReadonlyArray<readonly [label: string, make: () => string]> = [
  ['Chinese', () => cycled(CJK, 330_000)],
  ['Thai', () => cycled('สวัสดีครับยินดีต้อนรับสู่ระบบของเรา', 330_000)],
  ['Hangul', () => cycled('안녕하세요우리시스템에오신것을환영합니다', 330_000)],
  ['Arabic without spaces', () => cycled('مرحبابكمفينظامناالجديدوالمتطور', 490_000)],
  ['one 499,999-character word', () => 'a'.repeat(499_999)],
  ['250,000 short lines', () => 'a\n'.repeat(250_000).trimEnd()],
  // A heading on every line: each one a section of its own, which chunking once weighed one by one.
  ['250,000 empty headings', () => '#\n'.repeat(250_000).trimEnd()],
];
