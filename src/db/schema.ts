// Drizzle table definitions. They mirror the SQL migrations in /migrations, which
// are the source of truth for the database; test/db/schema.test.ts checks they agree.
import { bigint, boolean, customType, date, integer, jsonb, pgTable, primaryKey, real, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const users = pgTable('users', {
  id: uuid('id').primaryKey(),
  username: text('username').notNull(),
  email: text('email'),
  passwordHash: text('password_hash'),
  role: text('role', { enum: ['user', 'admin'] }).notNull().default('user'),
  isActive: boolean('is_active').notNull().default(true),
  issuer: text('issuer'),
  externalId: text('external_id'),
  /** An external user's: the `iat` of the newest token that set or confirmed username and email; an older token's are not applied (migrations/0038). */
  claimsIssuedAt: timestamptz('claims_issued_at'),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

export const sessions = pgTable('sessions', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  createdAt: timestamptz('created_at').notNull(),
  lastRefreshedAt: timestamptz('last_refreshed_at').notNull(),
  revokedAt: timestamptz('revoked_at'),
  revokedReason: text('revoked_reason'),
});

export const refreshTokens = pgTable('refresh_tokens', {
  id: uuid('id').primaryKey(),
  sessionId: uuid('session_id')
    .notNull()
    .references(() => sessions.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: timestamptz('created_at').notNull(),
  expiresAt: timestamptz('expires_at').notNull(),
  rotatedAt: timestamptz('rotated_at'),
  /** The token that replaced this one, sealed for this one's holder (refresh-successor.ts). */
  successorSealed: text('successor_sealed'),
});

/** Written as a literal Parley computes (src/features/knowledge/search-text.ts), never parsed by PostgreSQL. */
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const chatbots = pgTable('chatbots', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  slug: text('slug').notNull(),
  isPublic: boolean('is_public').notNull().default(false),
  isDefault: boolean('is_default').notNull().default(false),
  systemPrompt: text('system_prompt').notNull().default(''),
  greeting: text('greeting').notNull().default(''),
  model: text('model').notNull(),
  temperature: real('temperature'),
  maxTokens: integer('max_tokens'),
  useProfile: boolean('use_profile').notNull().default(false),
  allowedOrigins: text('allowed_origins').array().notNull().default([]),
  tokenBudgetMonthly: bigint('token_budget_monthly', { mode: 'number' }),
  collect: jsonb('collect'),
  webhookUrl: text('webhook_url'),
  /** Signs deliveries (§12 "Webhooks"); shown to the owner once, never in a chatbot's answers. */
  webhookSecret: text('webhook_secret'),
  /** The secret before the last rotation, which still signs next to the new one until the time after it. */
  webhookPreviousSecret: text('webhook_previous_secret'),
  webhookPreviousSecretUntil: timestamptz('webhook_previous_secret_until'),
  /** False once a receiver answered 410 Gone; setting the url again turns it back on. */
  webhookEnabled: boolean('webhook_enabled').notNull().default(true),
  knowledgeChunks: integer('knowledge_chunks').notNull().default(0),
  /** The UTF-8 bytes of its documents' content, summed over an account's chatbots for KNOWLEDGE_LIMIT_PER_ACCOUNT (migrations/0035). */
  knowledgeBytes: bigint('knowledge_bytes', { mode: 'number' }).notNull().default(0),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

export const knowledgeDocuments = pgTable('knowledge_documents', {
  id: uuid('id').primaryKey(),
  chatbotId: uuid('chatbot_id')
    .notNull()
    .references(() => chatbots.id, { onDelete: 'cascade' }),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  title: text('title').notNull(),
  content: text('content').notNull(),
  chunkCount: integer('chunk_count').notNull(),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
});

export const knowledgeChunks = pgTable('knowledge_chunks', {
  id: uuid('id').primaryKey(),
  documentId: uuid('document_id')
    .notNull()
    .references(() => knowledgeDocuments.id, { onDelete: 'cascade' }),
  chatbotId: uuid('chatbot_id')
    .notNull()
    .references(() => chatbots.id, { onDelete: 'cascade' }),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  position: integer('position').notNull(),
  content: text('content').notNull(),
  tokens: integer('tokens').notNull(),
  search: tsvector('search').notNull(),
});

export const conversations = pgTable('conversations', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  chatbotId: uuid('chatbot_id')
    .notNull()
    .references(() => chatbots.id, { onDelete: 'cascade' }),
  title: text('title'),
  status: text('status', { enum: ['active', 'completed'] }).notNull().default('active'),
  context: text('context'),
  messageCount: integer('message_count').notNull().default(0),
  busyReplyId: uuid('busy_reply_id'),
  busyUntil: timestamptz('busy_until'),
  stopReplyId: uuid('stop_reply_id'),
  /** Set for a public visitor's conversation (the owner reads it in the inbox). */
  visitorId: text('visitor_id'),
  /** The AI SDK channel's chat id, unique per caller (migrations/0012). */
  clientChatId: text('client_chat_id'),
  /** The text of the reply being generated, kept while it streams on channels that resume. */
  busyText: text('busy_text'),
  /** The instance running the reply that holds the conversation (migrations/0021). */
  busyInstance: uuid('busy_instance'),
  /** Values collected so far (§9), each validated against the chatbot's `collect` before it is stored. */
  data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
  /** The collector's place in the conversation (migrations/0014): asked field, list item, language, refusals. */
  collectState: jsonb('collect_state'),
  unreadCount: integer('unread_count').notNull().default(0),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

export const messages = pgTable('messages', {
  id: uuid('id').primaryKey(),
  conversationId: uuid('conversation_id')
    .notNull()
    .references(() => conversations.id, { onDelete: 'cascade' }),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  role: text('role', { enum: ['user', 'assistant'] }).notNull(),
  content: text('content').notNull(),
  status: text('status', { enum: ['complete', 'interrupted', 'failed'] }).notNull().default('complete'),
  tokens: integer('tokens').notNull(),
  model: text('model'),
  promptTokens: integer('prompt_tokens'),
  completionTokens: integer('completion_tokens'),
  latencyMs: integer('latency_ms'),
  errorCode: text('error_code'),
  feedbackRating: text('feedback_rating', { enum: ['like', 'dislike'] }),
  feedbackComment: text('feedback_comment'),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  // A user message's own context (§6), kept for a regenerate (migrations/0034).
  context: text('context'),
});

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    expiresAt: timestamptz('expires_at').notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.key] })],
);

/** One per user (§4); absent fields are empty strings. */
export const profiles = pgTable('profiles', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  name: text('name').notNull().default(''),
  location: text('location').notNull().default(''),
  bio: text('bio').notNull().default(''),
  skills: text('skills').notNull().default(''),
  experience: text('experience').notNull().default(''),
  interests: text('interests').notNull().default(''),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

/** A public chatbot's visitor (§7); `id` is the server's 128-bit random id, `visitor_id` the client's label. */
export const visitors = pgTable('visitors', {
  id: text('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  chatbotId: uuid('chatbot_id')
    .notNull()
    .references(() => chatbots.id, { onDelete: 'cascade' }),
  visitorId: text('visitor_id').notNull(),
  name: text('name'),
  firstSeen: timestamptz('first_seen').notNull(),
  lastSeen: timestamptz('last_seen').notNull(),
  /** A host site's signed-in user whose visits these are (§7); null for an anonymous visitor. */
  verifiedUserId: uuid('verified_user_id').references(() => users.id, { onDelete: 'cascade' }),
});

/** Usage per chatbot, UTC day and shard (§11); written by the turn's finish statement. */
export const usageDaily = pgTable(
  'usage_daily',
  {
    // No key to chatbots: a deleted chatbot's usage stays spent (migration 0037).
    chatbotId: uuid('chatbot_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    shard: smallint('shard').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    messages: integer('messages').notNull().default(0),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull().default(0),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.chatbotId, table.day, table.shard] })],
);

/** A chatbot's API key (§8): the SHA-256 of the key and its display prefix, never the key. */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  chatbotId: uuid('chatbot_id')
    .notNull()
    .references(() => chatbots.id, { onDelete: 'cascade' }),
  name: text('name'),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull(),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  lastUsedAt: timestamptz('last_used_at'),
});

/** A webhook event and where its delivery stands (migrations/0015); `id` is its `webhook-id`. */
export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  chatbotId: uuid('chatbot_id')
    .notNull()
    .references(() => chatbots.id, { onDelete: 'cascade' }),
  conversationId: uuid('conversation_id').notNull(),
  type: text('type').notNull(),
  /** The event's `data`. */
  payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  retryStep: integer('retry_step').notNull().default(0),
  nextAttemptAt: timestamptz('next_attempt_at').defaultNow(),
  leaseUntil: timestamptz('lease_until'),
  leaseToken: uuid('lease_token'),
  lastStatusCode: integer('last_status_code'),
  lastError: text('last_error'),
  deliveredAt: timestamptz('delivered_at'),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
});

/** One attempt to deliver a webhook event, with its outcome once it has one. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    startedAt: timestamptz('started_at').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    latencyMs: integer('latency_ms'),
  },
  (table) => [primaryKey({ columns: [table.deliveryId, table.attempt] })],
);

/** Instances on PostgreSQL and when each counts as gone (migrations/0021): no one's data, no row security. */
export const instances = pgTable('instances', {
  id: uuid('id').primaryKey(),
  seenAt: timestamptz('seen_at').notNull(),
  goneAfter: timestamptz('gone_after').notNull(),
  since: timestamptz('since').notNull(),
});

/** Stops left by conversations deleted while a reply ran in them (migrations/0023): no one's data, no row security. */
export const replyStops = pgTable('reply_stops', {
  replyId: uuid('reply_id').primaryKey(),
  at: timestamptz('at').notNull().defaultNow(),
});

/**
 * The tables whose rows belong to one user. Row security is enabled and forced on each
 * (migrations/0004_row_security.sql); start-up and the tests read this list, and a test checks
 * the database forces it on exactly these. A new table with a user's rows belongs here.
 */
export const tenantTables = [users, sessions, refreshTokens, chatbots, knowledgeDocuments, knowledgeChunks, conversations, messages, idempotencyKeys, profiles, visitors, usageDaily, apiKeys, webhookDeliveries, webhookAttempts] as const;

export type ChatbotRow = typeof chatbots.$inferSelect;
export type KnowledgeDocumentRow = typeof knowledgeDocuments.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
export type VisitorRow = typeof visitors.$inferSelect;
export type ProfileRow = typeof profiles.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;
