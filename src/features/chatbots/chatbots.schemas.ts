import { Type, type Static } from 'typebox';
import type { ChatbotRow } from '../../db/schema.js';
import { CursorQuery, LimitQuery, pageOf } from '../../http/pagination.js';
import { CollectSchema, type Collect } from '../collection/collect-schema.js';

/** The most tokens a reply may be asked for: a chatbot's max_tokens, and a call's on the OpenAI endpoint. */
export const MAX_REPLY_TOKENS = 200_000;

/**
 * The most tokens a system prompt may take, five eighths of CONTEXT_TOKEN_BUDGET (5,000 of the
 * default 8,000): it is sent with every turn, and the history gets what it leaves. The 20,000
 * characters of its schema are about 4,000 tokens of English but a token a character in Chinese or
 * Japanese, where half of them took more than the default budget and left the conversation's history
 * no room at all. A server with a larger budget takes a longer prompt.
 */
export const systemPromptMaxTokens = (contextTokenBudget: number) => Math.floor((contextTokenBudget * 5) / 8);

/**
 * What could name a stored slug (any case; slugs are matched lowercased). Anything else names no
 * chatbot and never reaches the database: a NUL would make PostgreSQL fail the query.
 */
export const SLUG_LIKE = /^[A-Za-z0-9-]{1,64}$/;

const Slug = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$',
  description: 'URL-safe: lowercase letters, digits and inner hyphens',
});
// A trailing slash passes here so the service can answer with the form to write (an address bar's copy has one).
const Origin = Type.String({ maxLength: 300, pattern: '^https?://[^/\\s?#]+/?$', description: 'An origin such as https://example.com' });

const WEBHOOK_URL =
  'Receives `conversation.completed` (§9.4), signed as Standard Webhooks says: an http(s) URL without credentials, at most 2048 characters, whose address is public. Setting it where there was none answers `webhook_secret` once; null turns the webhook off; setting it again turns it back on after a 410 Gone.';

const USE_PROFILE = "Replies answer from the owner's profile (PUT /v1/profile), given to the model as data";

const PUBLIC = {
  is_public:
    'Anyone may see the chatbot at GET /v1/public/chatbots/{slug|id} and talk to it as a visitor (POST /v1/public/chatbots/{slug|id}/conversations); its conversations reach you in GET /v1/chatbots/{id}/conversations.',
  allowed_origins:
    'Exact origins (https://shop.example.com) browsers may call this chatbot\'s public routes from; a request from another origin, or with none, is refused (403 origin_not_allowed). Each is written as browsers send it (lowercase, no default port or trailing slash, an international name in its xn-- form) and once; another spelling is refused with the form to write. Empty: any origin, or none.',
  token_budget_monthly:
    'Prompt and completion tokens this chatbot may use per calendar month (UTC) on every channel; once spent, turns answer 429 quota_exceeded until the month ends. Null: no budget.',
};

const writable = {
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
  description: Type.String({ maxLength: 2000 }),
  slug: Slug,
  is_public: Type.Boolean({ description: PUBLIC.is_public }),
  system_prompt: Type.String({
    maxLength: 20_000,
    description:
      'Instructions sent with every turn; at most five eighths of the server\'s CONTEXT_TOKEN_BUDGET in tokens (5,000 by default: about 20,000 characters of English, fewer in scripts such as Chinese), so the conversation keeps room',
  }),
  greeting: Type.String({ maxLength: 2000 }),
  model: Type.String({ minLength: 1, maxLength: 200, description: 'One of the models the server allows (LLM_MODELS)' }),
  temperature: Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()]),
  max_tokens: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_REPLY_TOKENS }), Type.Null()]),
  use_profile: Type.Boolean({ description: USE_PROFILE }),
  allowed_origins: Type.Array(Origin, { maxItems: 50, description: PUBLIC.allowed_origins }),
  token_budget_monthly: Type.Union([Type.Integer({ minimum: 0, maximum: 1e15 }), Type.Null()], { description: PUBLIC.token_budget_monthly }),
  collect: Type.Union([CollectSchema, Type.Null()], { description: 'Fields to gather during the chat (§9); null: none' }),
  webhook_url: Type.Union([Type.String({ minLength: 1, maxLength: 2048 }), Type.Null()], { description: WEBHOOK_URL }),
};

const { name, ...rest } = writable;
const optionalRest = {
  description: Type.Optional(rest.description),
  slug: Type.Optional(rest.slug),
  is_public: Type.Optional(rest.is_public),
  system_prompt: Type.Optional(rest.system_prompt),
  greeting: Type.Optional(rest.greeting),
  model: Type.Optional(rest.model),
  temperature: Type.Optional(rest.temperature),
  max_tokens: Type.Optional(rest.max_tokens),
  use_profile: Type.Optional(rest.use_profile),
  allowed_origins: Type.Optional(rest.allowed_origins),
  token_budget_monthly: Type.Optional(rest.token_budget_monthly),
  collect: Type.Optional(rest.collect),
  webhook_url: Type.Optional(rest.webhook_url),
};

export const CreateChatbotBody = Type.Object(
  {
    name,
    template: Type.Optional(
      Type.Literal('company-onboarding', {
        description: "A built-in starting point: `company-onboarding` gathers a company's details and products (the fields of §12); fields given here win",
      }),
    ),
    ...optionalRest,
  },
  { additionalProperties: false, title: 'NewChatbot' },
);
export type CreateChatbotInput = Static<typeof CreateChatbotBody>;

export const UpdateChatbotBody = Type.Object(
  { name: Type.Optional(name), ...optionalRest },
  { additionalProperties: false, minProperties: 1, title: 'ChatbotChanges' },
);
export type UpdateChatbotInput = Static<typeof UpdateChatbotBody>;

export const ChatbotSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    description: Type.String(),
    slug: Type.String(),
    is_public: Type.Boolean({ description: PUBLIC.is_public }),
    is_default: Type.Boolean({ description: 'The chatbot used when a client names none' }),
    system_prompt: Type.String(),
    greeting: Type.String(),
    model: Type.String({ description: 'The model chosen for this chatbot' }),
    model_in_use: Type.String({
      description:
        "The model its replies are made with: `model` while the server offers it (LLM_MODELS); once the server's operator takes it off that list, the server's default (LLM_MODEL), until another offered model is chosen",
    }),
    temperature: Type.Union([Type.Number(), Type.Null()]),
    max_tokens: Type.Union([Type.Integer(), Type.Null()]),
    use_profile: Type.Boolean({ description: USE_PROFILE }),
    allowed_origins: Type.Array(Type.String(), { description: PUBLIC.allowed_origins }),
    token_budget_monthly: Type.Union([Type.Integer(), Type.Null()], { description: PUBLIC.token_budget_monthly }),
    collect: Type.Union([CollectSchema, Type.Null()]),
    webhook_url: Type.Union([Type.String(), Type.Null()], { description: WEBHOOK_URL }),
    webhook_enabled: Type.Boolean({ description: 'Events are being sent: a webhook_url is set and no receiver answered 410 Gone since' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Chatbot' },
);
export type Chatbot = Static<typeof ChatbotSchema>;

/** What creating or changing a chatbot answers: with the webhook secret when this change made one. */
export const ChatbotWithSecretSchema = Type.Object(
  {
    ...ChatbotSchema.properties,
    webhook_secret: Type.Optional(
      Type.String({ description: 'Signs webhook deliveries (`whsec_…`). Shown this once, when webhook_url is set where there was none; never again (rotate it with POST /v1/chatbots/{id}/webhook-secret).' }),
    ),
  },
  { title: 'ChatbotWithSecret' },
);
export type ChatbotWithSecret = Static<typeof ChatbotWithSecretSchema>;

export const ChatbotPage = pageOf(ChatbotSchema, 'ChatbotPage');

export const ListChatbotsQuery = Type.Object(
  {
    limit: LimitQuery,
    cursor: Type.Optional(CursorQuery),
    all: Type.Optional(Type.Boolean({ description: 'Admins: every user\'s chatbots' })),
  },
  { additionalProperties: false },
);

/** `models`: what the server offers now, which decides the model a chatbot's replies are made with. */
export function toChatbot(row: ChatbotRow, models: { allowed: readonly string[]; default: string }): Chatbot {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    slug: row.slug,
    is_public: row.isPublic,
    is_default: row.isDefault,
    system_prompt: row.systemPrompt,
    greeting: row.greeting,
    model: row.model,
    model_in_use: models.allowed.includes(row.model) ? row.model : models.default,
    temperature: row.temperature,
    max_tokens: row.maxTokens,
    use_profile: row.useProfile,
    allowed_origins: row.allowedOrigins,
    token_budget_monthly: row.tokenBudgetMonthly,
    collect: (row.collect as Collect | null) ?? null,
    webhook_url: row.webhookUrl,
    webhook_enabled: row.webhookUrl !== null && row.webhookEnabled,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
