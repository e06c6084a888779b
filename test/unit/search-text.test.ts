import { describe, expect, it } from 'vitest';
import { searchTerms, toQueryTerms, toTsvectorLiteral } from '../../src/features/knowledge/search-text.js';

/** The terms as the one tsquery literal they OR into. */
const toTsqueryLiteral = (text: string) => toQueryTerms(text)?.join(' | ') ?? null;

/** Every pair of neighbouring characters in each run of Han characters. */
function hanBigrams(text: string): string[] {
  return (text.match(/\p{Script=Han}+/gu) ?? []).flatMap((run) => {
    const chars = Array.from(run);
    return chars.slice(1).map((char, i) => chars[i] + char);
  });
}

describe('searchTerms', () => {
  it('lowercases and NFKC-normalises English words, keeping digits and apostrophes', () => {
    expect(searchTerms('Hello, World! Don’t 3.14 — ＡＢＣ e-mail ﬁle')).toEqual(['hello', 'world', "don't", '3.14', 'abc', 'e', 'mail', 'file']);
  });

  it('adds the parts of a word joined by dots, underscores or colons, in ASCII and beyond', () => {
    expect(searchTerms('Set max_tokens in config.yaml, U.S.A 3.14')).toEqual(['set', 'max_tokens', 'max', 'token', 'in', 'config.yaml', 'config', 'yaml', 'u.s.a', '3.14']);
    expect(searchTerms('Réglez max_jetons dans app:config')).toEqual(['reglez', 'max_jetons', 'max', 'jeton', 'dan', 'app:config', 'app', 'config']);
    // Parts with an apostrophe are left out, as migrations/0033 leaves them out of the terms stored before.
    expect(searchTerms("the user's_guide")).toEqual(['the', "user's_guide", 'guide']);
  });

  it('keeps repeats in order of appearance', () => {
    expect(searchTerms('The cat and the hat')).toEqual(['the', 'cat', 'and', 'the', 'hat']);
  });

  it('drops punctuation and symbols', () => {
    expect(searchTerms('... —— ！？「」 ___ 🇧🇩 👍 * #')).toEqual([]);
    expect(searchTerms('')).toEqual([]);
  });

  it('adds overlapping bigrams for Chinese, so a sub-phrase of a word is a term', () => {
    const terms = searchTerms('我們生產電路板');
    expect(terms).toEqual(expect.arrayContaining(['我們', '生產', '電路板', '電路', '路板']));
    expect(terms).toEqual(expect.arrayContaining(hanBigrams('我們生產電路板')));
    expect(searchTerms('電路板')).toEqual(['電路板', '電路', '路板']);
    for (const term of terms) expect('我們生產電路板').toContain(term);
  });

  it('covers every two-character sub-phrase of a Chinese sentence, however the dictionary cut it', () => {
    const text = '我的公司是電子業，我們生產電路板。員工人數是五十人';
    expect(searchTerms(text)).toEqual(expect.arrayContaining(hanBigrams(text)));
    // Punctuation ends a run: no bigram spans "，".
    expect(searchTerms(text)).not.toContain('業我');
  });

  it('keeps single-character Chinese words and does not count a two-character word twice', () => {
    expect(searchTerms('是')).toEqual(['是']);
    expect(searchTerms('公司')).toEqual(['公司']);
  });

  it('keeps Bengali words whole, with their vowel signs and viramas, and makes no bigrams', () => {
    expect(searchTerms('আমাদের কোম্পানি সার্কিট বোর্ড তৈরি করে।')).toEqual(['আমাদের', 'কোম্পানি', 'সার্কিট', 'বোর্ড', 'তৈরি', 'করে']);
    expect(searchTerms('২০২৪ সালে ৫০ জন')).toEqual(['২০২৪', 'সালে', '৫০', 'জন']);
  });

  it('adds bigrams for Japanese and Korean too', () => {
    expect(searchTerms('한국어')).toEqual(['한국어', '한국', '국어']);
    expect(searchTerms('タワー')).toEqual(expect.arrayContaining(['タワ', 'ワー']));
  });

  it('handles mixed-language text', () => {
    const terms = searchTerms('Parley 支援 বাংলা and 中文 v2');
    expect(terms).toEqual(expect.arrayContaining(['parley', '支援', 'বাংলা', 'and', '中文', 'v2']));
    expect(terms).not.toContain('援中');
  });

  it('leaves out the invisible characters inside words, and lowercases Turkish "İ" to a plain "i"', () => {
    expect(searchTerms('Öff\u00ADnungs\u00ADzeiten \u200Fשעות\u200F می\u200Cخواهم x\u2060y \uFEFFhello')).toEqual(['offnungszeiten', 'שעות', 'میخواهم', 'xy', 'hello']);
    expect(searchTerms('İSTANBUL İstanbul istanbul')).toEqual(['istanbul', 'istanbul', 'istanbul']);
    // U+200B separates words in Thai, Khmer and Lao.
    expect(searchTerms('word\u200Bword')).toEqual(['word', 'word']);
  });

  it('matches Latin and Greek words with or without their accents, and "ß" with "ss"', () => {
    expect(searchTerms('École ECOLE ecole Ωράριο ΩΡΑΡΙΟ ωραριο Straße STRASSE Tiếng Việt ΐ')).toEqual([
      'ecole', 'ecole', 'ecole', 'ωραριο', 'ωραριο', 'ωραριο', 'strasse', 'strasse', 'tieng', 'viet', 'ι',
    ]);
    // Turkish typed without its letters, and capitals JavaScript lowercases to "i", match too.
    expect(searchTerms('Kadıköy Kadikoy ısparta ISPARTA Şişli Sisli')).toEqual(['kadikoy', 'kadikoy', 'isparta', 'isparta', 'sisli', 'sisli']);
    // Letters of their own, not accented ones, stay: Cyrillic "й", Danish "ø", Polish "ł".
    expect(searchTerms('мой мои søndag łódź')).toEqual(['мой', 'мои', 'søndag', 'łodz']);
    // Other scripts' marks are letters' parts: Devanagari vowel signs, Arabic vowel marks.
    expect(searchTerms('हिन्दी कमल कमाल')).toEqual(['हिन्दी', 'कमल', 'कमाल']);
  });

  it('reads a French or Italian elided article as the word it stands before: "l\'école" is "école"', () => {
    expect(searchTerms("L'école d'été, l’hôtel qu'il dell'arte un'amica jusqu'à")).toEqual(['ecole', 'ete', 'hotel', 'il', 'arte', 'amica', 'a']);
    // Apostrophes inside English words and names, and words that are not elisions, stay whole.
    expect(searchTerms("o'clock O'Brien aujourd'hui rock'n'roll don't l'")).toEqual(["o'clock", "o'brien", "aujourd'hui", "rock'n'roll", "don't", 'l']);
  });

  it('reads a name with a Turkish case ending after an apostrophe as the name: "İstanbul\'da" is "istanbul"', () => {
    expect(searchTerms("İstanbul'da Ankara'dan Türkiye'nin Kadıköy'de PDF'i Ali'ye Ayşe'yle İzmir'deki Bursa'ya")).toEqual([
      'istanbul', 'ankara', 'turkiye', 'kadikoy', 'pdf', 'ali', 'ayse', 'izmir', 'bursa',
    ]);
    // English contractions and names are not Turkish endings.
    expect(searchTerms("don't I'd we're you'll I've O'Dea ma'am")).toEqual(["don't", "i'd", "we're", "you'll", "i've", "o'dea", "ma'am"]);
  });

  it('reads a plural as its singular, and a verb\'s "-s" as its stem', () => {
    expect(searchTerms('Shoes policies matches boxes classes horses opens trees ideas écoles tiendas')).toEqual([
      'shoe', 'policy', 'match', 'box', 'class', 'horse', 'open', 'tree', 'idea', 'ecole', 'tienda',
    ]);
    // Not plurals, and short words: left as they are.
    expect(searchTerms('status basis this bus was gas ties pies 1990s')).toEqual(['status', 'basis', 'this', 'bus', 'was', 'gas', 'tie', 'pie', '1990s']);
  });

  it('reads a word with "\'s" after it as the word: "Parley\'s" is "parley"', () => {
    expect(searchTerms("Parley's widget, the company’s policy, auto's, it's, what's")).toEqual(['parley', 'widget', 'the', 'company', 'policy', 'auto', 'it', 'what']);
  });

  it('drops terms longer than 100 characters', () => {
    expect(searchTerms('a'.repeat(100))).toEqual(['a'.repeat(100)]);
    expect(searchTerms(`${'a'.repeat(101)} ok`)).toEqual(['ok']);
  });
});

describe('toTsvectorLiteral', () => {
  it('lists each lexeme once with its 1-based word positions', () => {
    expect(toTsvectorLiteral('The cat and the hat')).toBe("'the':1,4 'cat':2 'and':3 'hat':5");
  });

  it('doubles quotes inside lexemes', () => {
    expect(toTsvectorLiteral("Don't O'Brien")).toBe("'don''t':1 'o''brien':2");
  });

  it('gives bigrams the position of their word', () => {
    expect(toTsvectorLiteral('電路板')).toBe("'電路板':1 '電路':1 '路板':1");
  });

  it('is empty for text without terms', () => {
    expect(toTsvectorLiteral('')).toBe('');
    expect(toTsvectorLiteral(' 。！ ')).toBe('');
  });

  it('keeps at most 256 positions per lexeme', () => {
    const positions = Array.from({ length: 256 }, (_, i) => i + 1).join(',');
    expect(toTsvectorLiteral('x '.repeat(1000))).toBe(`'x':${positions}`);
  });

  it('caps positions at 16383', () => {
    const text = `${Array.from({ length: 16390 }, (_, i) => `w${i}`).join(' ')} last last`;
    expect(toTsvectorLiteral(text)).toMatch(/ 'last':16383$/);
  });

  it('stays under 1 MB, keeping the beginning of a huge text', () => {
    const text = Array.from({ length: 150_000 }, (_, i) => `lexeme${i}`).join(' ');
    const literal = toTsvectorLiteral(text);
    expect(Buffer.byteLength(literal)).toBeLessThan(1_000_000);
    expect(Buffer.byteLength(literal)).toBeGreaterThan(900_000);
    expect(literal.startsWith("'lexeme0':1 'lexeme1':2 ")).toBe(true);
    expect(literal).toMatch(/'lexeme\d+':\d+$/);
  });
});

describe('toQueryTerms', () => {
  it('ORs the distinct terms', () => {
    expect(toTsqueryLiteral('Board games, card games!')).toBe("'board' | 'game' | 'card'");
  });

  it('leaves out the small words when there are others, in the languages it knows them of', () => {
    expect(toTsqueryLiteral('Where is the board? The board!')).toBe("'board'");
    expect(toTsqueryLiteral('Wann ist der Laden am Samstag offen?')).toBe("'laden' | 'samstag' | 'offen'");
    expect(toTsqueryLiteral("Quand est-ce que la boutique ouvre?")).toBe("'boutique' | 'ouvre'");
    // Small words written without their accents are small words still.
    expect(toTsqueryLiteral('OU EST LA BOUTIQUE? Donde esta la tienda?')).toBe("'boutique' | 'tienda'");
    // Words that are small in one language and not in another stay.
    expect(toTsqueryLiteral('Will the van come to the den?')).toBe("'will' | 'van' | 'come' | 'den'");
  });

  it('keeps the small words of a question that has nothing else', () => {
    expect(toTsqueryLiteral('What is it?')).toBe("'what' | 'is' | 'it'");
  });

  it('escapes quotes', () => {
    expect(toTsqueryLiteral("don't")).toBe("'don''t'");
  });

  it('includes Chinese bigrams', () => {
    expect(toTsqueryLiteral('電路板')).toBe("'電路板' | '電路' | '路板'");
  });

  it('is null when there is nothing to search for', () => {
    expect(toTsqueryLiteral('')).toBeNull();
    expect(toTsqueryLiteral('?! 。 👍')).toBeNull();
  });

  it('keeps the first 64 distinct terms', () => {
    const literal = toTsqueryLiteral(Array.from({ length: 100 }, (_, i) => `t${i} t${i}`).join(' '))!;
    expect(literal.split(' | ')).toHaveLength(64);
    expect(literal.endsWith("'t63'")).toBe(true);
  });

  it('reads a long message\'s first 2,048 characters, a word cut at the end left out', () => {
    const filler = 'x '.repeat(1_020);
    expect(toTsqueryLiteral(`${filler}alpha beta gamma`)).toBe("'x' | 'alpha'");
    expect(toTsqueryLiteral(`${filler}alpha ${'y'.repeat(500)}`)).toBe("'x' | 'alpha'");
    // A message that ends within them is read to its end.
    expect(toTsqueryLiteral(`${filler}alpha ab`)).toBe("'x' | 'alpha' | 'ab'");
  });

  it('counts those characters after NFKC: a "ﷺ" is 18 of them', () => {
    // Each "ﷺ" is four Arabic words after NFKC: 107 of them and a space fill the 2,048.
    expect(toTsqueryLiteral(`${'ﷺ '.repeat(108)}found`)).toBe("'صلى' | 'الله' | 'عليه' | 'وسلم'");
    expect(toTsqueryLiteral(`${'ﷺ '.repeat(100)}found`)).toContain("'found'");
  });
});
