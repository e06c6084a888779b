// Export shapes (§9, §12 "Exports"): one conversation as a document, and the bulk export's query.
import { Type, type Static } from 'typebox';
import { ConversationSchema, MessageSchema, type Conversation, type Message } from '../conversations/conversations.schemas.js';

export const EXPORT_FORMATS = ['json', 'ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const ExportDocumentSchema = Type.Object(
  {
    conversation: ConversationSchema,
    messages: Type.Array(MessageSchema, { description: 'Every message, oldest first, feedback included' }),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'The values collected in this conversation (§9); `{}` when none' }),
  },
  { title: 'ConversationExport' },
);
/** What every export writes per conversation: the single export's answer, a `json` item, an `ndjson` line. */
export interface ExportDocument {
  conversation: Conversation;
  messages: Message[];
  data: Record<string, unknown>;
}

// The format checks the calendar too (2026-02-30 is refused); the service checks it again (as /v1/usage does).
const Day = (description: string) => Type.String({ format: 'date', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description });

export const BulkExportQuery = Type.Object(
  {
    chatbot_id: Type.Optional(Type.String({ maxLength: 100, description: 'Only this chatbot of yours (every one of yours when absent; required for `csv`)' })),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('completed')])),
    from: Type.Optional(Day('Created on or after this day (UTC, YYYY-MM-DD)')),
    to: Type.Optional(Day('Created on or before this day (UTC, YYYY-MM-DD)')),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('ndjson'), Type.Literal('csv')], { default: 'json', description: 'json (an array), ndjson (one document per line) or csv (one row per conversation, requires chatbot_id)' })),
  },
  { additionalProperties: false },
);
export type BulkExportInput = Static<typeof BulkExportQuery>;
