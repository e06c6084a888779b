// The one writer of bulk exports, for the HTTP route and `parley export` alike: walks the plan's
// chatbots a keyset batch at a time and yields the output text batch by batch, so memory holds
// one batch whatever the export's size. A failed batch throws out of the generator: the HTTP
// route then cuts the response and the CLI exits non-zero, so nobody takes a cut file for a whole one.
import { csvHead, csvRow } from './csv.js';
import type { ExportChatbot, ExportCursor, ExportFilter, ExportsRepo } from './exports.repo.js';
import type { ExportDocument, ExportFormat } from './exports.schemas.js';

/** Conversations per batch (one transaction each, their messages read with them). */
export const EXPORT_BATCH_SIZE = 200;
/** A batch stops early at this many messages, so long conversations do not make it big. */
export const EXPORT_BATCH_MESSAGES = 5_000;

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
}

export const DEFAULT_EXPORT_SETTINGS: ExportSettings = { batchSize: EXPORT_BATCH_SIZE, batchMessages: EXPORT_BATCH_MESSAGES };

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** The plan's documents, one batch at a time, in order. */
export async function* exportBatches(repo: ExportsRepo, plan: ExportPlan, settings: ExportSettings = DEFAULT_EXPORT_SETTINGS): AsyncGenerator<ExportDocument[]> {
  for (const chatbot of plan.chatbots) {
    const filter: ExportFilter = { ...plan.filter, chatbotId: chatbot.id };
    let after: ExportCursor | null = null;
    do {
      const batch = await repo.batch(plan.ownerId, filter, after, settings.batchSize, settings.batchMessages);
      if (batch.documents.length > 0) yield batch.documents;
      after = batch.next;
    } while (after);
  }
}

/**
 * The export's text, a chunk per batch. Nothing is yielded before the first batch was read, so
 * a database that fails at once is still a plain error answer, not a cut one. `onProgress` hears
 * the number of conversations written so far, after each chunk.
 */
export async function* exportText(
  repo: ExportsRepo,
  plan: ExportPlan,
  options: { settings?: ExportSettings; onProgress?: (written: number) => void } = {},
): AsyncGenerator<string> {
  let written = 0;
  let head: string;
  switch (plan.format) {
    case 'json':
      head = '[';
      break;
    case 'csv':
      head = csvHead(plan.csvKeys);
      break;
    default:
      head = '';
  }
  for await (const documents of exportBatches(repo, plan, options.settings)) {
    let text = head;
    for (const document of documents) {
      if (plan.format === 'json') text += `${written === 0 ? '\n' : ',\n'}${JSON.stringify(document)}`;
      else if (plan.format === 'ndjson') text += `${JSON.stringify(document)}\n`;
      else text += csvRow(document, plan.csvKeys);
      written++;
    }
    head = '';
    yield text;
    options.onProgress?.(written);
  }
  // The closing text is what tells a reader the export is whole (for CSV and NDJSON, the end of the response).
  const tail = plan.format === 'json' ? (written === 0 ? '[]\n' : '\n]\n') : head;
  if (tail) yield tail;
}
