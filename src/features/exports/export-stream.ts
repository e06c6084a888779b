// The one writer of exports, for the HTTP routes and `parley export` alike: walks the plan's
// chatbots a keyset batch at a time and yields the output text batch by batch, so memory holds
// one batch whatever the export's size; a conversation whose messages alone pass a batch's budget
// is written a page of its messages at a time, in the bulk export and the single one alike. JSON
// and NDJSON pass the database's document text through (export-sql.ts); CSV parses only the
// collected values its columns need. A failed batch throws out of the generator: the HTTP route
// then cuts the response and the CLI exits non-zero, so nobody takes a cut file for a whole one.
import { csvHead, csvRow } from './csv.js';
import type { DocumentStart, ExportBatchRequest, ExportChatbot, ExportCursor, ExportFilter, ExportsRepo } from './exports.repo.js';
import type { ExportFormat } from './exports.schemas.js';

/** Conversations per batch (one transaction each, their messages read with them). */
export const EXPORT_BATCH_SIZE = 200;
/** A batch stops early at this many messages, so long conversations do not make it big. */
export const EXPORT_BATCH_MESSAGES = 5_000;
/**
 * A batch with the messages' text stops early once that text passes this size: 5,000 messages of
 * 30,000 characters made one batch of 150 MB, and the server grew by 400 MB while it was written.
 */
export const EXPORT_BATCH_BYTES = 4 * 1024 * 1024;

export interface ExportPlan {
  ownerId: string;
  /** Walked one after the other, each in (created_at, id) order. `csv` has exactly one. */
  chatbots: ExportChatbot[];
  filter: Omit<ExportFilter, 'chatbotId'>;
  format: ExportFormat;
  /** CSV: the field keys after the fixed columns. */
  csvKeys: string[];
}

export interface ExportSettings {
  batchSize: number;
  batchMessages: number;
  batchBytes: number;
}

export const DEFAULT_EXPORT_SETTINGS: ExportSettings = { batchSize: EXPORT_BATCH_SIZE, batchMessages: EXPORT_BATCH_MESSAGES, batchBytes: EXPORT_BATCH_BYTES };

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** Text to write as pieces and what goes between them. */
interface Piece {
  parts: string[];
  separator: string;
}

/** One batch's output, how many conversations it holds, and where the next batch starts; `paged`: a conversation to write in pages instead. */
interface Chunk extends Piece {
  count: number;
  next: ExportCursor | null;
  paged: string | null;
}

/**
 * The pieces of a document read in pages (`start.whole` null): its head, its messages a page at
 * a time, its tail. Messages written after the start are not part of it. When fewer messages are
 * found than the start counted (deleted meanwhile: the conversation deleted, a reply regenerated),
 * it throws rather than ends: a document short of messages would look whole.
 */
async function* documentPieces(repo: ExportsRepo, userId: string, conversationId: string, start: DocumentStart, settings: ExportSettings): AsyncGenerator<Piece> {
  yield { parts: [start.head], separator: '' };
  const last = start.lastMessageId;
  let after: string | null = null;
  let read = 0;
  while (last !== null && after !== last) {
    const page = await repo.messagePage(userId, { conversationId, ownerId: start.ownerId, after, last, maxMessages: settings.batchMessages, maxBytes: settings.batchBytes });
    if (page.items.length === 0) break;
    if (read > 0) page.items[0] = `,${page.items[0]}`;
    read += page.items.length;
    after = page.lastId;
    yield { parts: page.items, separator: ',' };
  }
  if (read !== start.messages) {
    throw new Error(`conversation ${conversationId} changed while it was exported: ${read} of its ${start.messages} messages were found`);
  }
  yield { parts: [start.tail], separator: '' };
}

/** Reads one batch: the documents' text as the database wrote it, or CSV lines. */
async function readChunk(repo: ExportsRepo, plan: ExportPlan, request: ExportBatchRequest, written: number): Promise<Chunk> {
  if (plan.format === 'csv') {
    const batch = await repo.csvRecords(plan.ownerId, request, plan.csvKeys);
    return { parts: batch.rows.map((record) => csvRow(record, plan.csvKeys)), separator: '', count: batch.rows.length, next: batch.next, paged: null };
  }
  const batch = await repo.documents(plan.ownerId, request);
  const parts = batch.rows;
  const count = parts.length;
  if (count === 0 || plan.format === 'ndjson') {
    if (count > 0) parts.push('');
    return { parts, separator: '\n', count, next: batch.next, paged: batch.paged };
  }
  parts[0] = `${before(plan, written)}${parts[0]}`;
  return { parts, separator: ',\n', count, next: batch.next, paged: batch.paged };
}

/** What comes before a document when `written` are before it: the JSON array's separator. */
const before = (plan: ExportPlan, written: number) => (plan.format !== 'json' ? '' : written === 0 ? '\n' : ',\n');

/** How a chunk is written out: as one string, or as the bytes of one. */
type Join<T> = (parts: string[], separator: string) => T;

const joinText: Join<string> = (parts, separator) => parts.join(separator);

/**
 * The chunk's UTF-8 bytes, written piece by piece into one buffer: no string of the whole batch
 * is made. Such a string is big enough for V8 to place in its large-object space, where one
 * still referenced at a young-generation collection is promoted at once and then waits for a
 * full collection; a buffer's bytes live outside the JavaScript heap and go with it.
 */
const joinBytes: Join<Buffer> = (parts, separator) => {
  let size = Buffer.byteLength(separator) * Math.max(0, parts.length - 1);
  for (const part of parts) size += Buffer.byteLength(part);
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) at += bytes.write(separator, at);
    at += bytes.write(parts[i]!, at);
  }
  return bytes;
};

interface StreamOptions {
  settings?: ExportSettings;
  onProgress?: (written: number) => void;
}

/**
 * A bulk export's conversation too long for a batch, a page at a time, with `prefix` before it;
 * nothing when it was deleted since its batch was read. Returns whether it was written.
 */
async function* pagedInBulk<T>(repo: ExportsRepo, plan: ExportPlan, id: string, prefix: string, join: Join<T>, settings: ExportSettings): AsyncGenerator<T, boolean> {
  const start = await repo.documentStart(plan.ownerId, id, settings.batchBytes);
  if (!start) return false;
  const end = plan.format === 'ndjson' ? '\n' : '';
  if (start.whole !== null) {
    yield join([prefix + start.whole + end], '');
    return true;
  }
  for await (const piece of documentPieces(repo, plan.ownerId, id, { ...start, head: prefix + start.head, tail: start.tail + end }, settings)) {
    yield join(piece.parts, piece.separator);
  }
  return true;
}

/**
 * The export, a chunk per batch. Nothing is yielded before the first batch was read, so a
 * database that fails at once is still a plain error answer, not a cut one. `onProgress` hears
 * the number of conversations written so far, after each chunk.
 */
async function* exportChunks<T>(repo: ExportsRepo, plan: ExportPlan, join: Join<T>, options: StreamOptions): AsyncGenerator<T> {
  const settings = options.settings ?? DEFAULT_EXPORT_SETTINGS;
  let written = 0;
  let head = plan.format === 'json' ? '[' : plan.format === 'csv' ? csvHead(plan.csvKeys) : '';
  for (const chatbot of plan.chatbots) {
    const filter: ExportFilter = { ...plan.filter, chatbotId: chatbot.id };
    let after: ExportCursor | null = null;
    do {
      const chunk = await readChunk(repo, plan, { filter, after, limit: settings.batchSize, maxMessages: settings.batchMessages, maxBytes: settings.batchBytes }, written);
      after = chunk.next;
      if (chunk.paged !== null && (yield* pagedInBulk(repo, plan, chunk.paged, head + before(plan, written), join, settings))) {
        head = '';
        written += 1;
        options.onProgress?.(written);
      }
      if (chunk.count === 0) continue;
      written += chunk.count;
      chunk.parts[0] = head + chunk.parts[0]!;
      head = '';
      yield join(chunk.parts, chunk.separator);
      options.onProgress?.(written);
    } while (after);
  }
  // The closing text is what tells a reader the export is whole (for CSV and NDJSON, the end of the response).
  const tail = plan.format === 'json' ? (written === 0 ? '[]\n' : '\n]\n') : head;
  if (tail) yield join([tail], '');
}

/** The export as text, a string per batch (`parley export`). */
export function exportText(repo: ExportsRepo, plan: ExportPlan, options: StreamOptions = {}): AsyncGenerator<string> {
  return exportChunks(repo, plan, joinText, options);
}

/** The export as UTF-8 bytes, a buffer per batch (the HTTP response). */
export function exportBytes(repo: ExportsRepo, plan: ExportPlan, options: StreamOptions = {}): AsyncGenerator<Buffer> {
  return exportChunks(repo, plan, joinBytes, options);
}

/**
 * One conversation's document as UTF-8 bytes a page of its messages at a time, from a start that
 * did not hold it whole (the single export sends a whole one as it is).
 */
export async function* documentBytes(repo: ExportsRepo, userId: string, conversationId: string, start: DocumentStart, settings: ExportSettings = DEFAULT_EXPORT_SETTINGS): AsyncGenerator<Buffer> {
  for await (const piece of documentPieces(repo, userId, conversationId, start, settings)) yield joinBytes(piece.parts, piece.separator);
}
