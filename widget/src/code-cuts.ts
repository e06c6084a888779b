// A long code block is drawn in pieces of lines (render.ts); this finds where, without the DOM.

/** Lines in one piece of a long code block (codeCuts). */
export const CODE_PIECE_LINES = 50;

/**
 * Where a long code block is cut into pieces of at least CODE_PIECE_LINES lines, each drawn as a
 * block of its own (`codePiece`): text appended to one node of 80,000 characters had Chromium lay
 * all of it out again at every frame of a streamed reply, where a piece is laid out alone. A cut
 * takes the place of the line end after a line that is not empty: the boundary between two blocks
 * gives that line end back, on screen and in what a visitor copies, where an empty line last in a
 * block would show nothing. Returns the offsets of the line ends cut, after `from` (the start of a
 * piece); a cut depends only on the text before it, so a block that grows keeps its cuts.
 */
export function codeCuts(v: string, from = 0): number[] {
  const cuts: number[] = [];
  let lines = 0;
  let lineStart = from;
  for (let end = v.indexOf('\n', from); end !== -1; end = v.indexOf('\n', end + 1)) {
    lines++;
    if (lines >= CODE_PIECE_LINES && end > lineStart) {
      cuts.push(end);
      lines = 0;
    }
    lineStart = end + 1;
  }
  return cuts;
}
