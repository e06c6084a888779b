/**
 * The word-like segments of an ASCII text as Intl.Segmenter (ICU's word rules, Unicode UAX #29)
 * finds them, without it: every chat turn searches knowledge for its message's terms, and for
 * the usual short English message ICU costs tens of microseconds where this costs one or two.
 * Only the rules that can apply to ASCII are needed; test/unit/ascii-words.test.ts checks the
 * result against Intl.Segmenter on a large random corpus of the characters those rules name.
 */

const LETTER = 1;
const DIGIT = 2;
/** `_`: joins letters, digits and itself (WB13a/b). */
const CONNECTOR = 3;
/** `.` and `'`: between two letters or two digits (WB6/7, WB11/12). */
const MID_BOTH = 4;
/** `,` and `;`: between two digits only (WB11/12). */
const MID_NUMBER = 5;
/** `:`: between two letters only (WB6/7; ICU keeps Unicode's MidLetter colon). */
const MID_LETTER = 6;
const OTHER = 0;

const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  CLASS[c] = /[A-Za-z]/.test(ch) ? LETTER : /[0-9]/.test(ch) ? DIGIT : ch === '_' ? CONNECTOR : ch === '.' || ch === "'" ? MID_BOTH : ch === ',' || ch === ';' ? MID_NUMBER : ch === ':' ? MID_LETTER : OTHER;
}

const classAt = (text: string, i: number) => (i < text.length ? CLASS[text.charCodeAt(i)]! : OTHER);
const joins = (left: number, right: number) =>
  (left === LETTER || left === DIGIT || left === CONNECTOR) && (right === LETTER || right === DIGIT || right === CONNECTOR);

/** Whether segmenting with asciiWords gives what Intl.Segmenter would: ASCII only, within one segmenting window. */
export function asciiWordsApply(text: string, window: number): boolean {
  // A word filling a whole window is cut by the windowed segmenter (src/lib/text.ts): longer texts take that path.
  // eslint-disable-next-line no-control-regex
  return text.length <= window && /^[\x00-\x7f]*$/.test(text);
}

/** The word-like segments (those with a letter or digit) of an ASCII text, in order. */
export function asciiWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    const first = classAt(text, i);
    if (first !== LETTER && first !== DIGIT && first !== CONNECTOR) {
      i++;
      continue;
    }
    const start = i;
    let wordy = first !== CONNECTOR;
    let last = first;
    i++;
    for (;;) {
      const next = classAt(text, i);
      if (joins(last, next)) {
        if (next !== CONNECTOR) wordy = true;
        last = next;
        i++;
        continue;
      }
      // A middle character joins only between two letters or two digits.
      const after = classAt(text, i + 1);
      const betweenLetters = (next === MID_BOTH || next === MID_LETTER) && last === LETTER && after === LETTER;
      const betweenDigits = (next === MID_BOTH || next === MID_NUMBER) && last === DIGIT && after === DIGIT;
      if (betweenLetters || betweenDigits) {
        last = after;
        i += 2;
        continue;
      }
      break;
    }
    if (wordy) words.push(text.slice(start, i));
  }
  return words;
}
