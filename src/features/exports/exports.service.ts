import { DAY_MS, dayNumber, parseDay } from '../../lib/days.js';
import { AppError, validationError } from '../../errors/app-error.js';
import { isUuid } from '../../lib/ids.js';
import type { Principal } from '../auth/principal.js';
import type { ConversationsService } from '../conversations/conversations.service.js';
import { collectKeys } from './csv.js';
import { CONTENT_TYPES, DEFAULT_EXPORT_SETTINGS, documentBytes, exportBytes, type ExportPlan, type ExportSettings } from './export-stream.js';
import type { ExportsRepo } from './exports.repo.js';
import type { BulkExportInput, ExportFormat } from './exports.schemas.js';

export interface BulkExport {
  format: ExportFormat;
  contentType: string;
  filename: string;
  /** The export's UTF-8 bytes, a chunk per batch; throws (after the first chunk: the response is cut) when a batch fails. */
  body: AsyncGenerator<Buffer>;
}

/**
 * One conversation's document: its JSON text when it is short; else its UTF-8 bytes a page of
 * messages at a time (throws after the first chunk when a page fails: the response is cut).
 */
export type OneExport = { whole: string } | { pages: AsyncGenerator<Buffer> };

export interface ExportsService {
  /** One conversation as `{conversation, messages, data}`: whoever may read it through GET /v1/conversations/{id}. */
  one(caller: Principal, id: string): Promise<OneExport>;
  /** Checks the request (every 4xx comes here, before a byte is written) and returns the export, ready to stream. */
  bulk(caller: Principal, query: BulkExportInput): Promise<BulkExport>;
}

export interface ExportsDeps {
  exports: ExportsRepo;
  /** The access decision for one conversation, exactly as the conversation routes make it. */
  conversations: Pick<ConversationsService, 'get'>;
  settings?: ExportSettings;
}


const conversationNotFound = () => new AppError('not_found', 'No conversation with this id');
const chatbotNotFound = () => new AppError('not_found', 'No chatbot with this id');


async function* inOneChunk(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

const instant = (day: number) => new Date(day * DAY_MS).toISOString();
// The midnight after 9999-12-31 is written +010000-01-01, which no database reads: a range that
// ends there has no end.
const LAST_DAY = dayNumber('9999-12-31')!;

/** `from` and `to` are days (UTC), both included: created at or after `from`'s midnight, before the midnight after `to`. */
export function createdRange(from: string | undefined, to: string | undefined): { createdFrom?: string; createdBefore?: string } {
  const first = from === undefined ? undefined : parseDay('from', from);
  const last = to === undefined ? undefined : parseDay('to', to);
  if (first !== undefined && last !== undefined && first > last) {
    throw validationError('from', 'must not be after to', { detail: '`from` must not be after `to`', part: 'query' });
  }
  return {
    ...(first === undefined ? {} : { createdFrom: instant(first) }),
    ...(last === undefined || last >= LAST_DAY ? {} : { createdBefore: instant(last + 1) }),
  };
}

/** The bulk export is the owner's: keys and visitors act in an owner's tenant but are not that owner. */
function ownerOf(caller: Principal): string {
  if (caller.kind !== 'user') throw new AppError('forbidden', "Only the chatbots' owner, signed in, exports their conversations");
  return caller.ownerId;
}

export function createExportsService(deps: ExportsDeps): ExportsService {
  const { exports, conversations } = deps;
  const settings = deps.settings ?? DEFAULT_EXPORT_SETTINGS;

  return {
    async one(caller, id) {
      // 404 for what the caller may not read: another tenant's, another end user's, another chatbot's.
      const allowed = await conversations.get(caller, id);
      // Read in the caller's tenant: in one transaction when short, else from its start a page at a time. Gone meanwhile is a 404 too.
      const start = await exports.documentStart(caller.ownerId, allowed.id, settings.batchBytes);
      if (!start) throw conversationNotFound();
      if (start.whole === null) return { pages: documentBytes(exports, caller.ownerId, allowed.id, start, settings) };
      // The budget weighs the messages as stored; as JSON a control character takes six bytes
      // (`\u0001`), so a document within it can be six times it. Past it as written, the document
      // is sent as a streamed one, holding one of the account's export places while it is read.
      if (Buffer.byteLength(start.whole) <= settings.batchBytes) return { whole: start.whole };
      return { pages: inOneChunk(start.whole) };
    },
    async bulk(caller, query) {
      const ownerId = ownerOf(caller);
      const format = query.format ?? 'json';
      if (format === 'csv' && query.chatbot_id === undefined) {
        throw validationError('chatbot_id', 'is required with format=csv', { detail: 'A CSV export has one chatbot\'s columns: name it with `chatbot_id`', part: 'query' });
      }
      const range = createdRange(query.from, query.to);
      let chatbotId: string | null = null;
      if (query.chatbot_id !== undefined) {
        if (!isUuid(query.chatbot_id)) throw chatbotNotFound();
        chatbotId = query.chatbot_id.toLowerCase();
      }
      const chatbots = await exports.chatbots(ownerId, chatbotId);
      if (chatbotId !== null && chatbots.length === 0) throw chatbotNotFound();
      const plan: ExportPlan = {
        ownerId,
        chatbots,
        filter: { ...range, ...(query.status ? { status: query.status } : {}) },
        format,
        csvKeys: format === 'csv' ? collectKeys(chatbots[0]!.collect) : [],
      };
      return {
        format,
        contentType: CONTENT_TYPES[format],
        filename: `conversations${chatbotId ? `-${chatbotId}` : ''}.${format}`,
        body: exportBytes(exports, plan, { settings }),
      };
    },
  };
}
