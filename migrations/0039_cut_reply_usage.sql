-- A reply the model cut off half-way (its stream broke, the answer was cut at its length cap, the
-- database refused its text) is stored `failed`, and its tokens were spent all the same: the model
-- read the prompt and wrote what the client received. 0010 counted no failed reply, so such
-- tokens were missing from GET /v1/usage and the admin stats, and a chatbot's monthly budget let
-- replies that kept breaking go on at no cost. A failed reply now adds its tokens once the model
-- wrote any (completion tokens: its part of an answer, or the collector's extraction), never as
-- a message: `messages` still counts replies that did not fail. One the model never began (no
-- completion token) still adds nothing: its prompt tokens are Parley's estimate of a request the
-- model never answered. Same signature, so an instance still on the code before keeps calling it.
CREATE OR REPLACE FUNCTION add_usage(uuid, uuid, date, smallint, text, integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  replies integer := CASE WHEN $5 = 'failed' THEN 0 ELSE 1 END;
BEGIN
  IF $5 = 'failed' AND coalesce($7, 0) <= 0 THEN
    RETURN false;
  END IF;
  INSERT INTO usage_daily AS g (chatbot_id, user_id, day, shard, messages, prompt_tokens, completion_tokens)
  VALUES ($1, $2, $3, $4, replies, coalesce($6, 0), coalesce($7, 0))
  ON CONFLICT (chatbot_id, day, shard) DO UPDATE
     SET messages = g.messages + EXCLUDED.messages, prompt_tokens = g.prompt_tokens + EXCLUDED.prompt_tokens,
         completion_tokens = g.completion_tokens + EXCLUDED.completion_tokens;
  RETURN replies = 1;
END
$$;
