// Accents are a matter of spelling in Latin and Greek writing: headings in capitals drop them
// ("ΩΡΑΡΙΟ", "ECOLE"), phones and hurried people leave them out, Swiss German writes "ss" for "ß".
// A term is made without the accents of Latin and Greek letters, so "ecole" finds "école" and
// "Strasse" finds "Straße", as the search boxes people know do. Letters of their own stay as they
// are: Cyrillic "й" (no "и" with a mark to a Russian reader), Turkish "ı", Danish "ø", Polish "ł",
// and every other script's marks, which are parts of its letters (Devanagari vowel signs).
// migrations/0029 folds the terms stored before in SQL with these same ranges: keep them in step.

/** A Latin or Greek letter followed by combining accents (U+0300–U+036F), once decomposed. */
const ACCENTED = /([a-z\u00c0-\u024f\u1e00-\u1eff\u0370-\u03ff\u1f00-\u1fff])[\u0300-\u036f]+/g;
const SHARP_S = /ß/g;
const NOT_ASCII = /[\u0080-\uffff]/;

/** Lowercased text with the accents of its Latin and Greek letters taken off, and "ß" as "ss". */
export function foldLetters(lowercased: string): string {
  if (!NOT_ASCII.test(lowercased)) return lowercased;
  return lowercased.normalize('NFD').replace(ACCENTED, '$1').normalize('NFC').replace(SHARP_S, 'ss');
}
