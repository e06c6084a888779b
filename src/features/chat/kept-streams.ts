// A reply streamed on a channel that does not resume streams (the messages route: the widget's,
// the hosted page's) keeps its text in its conversation's row now and then, so that when its
// instance dies the reply stored for it holds what its user had read, all but the last moments.
// One scan a second for the whole instance, within one budget of writes a second: a handful of
// streams are each written about every KEPT_EVERY_MS; ten thousand cost no more writes than a
// hundred, each written less often, and no timer of its own.
import { pacedMs, type ReplyProgress } from './progress.repo.js';

/** How long a stream's text goes unwritten at least (longer for a very long text: `pacedMs`). */
export const KEPT_EVERY_MS = 2_000;
/** Writes a second for all of an instance's streams together. */
export const KEPT_WRITES_PER_SECOND = 50;
const SCAN_EVERY_MS = 1_000;

export interface KeptReply {
  ownerId: string;
  conversationId: string;
  replyId: string;
}

/** One tracked stream: no closures of its own, so that ten thousand cost little memory. */
export interface KeptEntry {
  readonly reply: KeptReply;
  /** What the stream has produced so far; read, never written, here. */
  readonly source: { readonly text: string };
  written: string;
  writtenAt: number;
  writing: boolean;
}

export interface KeptStreams {
  /** Keeps the text of `source` for the reply while it runs, until `end`. */
  track(reply: KeptReply, source: { readonly text: string }): KeptEntry;
  end(entry: KeptEntry): void;
}

export function createKeptStreams(progress: Pick<ReplyProgress, 'write'>, pace = { everyMs: KEPT_EVERY_MS, perSecond: KEPT_WRITES_PER_SECOND }): KeptStreams {
  // In insertion order; a written entry goes to the back, so the budget reaches every stream in turn.
  const entries = new Set<KeptEntry>();
  let timer: NodeJS.Timeout | null = null;

  function write(entry: KeptEntry, text: string, time: number): void {
    entry.writing = true;
    entry.written = text;
    entry.writtenAt = time;
    progress
      .write(entry.reply.ownerId, entry.reply.conversationId, entry.reply.replyId, text)
      // A failed write is skipped: the next one carries the text so far.
      .catch(() => {})
      .finally(() => (entry.writing = false));
  }

  function scan(): void {
    const time = performance.now();
    const due: Array<[KeptEntry, string]> = [];
    for (const entry of entries) {
      if (due.length >= pace.perSecond) break;
      if (entry.writing) continue;
      const text = entry.source.text;
      if (text !== entry.written && time - entry.writtenAt >= pacedMs(pace.everyMs, text.length)) due.push([entry, text]);
    }
    for (const [entry, text] of due) {
      entries.delete(entry);
      entries.add(entry);
      write(entry, text, time);
    }
  }

  return {
    track(reply, source) {
      const entry: KeptEntry = { reply, source, written: '', writtenAt: performance.now(), writing: false };
      entries.add(entry);
      if (!timer) {
        timer = setInterval(scan, SCAN_EVERY_MS);
        timer.unref();
      }
      return entry;
    },
    end(entry) {
      entries.delete(entry);
      if (entries.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    },
  };
}
