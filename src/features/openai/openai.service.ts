// What `model` means on the OpenAI endpoints (§8): the chatbot that answers (its id or slug) or,
// for an API key, a model its chatbot allows (the server's LLM_MODELS). A key reaches its own
// chatbot only; an account names one of its own chatbots. Whatever is not the caller's is
// `model_not_found`, as OpenAI answers a model the key may not use.
import { isAppError } from '../../errors/app-error.js';
import type { Principal } from '../auth/principal.js';
import type { Chatbot } from '../chatbots/chatbots.schemas.js';
import type { ChatbotsService } from '../chatbots/chatbots.service.js';
import { ModelNotFound } from './openai-errors.js';
import { MAX_MODEL_NAME, type OpenAiModel } from './openai.schemas.js';

/** The chatbot that answers, and the model it answers with (null: the chatbot's own). */
export interface ModelTarget {
  chatbotId: string;
  model: string | null;
  /** Set when `model` named the chatbot by the slug the key was last seen with: the answer checks it still is. */
  slug?: string;
}

export interface OpenAiModels {
  resolve(caller: Principal, model: string): Promise<ModelTarget>;
  /** The target for a key's `model` when it needs no database read (its chatbot's id or slug, an allowed model); null otherwise. */
  shortcut(caller: Principal, model: string): ModelTarget | null;
  list(caller: Principal): Promise<OpenAiModel[]>;
  get(caller: Principal, id: string): Promise<OpenAiModel>;
}

export interface OpenAiModelsDeps {
  chatbots: Pick<ChatbotsService, 'named' | 'list'>;
  /** The models this server allows (LLM_MODELS). */
  allowedModels: readonly string[];
}

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
// Listed by slug: the name a person types and reads in a model picker. The id is accepted as well.
const chatbotModel = (chatbot: Chatbot, id = chatbot.slug): OpenAiModel => ({ id, object: 'model', created: seconds(chatbot.created_at), owned_by: 'chatbot' });
const serverModel = (name: string, chatbot: Chatbot): OpenAiModel => ({ id: name, object: 'model', created: seconds(chatbot.created_at), owned_by: 'parley' });

/** Lists of an account's chatbots are read a page at a time; this many pages at most. */
const MAX_PAGES = 50;

export function createOpenAiModels(deps: OpenAiModelsDeps): OpenAiModels {
  const { chatbots, allowedModels } = deps;

  /** The caller's chatbot by id or slug, or model_not_found (another tenant's, another key's, none). */
  async function chatbotNamed(caller: Principal, name: string): Promise<Chatbot> {
    try {
      return await chatbots.named(caller, name);
    } catch (error) {
      if (isAppError(error) && error.code === 'not_found') throw new ModelNotFound(name);
      throw error;
    }
  }

  /** For a key, its chatbot's id and the allowed model names need no database read. */
  function keyShortcut(caller: Principal, model: string): ModelTarget | null {
    if (caller.kind !== 'apiKey' || !caller.chatbotId) return null;
    if (model.toLowerCase() === caller.chatbotId) return { chatbotId: caller.chatbotId, model: null };
    if (allowedModels.includes(model)) return { chatbotId: caller.chatbotId, model };
    // Slugs are stored lowercase and named in any case; the stored one is what the answer checks.
    if (model.toLowerCase() === caller.chatbotSlug) return { chatbotId: caller.chatbotId, model: null, slug: caller.chatbotSlug };
    return null;
  }

  async function accountChatbots(caller: Principal): Promise<Chatbot[]> {
    const all: Chatbot[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { data, next_cursor } = await chatbots.list(caller, { limit: 100, cursor });
      all.push(...data);
      if (!next_cursor) break;
      cursor = next_cursor;
    }
    return all;
  }

  return {
    shortcut: keyShortcut,
    async resolve(caller, model) {
      const shortcut = keyShortcut(caller, model);
      if (shortcut) return shortcut;
      const chatbot = await chatbotNamed(caller, model);
      return { chatbotId: chatbot.id, model: null };
    },
    async list(caller) {
      if (caller.kind !== 'apiKey' || !caller.chatbotId) return (await accountChatbots(caller)).map((chatbot) => chatbotModel(chatbot));
      const chatbot = await chatbotNamed(caller, caller.chatbotId);
      // A slug that is also a model's name names the model (resolve() reads it so): list the chatbot by id then.
      const listed = allowedModels.includes(chatbot.slug) ? chatbotModel(chatbot, chatbot.id) : chatbotModel(chatbot);
      return [listed, ...allowedModels.map((name) => serverModel(name, chatbot))];
    },
    async get(caller, id) {
      if (id.length > MAX_MODEL_NAME) throw new ModelNotFound(id.slice(0, MAX_MODEL_NAME));
      if (caller.kind === 'apiKey' && caller.chatbotId && allowedModels.includes(id)) {
        return serverModel(id, await chatbotNamed(caller, caller.chatbotId));
      }
      const chatbot = await chatbotNamed(caller, id);
      // Named by slug in another case: answered with the slug as stored, the name to use.
      return chatbotModel(chatbot, id.toLowerCase() === chatbot.slug ? chatbot.slug : id);
    },
  };
}
