// Numbers as people say them (§9, §12: stored as JSON numbers): "about 50 people", "50人",
// "約50人", "৫০ জন", "1,200", "NT$1,200", "1.5k", "五十", "一百二十", "兩百五", "fifty",
// "পঞ্চাশ". numbersIn finds every number a text states (applyExtracted checks a model's number
// against it); parseNumber and readNumber want exactly one.
//
// An answer that states two different numbers ("between 50 and 80", "50-80", "50 now, 80 next
// year") is refused and asked again: storing either bound would record something the user did
// not say, and the user settles it in one word.

// The zero of each decimal digit block NFKC leaves alone (Arabic-Indic, Devanagari, Bengali,
// Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam, Thai, Lao, Tibetan, Myanmar, Khmer).
const DIGIT_ZEROS = [0x660, 0x6f0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xe50, 0xed0, 0xf20, 0x1040, 0x17e0];

/** Decimal digits of other scripts (৫০ → 50) and full-width ones (５０ → 50) as ASCII. */
export function asciiDigits(text: string): string {
  return text.normalize('NFKC').replace(/\p{Nd}/gu, (digit) => {
    const code = digit.codePointAt(0)!;
    const zero = DIGIT_ZEROS.find((start) => code >= start && code <= start + 9);
    return zero === undefined ? digit : String(code - zero);
  });
}

const SCALES: Record<string, number> = {
  k: 1e3, thousand: 1e3, m: 1e6, mn: 1e6, million: 1e6, bn: 1e9, billion: 1e9, hundred: 100, dozen: 12, dozens: 12, lakh: 1e5, lakhs: 1e5, crore: 1e7, crores: 1e7,
  百: 100, 千: 1e3, 萬: 1e4, 万: 1e4, 億: 1e8, 亿: 1e8,
  হাজার: 1e3, লাখ: 1e5, লক্ষ: 1e5, কোটি: 1e7,
};

// Digits with thousands separators (1,200 and the Indian 1,20,000) or without, a decimal part,
// and a scale: a word after a space ("5 thousand", "৫ হাজার"), or letters and Han attached
// ("1.5k", "3萬"; "5 kg" stays 5). A minus sign (the hyphen, or U+2212 as word processors write
// it) counts only at the start of a word, so "50-80" is two numbers, not 50 and -80. At most 7 groups after the first (the Indian writing of
// Number.MAX_SAFE_INTEGER has 7; more reads as several numbers, refused too): with any number,
// the pattern was tried from after every comma of "1,11,11,…" to the end of the run, time
// growing with the square of its length (4.3 s for one extraction of 20 such values).
// Dots between two or more groups of three are thousands, as much of Europe, Indonesia and Brazil
// write them ("1.234.567", "Rp 1.500.000"): read as a decimal point they gave 1.234 and 1.5.
// Any other run of digits with two dots (12.05.2023, 192.168.1.1) is no number at all.
// Spaces between groups of three are thousands as French, Russian, Polish and Swedish write them
// ("1 200 salariés"; NFKC has made no-break and narrow spaces plain ones), apostrophes as Swiss
// write them ("1'000'000"): both were two numbers, refused. "50 80" and "1 2000" still are.
const DIGIT_NUMBER = new RegExp(
  String.raw`(?<![\d.])(?:(?<=^|[\s$(:：])([-\u2212]))?(\d{1,3}(?:,\d{2,3}){0,6},\d{3}|\d{1,3}(?:\.\d{3}){2,6}|\d{1,3}(?: \d{3}){1,6}(?! ?\d)|\d{1,3}(?:['’]\d{3}){1,6}|\d+)(?:\.(\d+))?(?![\d]|\.\d)` +
    String.raw`(?:\s*(thousand|million|billion|hundred|dozens?|lakhs?|crores?|হাজার|লাখ|লক্ষ|কোটি)(?![\p{L}\p{M}])|(k|mn|m|bn|百|千|萬|万|億|亿)(?![a-z]))?`,
  'giu',
);

/**
 * The digits as written, scaled by a power of ten by moving the decimal point in the text: "1.15k"
 * is 1150 where 1.15 × 1000 is 1149.9999999999998. Rounding such products to 15 digits changed
 * every 16-digit number written plainly (1234567890123456 was stored as 1234567890123460).
 */
function decimal(whole: string, fraction: string, scale: number): number {
  const point = whole.length + Math.round(Math.log10(scale));
  const digits = `${whole}${fraction}`.padEnd(point, '0');
  return Number(`${digits.slice(0, point)}.${digits.slice(point) || '0'}`);
}

/** The digits as written times twelve, exactly: 1.1 dozen is 13.2, not 13.200000000000001. */
function dozens(whole: string, fraction: string): number {
  const times = (BigInt(`${whole}${fraction}`) * 12n).toString().padStart(fraction.length + 1, '0');
  const point = times.length - fraction.length;
  return decimal(times.slice(0, point), times.slice(point), 1);
}

function digitNumbers(text: string): number[] {
  const found: number[] = [];
  for (const match of text.matchAll(DIGIT_NUMBER)) {
    const [, sign, whole, fraction, word, attached] = match;
    const scale = SCALES[(word ?? attached ?? '').toLowerCase()] ?? 1;
    const digits = whole!.replace(/[,. '’]/gu, '');
    // A dozen is no power of ten: its decimal point cannot be moved, so it multiplies.
    const value = scale === SCALES.dozen ? dozens(digits, fraction ?? '') : decimal(digits, fraction ?? '', scale);
    found.push(sign ? -value : value);
  }
  return found;
}

const HAN_DIGITS: Record<string, number> = {
  零: 0, 〇: 0, 一: 1, 壹: 1, 二: 2, 貳: 2, 兩: 2, 两: 2, 三: 3, 參: 3, 四: 4, 肆: 4, 五: 5, 伍: 5, 六: 6, 陸: 6, 七: 7, 柒: 7, 八: 8, 捌: 8, 九: 9, 玖: 9,
};
const HAN_UNITS: Record<string, number> = { 十: 10, 拾: 10, 百: 100, 佰: 100, 千: 1000, 仟: 1000 };
const HAN_BIG: Record<string, number> = { 萬: 1e4, 万: 1e4, 億: 1e8, 亿: 1e8 };
const HAN_RUN = /[零〇一壹二貳兩两三參四肆五伍六陸七柒八捌九玖十拾百佰千仟萬万億亿]+/gu;

/** A run of Chinese numerals: 五十, 一百二十, 兩百五 (250), 一萬二 (12,000), 二〇二三; null for 百 or 萬 alone. */
export function parseHanNumber(run: string): number | null {
  const chars = [...run];
  if (!chars.some((char) => char in HAN_DIGITS) && !(HAN_UNITS[chars[0]!] === 10)) return null;
  if (!chars.some((char) => char in HAN_UNITS || char in HAN_BIG)) return Number(chars.map((char) => HAN_DIGITS[char]).join(''));
  let total = 0;
  let section = 0;
  let digit: number | null = null;
  let lastUnit = 1;
  let afterUnit = false;
  for (const char of chars) {
    if (char in HAN_DIGITS) {
      // "兩百五" says 250: a digit straight after a unit counts in the next unit down; after a
      // zero (一百零五) it is units again.
      afterUnit = digit === null && lastUnit > 1;
      digit = HAN_DIGITS[char]!;
    } else if (char in HAN_UNITS) {
      section += (digit ?? 1) * HAN_UNITS[char]!;
      lastUnit = HAN_UNITS[char]!;
      digit = null;
    } else {
      total += (section + (digit ?? 0) || 1) * HAN_BIG[char]!;
      section = 0;
      lastUnit = HAN_BIG[char]!;
      digit = null;
    }
  }
  if (digit !== null) section += afterUnit && lastUnit >= 100 ? (digit * lastUnit) / 10 : digit;
  return total + section;
}

function hanNumbers(text: string, all: boolean): number[] {
  const runs = text.match(HAN_RUN) ?? [];
  // A lone 一 is usually part of a word (一共, 統一); a longer run or 十 is a number.
  const strong = runs.filter((run) => [...run].length > 1 || run === '十');
  return (all || strong.length === 0 ? runs : strong).map(parseHanNumber).filter((value): value is number => value !== null);
}

const EN_SMALL: Record<string, number> = Object.fromEntries(
  'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen'
    .split(' ')
    .map((word, index) => [word, index] as const)
    .concat(['twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'].map((word, index) => [word, (index + 2) * 10] as const)),
);
// A dozen multiplies as a hundred does: "two dozen" is 24 (added, it was 14).
const EN_SCALE: Record<string, number> = { dozen: 12, hundred: 100, thousand: 1e3, million: 1e6, billion: 1e9 };
/** "half a million", "a quarter million", "half a dozen": a part of the scale after it; alone, no number. */
const EN_FRACTION: Record<string, number> = { half: 0.5, quarter: 0.25 };
/** "no one", "this one": not the number one. */
const NOT_ONE = new Set(['no', 'any', 'the', 'this', 'that', 'which', 'every', 'some', 'each']);

const BN_SMALL: Record<string, number> = Object.fromEntries(
  Object.entries({
    শূন্য: 0, এক: 1, দুই: 2, তিন: 3, চার: 4, পাঁচ: 5, ছয়: 6, সাত: 7, আট: 8, নয়: 9, দশ: 10, এগারো: 11, বারো: 12,
    তেরো: 13, চোদ্দ: 14, চৌদ্দ: 14, পনেরো: 15, ষোলো: 16, সতেরো: 17, আঠারো: 18, উনিশ: 19, বিশ: 20, কুড়ি: 20, পঁচিশ: 25,
    ত্রিশ: 30, তিরিশ: 30, চল্লিশ: 40, পঞ্চাশ: 50, ষাট: 60, সত্তর: 70, আশি: 80, নব্বই: 90, একশো: 100, একশ: 100,
  }).map(([word, value]) => [word.normalize('NFKC'), value]),
);
const BN_SCALE: Record<string, number> = { শ: 100, শো: 100, শত: 100, হাজার: 1e3, লাখ: 1e5, লক্ষ: 1e5, কোটি: 1e7 };

type WordValue = { small: number } | { scale: number } | null;

/** Reads the word at `index` of `words` (the words around it may tell what it is). */
type WordReader = (words: string[], index: number) => WordValue;

/** A Bengali word's value: পঞ্চাশ, পাঁচশো (5 × 100), পঞ্চাশজন (with its counting word). */
function bengaliWord(words: string[], index: number): WordValue {
  const word = words[index]!;
  if (word in BN_SCALE) return { scale: BN_SCALE[word]! };
  const bare = word.replace(/(জন|জনের|টি|টা|খানা)$/u, '');
  if (bare in BN_SMALL) return { small: BN_SMALL[bare]! };
  const hundreds = /^(.+?)(শো|শ|শত)$/u.exec(bare);
  if (hundreds && hundreds[1]! in BN_SMALL) return { small: BN_SMALL[hundreds[1]!]! * 100 };
  return null;
}

function englishWord(words: string[], index: number): WordValue {
  const word = words[index]!;
  const previous = words[index - 1];
  if (word in EN_SMALL) return word === 'one' && previous !== undefined && NOT_ONE.has(previous) ? null : { small: EN_SMALL[word]! };
  if (word in EN_SCALE) return { scale: EN_SCALE[word]! };
  // After a number ("one quarter million") it is no part of one: that read as 1.25 million.
  if (!(word in EN_FRACTION) || (previous !== undefined && (previous in EN_SMALL || previous in EN_SCALE))) return null;
  const scale = words[index + 1] === 'a' ? words[index + 2] : words[index + 1];
  return scale !== undefined && scale in EN_SCALE ? { small: EN_FRACTION[word]! } : null;
}

/** Runs of number words ("one hundred and twenty", "পাঁচ হাজার"), each summed the usual way. */
function wordNumbers(words: string[], read: WordReader, joiners: Set<string>): number[] {
  const found: number[] = [];
  let total = 0;
  let current = 0;
  let open = false;
  const close = () => {
    if (open) found.push(total + current);
    total = 0;
    current = 0;
    open = false;
  };
  words.forEach((word, index) => {
    const value = read(words, index);
    if (!value) {
      // "one hundred and twenty" goes on past "and"; "a hundred" starts at "a".
      const nextValue = index + 1 < words.length ? read(words, index + 1) : null;
      if (!(joiners.has(word) && nextValue && (open || 'scale' in nextValue))) close();
      return;
    }
    open = true;
    if ('small' in value) current += value.small;
    // A hundred and a dozen multiply what comes before them; thousands and more close a group.
    else if (value.scale < 1000) current = (current || 1) * value.scale;
    else {
      total += (current || 1) * value.scale;
      current = 0;
    }
  });
  close();
  return found;
}

const words = (text: string) => text.split(/[\s\p{P}\p{S}]+/u).filter(Boolean);

/** What each way of writing numbers finds, digits first. */
function readings(text: string, allHan: boolean): number[][] {
  const folded = asciiDigits(text).toLowerCase();
  return [
    digitNumbers(folded),
    hanNumbers(folded, allHan),
    wordNumbers(words(folded.replaceAll('-', ' ')), englishWord, new Set(['and', 'a'])),
    wordNumbers(words(folded), bengaliWord, new Set()),
  ];
}

const MAX_ABS = Number.MAX_SAFE_INTEGER;

/** Every number the text states in any of the ways above, in order (duplicates kept). */
export function numbersIn(text: string): number[] {
  return readings(text, true)
    .flat()
    .filter((value) => Number.isFinite(value) && Math.abs(value) <= MAX_ABS);
}

export type NumberReading = { ok: true; value: number } | { ok: false; problem: 'none' | 'several' | 'too_large' };

/** The one number a typed answer states. Digits win over number words ("一共 50 人" is 50). */
export function readNumber(text: string): NumberReading {
  const reading = readings(text, false).find((found) => found.length > 0);
  if (!reading) return { ok: false, problem: 'none' };
  const distinct = [...new Set(reading)];
  if (distinct.length > 1) return { ok: false, problem: 'several' };
  const value = distinct[0]!;
  if (!Number.isFinite(value) || Math.abs(value) > MAX_ABS) return { ok: false, problem: 'too_large' };
  return { ok: true, value };
}

export type ParsedNumber = { ok: true; value: number } | { ok: false; problem: 'none' | 'several' };

/** A number from a model (a JSON number) or from text; a number too large to keep is none. */
export function parseNumber(raw: unknown): ParsedNumber {
  if (typeof raw === 'number') return Number.isFinite(raw) && Math.abs(raw) <= MAX_ABS ? { ok: true, value: raw } : { ok: false, problem: 'none' };
  if (typeof raw !== 'string') return { ok: false, problem: 'none' };
  const reading = readNumber(raw);
  return reading.ok || reading.problem === 'several' ? (reading as ParsedNumber) : { ok: false, problem: 'none' };
}
