import { Type, type Static } from 'typebox';
import type { KnowledgeDocumentRow } from '../../db/schema.js';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';

export const MAX_DOCUMENT_CHARS = 500_000;

export const CreateDocumentBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    content: Type.String({ minLength: 1, maxLength: MAX_DOCUMENT_CHARS, pattern: '\\S', description: 'Text or Markdown' }),
  },
  { additionalProperties: false, title: 'NewKnowledgeDocument' },
);
export type CreateDocumentInput = Static<typeof CreateDocumentBody>;

export const DocumentSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    title: Type.String(),
    chunk_count: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'KnowledgeDocument' },
);
export type Document = Static<typeof DocumentSchema>;

export const DocumentPage = pageOf(DocumentSchema, 'KnowledgeDocumentPage');
export const ListDocumentsQuery = Type.Object({ limit: LimitQuery, cursor: Type.Optional(CursorQuery) }, { additionalProperties: false });
export const DocumentParams = Type.Object({ id: Type.String({ maxLength: 100 }), doc_id: Type.String({ maxLength: 100 }) });

export function toDocument(row: Pick<KnowledgeDocumentRow, 'id' | 'title' | 'chunkCount' | 'createdAt'>): Document {
  return { id: row.id, title: row.title, chunk_count: row.chunkCount, created_at: row.createdAt.toISOString() };
}
