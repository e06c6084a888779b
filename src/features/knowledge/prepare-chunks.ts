import { chunkDocument } from './chunking.js';
import { toTsvectorLiteral } from './search-text.js';

export interface PreparedChunk {
  content: string;
  tokens: number;
  /** The chunk's full-text terms as a tsvector literal. */
  search: string;
}

/** A document's chunks as they are stored: counted and with their search terms. */
export function prepareChunks(title: string, content: string, maxTokens: number): PreparedChunk[] {
  return chunkDocument(content, { maxTokens }).map((chunk) => ({
    content: chunk.content,
    tokens: chunk.tokens,
    // The title is searchable too: a question naming the document finds its chunks.
    search: toTsvectorLiteral(`${title}\n${chunk.content}`),
  }));
}
