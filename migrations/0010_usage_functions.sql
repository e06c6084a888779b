-- Usage functions a turn's statements call. As PL/pgSQL functions their queries are planned once
-- per connection rather than into every turn's statement (PGlite plans each statement anew), and
-- they run with the caller's row security like any query.

-- A chatbot's tokens used since a day (the start of its budget month), summed over usage_daily's
-- shards. The turn's begin statement asks only for a chatbot with a budget.
CREATE FUNCTION budget_spent(chatbot uuid, since date) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM usage_daily WHERE chatbot_id = chatbot AND day >= since);
END
$$;

-- Adds one stored reply to its chatbot's usage for the day, in the shard the turn picked. Called
-- by the turn's finish statement. A
-- failed reply counts nothing: its prompt tokens are Parley's estimate of a request the model
-- never answered. Positional parameters: `messages`, `day` and `shard` are also column names.
CREATE FUNCTION add_usage(uuid, uuid, date, smallint, text, integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF $5 = 'failed' THEN
    RETURN false;
  END IF;
  INSERT INTO usage_daily AS g (chatbot_id, user_id, day, shard, messages, prompt_tokens, completion_tokens)
  VALUES ($1, $2, $3, $4, 1, coalesce($6, 0), coalesce($7, 0))
  ON CONFLICT (chatbot_id, day, shard) DO UPDATE
     SET messages = g.messages + 1, prompt_tokens = g.prompt_tokens + EXCLUDED.prompt_tokens,
         completion_tokens = g.completion_tokens + EXCLUDED.completion_tokens;
  RETURN true;
END
$$;
