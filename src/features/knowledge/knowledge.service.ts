import { AppError, validationError } from '../../errors/app-error.js';
import { isBlank } from '../../lib/text.js';
import { breaksLine, NOT_ONE_LINE_MESSAGE } from '../../lib/one-line.js';
import { decodeCursor, isIsoTime, toPage } from '../../lib/pages.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import type { KnowledgeHit } from '../../llm/types.js';
import type { Principal } from '../auth/principal.js';
import type { ChatbotsService } from '../chatbots/chatbots.service.js';
import type { RateRule } from '../../config/parsers.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import type { Chunker } from './chunker.js';
import type { KnowledgeRepo } from './knowledge.repo.js';
import { toDocument, type CreateDocumentInput, type Document, type DocumentPageBody } from './knowledge.schemas.js';
import { excerpt } from './excerpt.js';
import { titleTokens } from './passage.js';
import { questionTerms, toQueryTerms } from './search-text.js';

export interface KnowledgeService {
  add(caller: Principal, chatbotId: string, input: CreateDocumentInput): Promise<Document>;
  /** A page of the chatbot's documents, with what the account's chatbots hold in all and may hold. */
  list(caller: Principal, chatbotId: string, query: { limit: number; cursor?: string }): Promise<DocumentPageBody>;
  remove(caller: Principal, chatbotId: string, documentId: string): Promise<void>;
}

export interface KnowledgeSearch {
  /** Candidate chunks for `text`, best first (see pickKnowledge). */
  search(userId: string, chatbotId: string, text: string, limit: number): Promise<KnowledgePassage[]>;
}

/** A chunk found for a message, with its stored token count and its document's title (passage.ts). */
export type KnowledgePassage = KnowledgeHit & { tokens: number; title?: string | null };

const MAX_HITS = 3;
/** Less of a chunk than this is a fragment that costs tokens and tells the model little. */
const MIN_EXCERPT_TOKENS = 32;

/**
 * The best candidates that fit in `maxTokens`, at most three; the first that does not fit whole is
 * cut to its passage about `question` in what is left (excerpt.ts), and none after it is looked at.
 * A document uploaded twice is found twice: a passage the model is shown already is passed over,
 * so it does not take the place of another that answers. A passage's title is shown with it, and
 * spends the same share.
 */
export function pickKnowledge<T extends KnowledgePassage>(candidates: readonly T[], maxTokens: number, question: string): T[] {
  const chosen: T[] = [];
  const seen = new Set<string>();
  let spent = 0;
  for (const hit of candidates) {
    if (chosen.length >= MAX_HITS) break;
    if (seen.has(hit.content)) continue;
    seen.add(hit.content);
    const titled = titleTokens(hit.title);
    if (spent + titled + hit.tokens <= maxTokens) {
      chosen.push(hit);
      spent += titled + hit.tokens;
      continue;
    }
    const left = maxTokens - spent - titled;
    const cut = left >= MIN_EXCERPT_TOKENS ? excerpt(hit.content, new Set(questionTerms(question)), left) : null;
    if (cut) chosen.push({ ...hit, content: cut.text, tokens: cut.tokens });
    break;
  }
  return chosen;
}

const CHUNK_TOKENS = 400;

export interface KnowledgeServiceDeps {
  knowledge: KnowledgeRepo;
  chatbots: ChatbotsService;
  chunker: Chunker;
  limiter: RateLimiter;
  clock: Clock;
  newId: () => string;
  /** `bytesPerAccount`: KNOWLEDGE_LIMIT_PER_ACCOUNT, null for none. */
  settings: { uploadsPerUser: RateRule | null; bytesPerAccount: number | null };
}

const grouped = (n: number) => n.toLocaleString('en-US');

/**
 * 413 rather than 429 `quota_exceeded`: no wait makes room (the other 429s here pass with the day
 * or the month, and clients retry a 429 by themselves), and a smaller document may still fit.
 */
function knowledgeFull(usedBytes: number, bytes: number, limitBytes: number): AppError {
  return new AppError(
    'payload_too_large',
    `Your chatbots' knowledge holds ${grouped(usedBytes)} bytes of the ${grouped(limitBytes)} this server allows an account; this document's ${grouped(bytes)} would pass it. Delete documents to make room.`,
  );
}

export function createKnowledgeService(deps: KnowledgeServiceDeps): KnowledgeService & KnowledgeSearch {
  const { knowledge, chatbots, chunker, limiter, clock, newId, settings } = deps;
  // Each upload costs up to seconds of chunking: a user's uploads are limited in number here, and
  // the chunker takes owners' documents in turns and bounds how much of one owner's may wait.
  const uploadsPolicy = { name: 'knowledge_user', rule: settings.uploadsPerUser };

  return {
    async add(caller, chatbotId, input) {
      // The schema asks for a non-space character; zero-width ones pass it and show nothing.
      for (const field of ['title', 'content'] as const) if (isBlank(input[field])) throw validationError(field, 'must not be blank');
      // A title is a row of a list and a line of a terminal; a line break a form's text box left around it is trimmed.
      const title = input.title.trim();
      if (breaksLine(title)) throw validationError('title', NOT_ONE_LINE_MESSAGE);
      await limiter.consume(uploadsPolicy, caller.ownerId);
      const chatbot = await chatbots.resolve(caller, chatbotId);
      const limit = settings.bytesPerAccount;
      const bytes = Buffer.byteLength(input.content, 'utf8');
      // Seconds of chunking are not spent on a document that cannot be stored; the insert decides.
      const held = limit === null ? 0 : await knowledge.usage(caller.ownerId);
      if (limit !== null && held + bytes > limit) throw knowledgeFull(held, bytes, limit);
      const chunks = await chunker.prepare(title, input.content, CHUNK_TOKENS, caller.ownerId);
      const doc = { id: newId(), title, content: input.content };
      const stored = await knowledge.insert(caller.ownerId, chatbot.id, doc, chunks, newId, clock.now(), limit);
      if (stored.kind === 'gone') throw new AppError('not_found', 'No chatbot with this id');
      if (stored.kind === 'full') throw knowledgeFull(stored.usedBytes, bytes, limit!);
      return toDocument(stored.document);
    },
    async list(caller, chatbotId, query) {
      const chatbot = await chatbots.resolve(caller, chatbotId);
      const after = decodeCursor(query.cursor, [isIsoTime, isUuid]);
      const rows = await knowledge.list(caller.ownerId, chatbot.id, query.limit, after ? [new Date(after[0]!), after[1]!] : null);
      const page = toPage(rows, query.limit, toDocument, (row) => [row.createdAt.toISOString(), row.id]);
      return { ...page, account_bytes: await knowledge.usage(caller.ownerId), account_limit_bytes: settings.bytesPerAccount };
    },
    async remove(caller, chatbotId, documentId) {
      const chatbot = await chatbots.resolve(caller, chatbotId);
      const gone = isUuid(documentId) && (await knowledge.remove(caller.ownerId, chatbot.id, documentId.toLowerCase()));
      if (!gone) throw new AppError('not_found', 'No knowledge document with this id');
    },
    async search(userId, chatbotId, text, limit) {
      const terms = toQueryTerms(text);
      return terms ? knowledge.search(userId, chatbotId, terms, limit) : [];
    },
  };
}
