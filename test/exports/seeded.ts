// An app on a loopback port with one owner whose chatbot holds `count` conversations, written
// straight into the table; `data` is each one's collected data as SQL over `i` (1 to count).
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';

export interface Seeded {
  t: TestApp;
  base: string;
  owner: RegisteredUser;
  chatbot: { id: string };
}

export async function seededExports(count: number, data: string): Promise<Seeded> {
  const t = await createTestApp();
  const base = await listen(t);
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner);
  await t.database.sql.query(
    `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, data)
     SELECT gen_random_uuid(), $1, $2, 'c' || i, '2026-04-01T00:00:00Z'::timestamptz + i * interval '1 second', now(), ${data}
       FROM generate_series(1, ${Number(count)}) AS i`,
    [owner.id, chatbot.id],
  );
  return { t, base, owner, chatbot };
}
