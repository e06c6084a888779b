// A profile field made only of characters that show nothing (zero-width space and joiners, word
// joiner, byte order mark, variation selectors, bidi marks) was stored as sent: the owner's
// name showed as empty on the public profile page while it counted as written, and the chatbot
// was sent 'Name: ' with nothing after it. Such a value is now an empty field, as one of only
// spaces always was (trimmed away): stored and answered empty, left out of the prompt. A value
// stored before reads as empty too. Text with something visible in it keeps its invisible parts.
import { describe, expect, it } from 'vitest';
import { json } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

const EMPTY = { name: '', location: '', bio: '', skills: '', experience: '', interests: '' };
const INVISIBLE = {
  name: '\u200b',
  location: '\u200c\u200d\u2060',
  bio: '\ufeff\u200b\ufeff',
  skills: '\ufe0f\u{e0100}',
  experience: ' \u200e\u200f\u202a\u2066 ',
};
import { fakeLlmStage } from '../helpers/fake-llm-stage.js';

const stage = fakeLlmStage();

const putProfile = (user: RegisteredUser, payload: object) => stage.t.request({ method: 'PUT', url: '/v1/profile', headers: bearer(user.accessToken), payload });
const getProfile = async (user: RegisteredUser) => json(await stage.t.request({ method: 'GET', url: '/v1/profile', headers: bearer(user.accessToken) }));
const publicProfile = async (username: string) => json(await stage.t.request({ method: 'GET', url: `/v1/public/profiles/${username}` }));

/** The body of the `<profile …>` block the chatbot was sent, or undefined when there was none. */
async function profileSent(owner: RegisteredUser, chatbotId: string): Promise<string | undefined> {
  const conversation = await createConversation(stage.t, owner, { chatbot_id: chatbotId });
  const response = await sendMessage(stage.t, owner, conversation.id, { content: 'Who is the owner?' });
  expect(response.statusCode, response.body).toBe(201);
  for (const { content } of stage.fake.requests.at(-1)!.messages) {
    const match = /<profile\b[^>]*>([\s\S]*?)<\/profile>/.exec(content);
    if (match) return match[1];
  }
  return undefined;
}

async function ownerWithPublicBot() {
  const owner = await registerUser(stage.t);
  const bot = await createChatbot(stage.t, owner, { name: 'About me', is_public: true, use_profile: true });
  return { owner, bot };
}

describe('a profile field of only invisible characters', () => {
  it('is stored empty like a blank one, shown empty, and left out of the prompt', async () => {
    const { owner, bot } = await ownerWithPublicBot();
    const response = await putProfile(owner, { ...INVISIBLE, interests: 'Chess' });
    expect(response.statusCode, response.body).toBe(200);
    expect(json(response)).toEqual({ ...EMPTY, interests: 'Chess' });
    expect(await getProfile(owner)).toEqual({ ...EMPTY, interests: 'Chess' });
    expect(await publicProfile(owner.username)).toEqual({ username: owner.username, ...EMPTY, interests: 'Chess' });

    const sent = await profileSent(owner, bot.id);
    expect(sent?.trim()).toBe('Interests: Chess');
  });

  it('when every field is so, the chatbot is sent no profile at all', async () => {
    const { owner, bot } = await ownerWithPublicBot();
    expect((await putProfile(owner, { ...INVISIBLE, interests: '\u200b \u200b' })).statusCode).toBe(200);
    expect(await getProfile(owner)).toEqual(EMPTY);
    expect(await profileSent(owner, bot.id)).toBeUndefined();
  });

  it('stored before, reads as empty on every page and in the prompt', async () => {
    const { owner, bot } = await ownerWithPublicBot();
    expect((await putProfile(owner, { bio: 'Plays chess' })).statusCode).toBe(200);
    await stage.t.database.sql.query('UPDATE profiles SET name = $1, location = $2 WHERE user_id = $3', [INVISIBLE.name, INVISIBLE.location, owner.id]);
    expect(await getProfile(owner)).toEqual({ ...EMPTY, bio: 'Plays chess' });
    expect(await publicProfile(owner.username)).toEqual({ username: owner.username, ...EMPTY, bio: 'Plays chess' });
    expect((await profileSent(owner, bot.id))?.trim()).toBe('Bio: Plays chess');
  });

  it('with something visible in it, is kept as written, joiners and marks included', async () => {
    const { owner, bot } = await ownerWithPublicBot();
    const written = { name: '\u200fשרה\u200f', location: '\u200bParis', bio: '👩\u200d💻 writes code ❤\ufe0f' };
    const response = await putProfile(owner, written);
    expect(json(response)).toEqual({ ...EMPTY, ...written });
    expect(await publicProfile(owner.username)).toEqual({ username: owner.username, ...EMPTY, ...written });
    const sent = await profileSent(owner, bot.id);
    expect(sent).toContain(`Name: ${written.name}`);
    expect(sent).toContain(`Bio: ${written.bio}`);
  });
});
