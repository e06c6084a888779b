// Accents are a matter of spelling in Latin and Greek writing: headings in capitals drop them
// ("ΩΡΑΡΙΟ", "ECOLE"), phones and hurried people leave them out, Swiss German writes "ss" for "ß".
// A term is made without the accents of Latin and Greek letters, so "ecole" finds "école" and
// "Strasse" finds "Straße", as the search boxes people know do. Turkish typed on other keyboards
// has no "ı", "ş" or "ö" ("Kadikoy"), and JavaScript lowercases "ISPARTA" to "isparta" where the
// word is "ısparta": "ı" is "i" too. Letters of their own stay as they are: Cyrillic "й" (no "и"
// with a mark to a Russian reader), Danish "ø", Polish "ł", and every other script's marks, which
// are parts of its letters (Devanagari vowel signs).
// migrations/0029 folds the terms stored before in SQL with these same ranges, elisions, "'s" and
// Turkish endings: keep them in step.

/** A Latin or Greek letter followed by combining accents (U+0300–U+036F), once decomposed. */
const ACCENTED = /([a-z\u00c0-\u024f\u1e00-\u1eff\u0370-\u03ff\u1f00-\u1fff])[\u0300-\u036f]+/g;
const SHARP_S = /ß/g;
const DOTLESS_I = /ı/g;
const NOT_ASCII = /[\u0080-\uffff]/;

/**
 * Lowercased text with the accents of its Latin and Greek letters taken off, "ß" as "ss" and "ı" as
 * "i". Turkish "İ", which JavaScript lowercases as "i" and a combining dot above, is a plain "i" too.
 */
export function foldLetters(lowercased: string): string {
  if (!NOT_ASCII.test(lowercased)) return lowercased;
  return lowercased.normalize('NFD').replace(ACCENTED, '$1').normalize('NFC').replace(SHARP_S, 'ss').replace(DOTLESS_I, 'i');
}

/**
 * French and Italian articles and particles elided before a vowel ("l'école", "d'été", "qu'il",
 * "dell'arte", "un'amica"): the word a reader sees, and a question names, is the one after the
 * apostrophe. Whole words with an apostrophe stay ("it's", "o'clock", "aujourd'hui").
 */
const ELIDED = /^(?:c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu|dell|dall|nell|sull|all|un|quest|quell)'(?=[^'])/;

/** "'s" after a word: an English possessive ("Parley's", "the shop's") or a Dutch plural ("auto's"). */
const APOSTROPHE_S = /(?<=.)'s$/;

/**
 * Turkish writes a name's case ending after an apostrophe ("İstanbul'da", "Ankara'dan",
 * "Türkiye'nin"): the word is the name. Endings as they are once folded (ü → u, ç → c, ş → s,
 * ı → i): the dative and accusative, the genitive, the locative and ablative (with
 * "-ki"), the plural and what follows it, "with" and the equative. No English contraction ("'d",
 * "'re", "'ll", "'ve", "'t", "'m") and no name ("O'Dea") is one of them.
 */
const TURKISH_ENDING = /^([^']+)'(?:y?[aeiu]|n?[iu]n|[dt][ae](?:n|ki)?|l[ae]r[a-z]*|y?l[ae]|c[ae])$/;

/**
 * A lowercased and folded word without the elided article in front of it, the "'s" after it, or
 * a Turkish case ending after a name.
 */
function bareWord(word: string): string {
  if (!word.includes("'")) return word;
  return word.replace(ELIDED, '').replace(APOSTROPHE_S, '').replace(TURKISH_ENDING, '$1');
}

/** Words of four or more plain Latin letters: shorter ones ("was", "gas") and other scripts stay. */
const PLAIN_WORD = /^[a-z]{4,}$/;
/** Not plurals: "class", "status", "basis", "this". */
const SINGULAR_ENDING = /(?:ss|us|is)$/;

/**
 * A plural as its singular, and a verb's "-s" as its stem, the way English (and French, Spanish,
 * Portuguese and Dutch plurals, which mostly add "s") are mostly written: "shoes" finds "shoe",
 * "policies" "policy", "matches" "match", "opens" "open". A question and a document rarely use
 * the same number. Irregular words stay apart as before ("cookies" becomes "cooky", not "cookie";
 * "news" meets "new"): the same rules run on both sides, so only such pairs differ from a
 * dictionary's answer. migrations/0029 applies the same rules to the terms stored before.
 */
function singular(word: string): string {
  if (!PLAIN_WORD.test(word) || SINGULAR_ENDING.test(word) || !word.endsWith('s')) return word;
  if (word.length >= 5 && /[^ae]ies$/.test(word)) return `${word.slice(0, -3)}y`;
  if (/(?:ch|sh|ss|x|zz)es$/.test(word)) return word.slice(0, -2);
  if (/[^aeo]es$/.test(word)) return word.slice(0, -1);
  if (/[^s]s$/.test(word)) return word.slice(0, -1);
  return word;
}

/** A word as a term: bare (bareWord), then singular. */
export function termOf(word: string): string {
  return singular(bareWord(word));
}
