import { Type, type Static } from 'typebox';
import type { KnowledgeDocumentRow } from '../../db/schema.js';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';

export const MAX_DOCUMENT_CHARS = 500_000;
const MAX_TITLE_CHARS = 200;

/**
 * The most bytes JSON may take to write one character of a string: one outside the BMP written as
 * two \u escapes of a surrogate pair. Python's json.dumps writes every character past ASCII as
 * escapes unless told otherwise, so 12 bytes an emoji is an ordinary client's worst case, not a
 * contrived one; raw UTF-8 takes at most 4, a \u escape of the BMP 6.
 */
const MOST_JSON_BYTES_PER_CHAR = 12;
/** The braces, both keys, their quotes and colons, and whitespace a pretty-printer puts between them. */
const BODY_FRAME_BYTES = 1024;

/**
 * What the upload route reads (6 MB), against BODY_LIMIT (1 MiB) for every other route: a document
 * at MAX_DOCUMENT_CHARS, written the longest way JSON allows, must not be refused as too large
 * before its schema says how long it may be (350,000 characters of Chinese in UTF-8 were).
 */
export const DOCUMENT_BODY_LIMIT = (MAX_DOCUMENT_CHARS + MAX_TITLE_CHARS) * MOST_JSON_BYTES_PER_CHAR + BODY_FRAME_BYTES;

export const CreateDocumentBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: MAX_TITLE_CHARS, pattern: '\\S', description: 'One line: no control characters, line breaks or direction overrides' }),
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

export const DocumentPage = Type.Object(
  {
    ...pageOf(DocumentSchema, 'KnowledgeDocumentPage').properties,
    account_bytes: Type.Integer({ description: "The UTF-8 bytes of the documents' content over all your chatbots, as KNOWLEDGE_LIMIT_PER_ACCOUNT counts them" }),
    account_limit_bytes: Type.Union([Type.Integer(), Type.Null()], { description: 'The most your chatbots may hold in all (null: no limit); an upload past it answers 413' }),
  },
  { title: 'KnowledgeDocumentPage' },
);
export type DocumentPageBody = Static<typeof DocumentPage>;
export const ListDocumentsQuery = Type.Object({ limit: LimitQuery, cursor: Type.Optional(CursorQuery) }, { additionalProperties: false });
export const DocumentParams = Type.Object({ id: Type.String({ maxLength: 100 }), doc_id: Type.String({ maxLength: 100 }) });

export function toDocument(row: Pick<KnowledgeDocumentRow, 'id' | 'title' | 'chunkCount' | 'createdAt'>): Document {
  return { id: row.id, title: row.title, chunk_count: row.chunkCount, created_at: row.createdAt.toISOString() };
}
