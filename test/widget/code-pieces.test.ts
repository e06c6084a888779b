// A long code block is drawn as pieces of lines (widget/src/code-cuts.ts), each a block of
// its own, so that a streamed reply's code is not laid out whole at every frame. The pieces must
// give back the code exactly, on screen and in what a visitor copies, and a block that grows must
// keep the cuts it had, or the widget would redraw a streamed block differently from a reloaded one.
import { describe, expect, it } from 'vitest';
import { CODE_PIECE_LINES, codeCuts } from '../../widget/src/code-cuts.js';

const pieces = (v: string, cuts: number[]) => [-1, ...cuts].map((cut, i) => v.slice(cut + 1, cuts[i] ?? v.length));

/** 400 lines, every seventh empty and a run of empty lines where the first cut would fall. */
const CODE = Array.from({ length: 400 }, (_, i) => (i % 7 === 3 || (i >= 47 && i <= 53) ? '' : `  line ${i}: value = ${i * 3};`)).join('\n');

describe('a long code block cut into pieces', () => {
  it('gives the code back exactly, a line end between two pieces', () => {
    const cuts = codeCuts(CODE);
    expect(cuts.length).toBeGreaterThan(3);
    expect(pieces(CODE, cuts).join('\n')).toBe(CODE);
  });

  it('cuts only after a line that is not empty, and keeps at least the piece size before each cut', () => {
    const cuts = codeCuts(CODE);
    for (const piece of pieces(CODE, cuts).slice(0, -1)) {
      expect(piece.split('\n').length).toBeGreaterThanOrEqual(CODE_PIECE_LINES);
      expect(piece.endsWith('\n')).toBe(false);
      expect(piece.split('\n').at(-1)).not.toBe('');
    }
    // The first cut would fall among the empty lines 47–53: it moves to line 54, the next with text.
    expect(CODE.slice(0, cuts[0]).split('\n').at(-1)).toBe('  line 54: value = 162;');
  });

  it('keeps its cuts as it grows, a character at a time, and finds the new ones from its last piece', () => {
    const whole = codeCuts(CODE);
    for (let at = 0; at <= CODE.length; at++) {
      const shown = CODE.slice(0, at);
      const cuts = codeCuts(shown);
      expect(cuts, `after ${at} characters`).toEqual(whole.filter((cut) => cut < at));
      const last = cuts.at(-1);
      if (last !== undefined) expect(codeCuts(CODE, last + 1)).toEqual(whole.filter((cut) => cut > last));
    }
  });

  it('leaves a short block whole', () => {
    const short = Array.from({ length: CODE_PIECE_LINES - 1 }, (_, i) => `line ${i}`).join('\n');
    expect(codeCuts(short)).toEqual([]);
    expect(codeCuts(`${short}\nline ${CODE_PIECE_LINES}`)).toEqual([]);
    expect(codeCuts(`${short}\nline ${CODE_PIECE_LINES}\n`)).toEqual([short.length + `\nline ${CODE_PIECE_LINES}`.length]);
  });
});
