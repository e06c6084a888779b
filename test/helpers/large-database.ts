// An embedded database made large on purpose, for tests of what backups and restores hold in
// memory: 30 conversations of 100 messages of 32,000 random hexadecimal characters each (about
// 100 MB, which PostgreSQL stores uncompressed), written straight into the folder of a stopped server.
import { createPglite } from '../../src/db/pglite.js';

export async function fillWithLargeConversations(pgliteDir: string, userId: string, chatbotId: string, conversations = 30): Promise<void> {
  const owner = createPglite(pgliteDir);
  try {
    await owner.query(
      `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count)
       SELECT gen_random_uuid(), $1, $2, 'c' || i, now() - i * interval '1 second', now(), 100 FROM generate_series(1, $3::int) AS i`,
      [userId, chatbotId, conversations],
    );
    await owner.query(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT gen_random_uuid(), c.id, c.user_id, CASE WHEN j % 2 = 1 THEN 'user' ELSE 'assistant' END,
              (SELECT string_agg(md5(random()::text || g || j), '') FROM generate_series(1, 1000) AS g), 'complete', 1, now()
         FROM conversations c, generate_series(1, 100) AS j WHERE c.chatbot_id = $1`,
      [chatbotId],
    );
  } finally {
    await owner.close();
  }
}
