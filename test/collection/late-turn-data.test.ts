// A turn holds its conversation while the model answers, and renews the hold; when the hold lapses
// (its instance stalled, or its renewals could not reach the database) the next message takes the
// conversation, and the late turn's reply is still stored when it ends. Its collected data was
// stored too, as the turn had read it when it began: whatever the newer turn collected meanwhile
// was undone. A conversation that turn completed kept `completed` while the value that completed
// it was gone: `missing` named it, and the export lacked what the webhook had been sent.
import { describe, expect, it } from 'vitest';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { collected, collectionStage, NAME_AND_EMAIL, nameAndEmailSaid, say, type CollectingConversation } from './stage.js';

const stage = collectionStage();

describe('a turn whose hold lapsed while the model answered, and a newer turn meanwhile', () => {
  it('does not undo what the newer turn collected, which completed the conversation', { timeout: 60_000 }, async () => {
    const t = stage.model;
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner, { name: 'Lead bot', collect: NAME_AND_EMAIL });
    const conversation: CollectingConversation = { t, owner, id: (await createConversation(t, owner, { chatbot_id: chatbot.id })).id };
    stage.fake.setExtraction(nameAndEmailSaid);
    await say(conversation, 'Hello, my name is Dana');
    expect((await collected(conversation)).data).toEqual({ name: 'Dana' });

    // The late turn: a correction whose reply takes a while.
    stage.fake.setDelays({ firstTokenDelayMs: 3_000 });
    const late = sendMessage(t, owner, conversation.id, { content: 'Sorry, my name is Dan' });
    await stage.fake.waitFor((requests) => requests.some((request) => !request.structured && request.messages.some((message) => message.content.includes('Sorry, my name is Dan'))), 20_000);
    stage.fake.setDelays({ firstTokenDelayMs: 0 });
    // Its hold lapses, as when its renewals stop reaching the database.
    await t.database.sql.query("UPDATE conversations SET busy_until = now() - interval '1 second' WHERE id = $1", [conversation.id]);

    const newer = await sendMessage(t, owner, conversation.id, { content: 'Write to dana@example.org' });
    expect(newer.statusCode, newer.body).toBe(201);
    expect(await collected(conversation)).toEqual({ data: { name: 'Dana', email: 'dana@example.org' }, missing: [], completed: true });

    expect((await late).statusCode).toBe(201);
    const after = await collected(conversation);
    expect(after.completed).toBe(true);
    expect(after.missing).toEqual([]);
    expect(after.data.email).toBe('dana@example.org');
  });
});
