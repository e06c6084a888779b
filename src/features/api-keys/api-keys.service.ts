// Chatbot API keys (§8): created for one chatbot, shown once, listed by prefix, revoked by
// deleting them. The key's owner is the chatbot's owner; only they manage its keys.
import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { breaksLine, NOT_ONE_LINE_MESSAGE } from '../../lib/one-line.js';
import { decodeCursor, isIsoTime, toPage, type Page } from '../../lib/pages.js';
import type { Principal } from '../auth/principal.js';
import type { ChatbotsService } from '../chatbots/chatbots.service.js';
import type { ApiKeysRepo, KeySummary } from './api-keys.repo.js';
import { displayPrefix, generateKey, hashKey, looksLikeKey } from './key-format.js';

export interface ApiKey {
  id: string;
  chatbot_id: string;
  name: string | null;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export interface ApiKeysService {
  create(caller: Principal, chatbotId: string, input: { name?: string }): Promise<ApiKey & { key: string }>;
  /** A page of the chatbot's keys, oldest first (§2: nothing bounds how many a chatbot has). */
  list(caller: Principal, chatbotId: string, query: { limit: number; cursor?: string }): Promise<Page<ApiKey>>;
  remove(caller: Principal, chatbotId: string, keyId: string): Promise<void>;
}

const chatbotGone = () => new AppError('not_found', 'No chatbot with this id');
const keyNotFound = () => new AppError('not_found', 'No API key with this id for this chatbot');
// An owner whose key leaked holds the key, not its id, and sends that: told how to find the id.
const keyNotId = () => new AppError('not_found', 'Revoke a key by its id, not the key itself: GET /v1/chatbots/{id}/keys lists each key\'s id with its prefix');

export function toApiKey(row: KeySummary): ApiKey {
  return {
    id: row.id,
    chatbot_id: row.chatbotId,
    name: row.name,
    prefix: row.prefix,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt ? row.lastUsedAt.toISOString() : null,
  };
}

export function createApiKeysService(deps: { keys: ApiKeysRepo; chatbots: Pick<ChatbotsService, 'get'>; clock: Clock; newId: () => string }): ApiKeysService {
  const { keys, chatbots, clock, newId } = deps;
  return {
    async create(caller, chatbotId, input) {
      // A label read as one line of a list of keys: a line break a text box left around it is trimmed.
      const name = input.name?.trim() || null;
      if (name !== null && breaksLine(name)) throw validationError('name', NOT_ONE_LINE_MESSAGE);
      const chatbot = await chatbots.get(caller, chatbotId);
      const key = generateKey();
      const row = await keys.insert(caller.ownerId, { id: newId(), chatbotId: chatbot.id, name, prefix: displayPrefix(key), hash: hashKey(key) }, clock.now());
      if (!row) throw chatbotGone();
      return { ...toApiKey(row), key };
    },
    async list(caller, chatbotId, query) {
      const chatbot = await chatbots.get(caller, chatbotId);
      const after = decodeCursor(query.cursor, [isIsoTime, isUuid]);
      const rows = await keys.list(caller.ownerId, chatbot.id, query.limit, after ? [new Date(after[0]!), after[1]!] : null);
      return toPage(rows, query.limit, toApiKey, (row) => [row.createdAt.toISOString(), row.id]);
    },
    async remove(caller, chatbotId, keyId) {
      const chatbot = await chatbots.get(caller, chatbotId);
      if (looksLikeKey(keyId)) throw keyNotId();
      if (!isUuid(keyId) || !(await keys.remove(caller.ownerId, chatbot.id, keyId.toLowerCase()))) throw keyNotFound();
    },
  };
}
