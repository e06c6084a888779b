-- Chat core: chatbots, their knowledge, conversations, messages and idempotent requests.
-- Every tenant table carries user_id (the owner) so each query filters on it directly.

CREATE TABLE chatbots (
  id                   uuid PRIMARY KEY,
  user_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name                 text NOT NULL,
  description          text NOT NULL DEFAULT '',
  slug                 text NOT NULL,
  is_public            boolean NOT NULL DEFAULT false,
  is_default           boolean NOT NULL DEFAULT false,
  system_prompt        text NOT NULL DEFAULT '',
  greeting             text NOT NULL DEFAULT '',
  model                text NOT NULL,
  temperature          real,
  max_tokens           integer,
  use_profile          boolean NOT NULL DEFAULT false,
  allowed_origins      text[] NOT NULL DEFAULT '{}',
  token_budget_monthly bigint,
  collect              jsonb,
  webhook_url          text,
  -- Kept in step with knowledge_chunks so a turn skips the search when there is nothing to find.
  knowledge_chunks     integer NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX chatbots_slug_key ON chatbots (slug);
CREATE UNIQUE INDEX chatbots_one_default_per_user ON chatbots (user_id) WHERE is_default;
CREATE INDEX chatbots_user_idx ON chatbots (user_id, created_at DESC, id DESC);

CREATE TABLE knowledge_documents (
  id          uuid PRIMARY KEY,
  chatbot_id  uuid NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title       text NOT NULL,
  content     text NOT NULL,
  chunk_count integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX knowledge_documents_chatbot_idx ON knowledge_documents (chatbot_id, created_at DESC, id DESC);

-- `search` holds lexemes Parley computes itself (word segmentation by ICU plus CJK bigrams),
-- given to PostgreSQL as a tsvector literal: the same on PGlite and PostgreSQL, whatever the locale.
CREATE TABLE knowledge_chunks (
  id          uuid PRIMARY KEY,
  document_id uuid NOT NULL REFERENCES knowledge_documents (id) ON DELETE CASCADE,
  chatbot_id  uuid NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  position    integer NOT NULL,
  content     text NOT NULL,
  tokens      integer NOT NULL,
  search      tsvector NOT NULL
);
CREATE INDEX knowledge_chunks_document_idx ON knowledge_chunks (document_id);
CREATE INDEX knowledge_chunks_chatbot_idx ON knowledge_chunks (chatbot_id);
CREATE INDEX knowledge_chunks_search_idx ON knowledge_chunks USING gin (search);

CREATE TABLE conversations (
  id            uuid PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  chatbot_id    uuid NOT NULL REFERENCES chatbots (id) ON DELETE CASCADE,
  title         text,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed')),
  context       text,
  message_count integer NOT NULL DEFAULT 0,
  -- A reply being generated holds the conversation until it is stored (or the lease runs out,
  -- should its instance die): a database lease works across instances without Redis.
  busy_reply_id uuid,
  busy_until    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_activity_idx ON conversations (user_id, updated_at DESC, id DESC);
CREATE INDEX conversations_chatbot_activity_idx ON conversations (chatbot_id, updated_at DESC, id DESC);

CREATE TABLE messages (
  id                uuid PRIMARY KEY,
  conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role              text NOT NULL CHECK (role IN ('user', 'assistant')),
  content           text NOT NULL,
  status            text NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'interrupted', 'failed')),
  -- Tokens of `content`, counted once when stored, so building a prompt never re-tokenises history.
  tokens            integer NOT NULL,
  model             text,
  prompt_tokens     integer,
  completion_tokens integer,
  latency_ms        integer,
  error_code        text,
  feedback_rating   text CHECK (feedback_rating IN ('like', 'dislike')),
  feedback_comment  text,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);

-- Idempotency-Key: the first answer to a (user, key) is kept 24 h and replayed.
CREATE TABLE idempotency_keys (
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key             text NOT NULL,
  fingerprint     text NOT NULL,
  response_status integer,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
