-- The SQL of one non-streaming chat turn, as src/features/chat/turns.repo.ts sends it:
-- begin (lock + user message + chatbot; history read here too, as a separate statement for pgbench's
-- variable capture), finish (reply + unlock, the one durable commit).
-- Each pgbench client works in its own conversation, like each benchmark connection.
-- Knowledge search is not part of it: the benchmark chatbots have no knowledge.
\set n :client_id + 1
WITH s AS (SELECT set_config('synchronous_commit', 'off', true) AS sync),
t AS (SELECT conversation_id, user_id FROM bench_targets WHERE n = :n),
c AS (
  UPDATE conversations
     SET busy_reply_id = gen_random_uuid(), busy_until = now() + 120000 * interval '1 millisecond',
         message_count = message_count + 1, updated_at = now(), title = COALESCE(title, 'bench')
    FROM t
   WHERE id = t.conversation_id AND conversations.user_id = t.user_id AND (busy_until IS NULL OR busy_until < now())
  RETURNING id, chatbot_id, title, context, busy_reply_id, conversations.user_id
), m AS (
  INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
  SELECT gen_random_uuid(), c.id, c.user_id, 'user', 'Hello, this is a benchmark message of ordinary length.', 'complete', 11, now() FROM c
)
SELECT c.id AS cid, c.user_id AS uid, c.busy_reply_id AS rid, b.system_prompt, b.greeting, b.model, b.temperature,
       b.max_tokens, b.knowledge_chunks, b.use_profile
  FROM c JOIN chatbots b ON b.id = c.chatbot_id CROSS JOIN s \gset
SELECT id, role, content, status, tokens FROM (
  SELECT id, role, content, status, tokens, sum(tokens + 3) OVER (ORDER BY id DESC) AS running
    FROM (SELECT id, role, content, status, tokens FROM messages
           WHERE conversation_id = ':cid'::uuid AND user_id = ':uid'::uuid
           ORDER BY id DESC LIMIT 500) recent
) budgeted
 WHERE running <= 7900
 ORDER BY id DESC;
WITH d AS (
  DELETE FROM messages WHERE id = NULL AND conversation_id = ':cid'::uuid AND user_id = ':uid'::uuid AND role = 'assistant' RETURNING 1
), r AS (
  INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, model,
                        prompt_tokens, completion_tokens, latency_ms, error_code, created_at)
  SELECT ':rid'::uuid, c.id, c.user_id, 'assistant', 'You said: Hello, this is a benchmark message of ordinary length.', 'complete', 14, 'fake-model', 40, 14, 1, NULL, now()
    FROM conversations c WHERE c.id = ':cid'::uuid AND c.user_id = ':uid'::uuid
  RETURNING id, content, status, created_at, prompt_tokens, completion_tokens, latency_ms, error_code
), u AS (
  UPDATE conversations
     SET message_count = message_count + (SELECT count(*) FROM r) - (SELECT count(*) FROM d),
         updated_at = now(),
         busy_reply_id = CASE WHEN busy_reply_id = ':rid'::uuid THEN NULL ELSE busy_reply_id END,
         busy_until = CASE WHEN busy_reply_id = ':rid'::uuid THEN NULL ELSE busy_until END
   WHERE id = ':cid'::uuid AND user_id = ':uid'::uuid
)
SELECT * FROM r;
