// A webhook_url is shown to its owner as it was stored, and deliveries go where the URL parser
// takes it. A url holding a tab or a line break (pasted from a document) was stored and shown as
// written while deliveries went to the parser's cleaned-up form, which drops them — a different
// url than the one the owner reads; surrounding spaces were kept too; and `:0` was taken, which
// Node sends to port 80. Now the spaces around a url are trimmed, and a url with whitespace or a
// control character inside, or port 0, is refused with 422 naming webhook_url, changing nothing.
import { describe, expect, it } from 'vitest';
import { createChatbot } from '../helpers/chat.js';
import { bearer } from '../helpers/factories.js';
import { ownerStage } from '../helpers/owner-stage.js';

const stage = ownerStage();

const patch = (id: string, payload: Record<string, unknown>) => stage.t.request({ method: 'PATCH', url: `/v1/chatbots/${id}`, headers: bearer(stage.owner.accessToken), payload });
const webhookUrlOf = async (id: string) => (await stage.t.request({ method: 'GET', url: `/v1/chatbots/${id}`, headers: bearer(stage.owner.accessToken) })).json().webhook_url as string | null;

describe('a webhook_url as written', () => {
  it('is stored without the spaces around it', async () => {
    const bot = await createChatbot(stage.t, stage.owner, { name: 'Trimmed hook' });
    const set = await patch(bot.id, { webhook_url: '  https://hooks.example.com/parley \n' });
    expect(set.statusCode, set.body).toBe(200);
    expect(await webhookUrlOf(bot.id)).toBe('https://hooks.example.com/parley');
  });

  it.each([
    ['a tab in the path', 'https://hooks.example.com/par\tley'],
    ['a line break in the host', 'https://hooks.exa\nmple.com/parley'],
    ['a carriage return in the query', 'https://hooks.example.com/parley?a=1\r'.concat('&b=2')],
    ['port 0', 'https://hooks.example.com:0/parley'],
  ])('with %s is refused 422 naming webhook_url; the webhook stays as it was', async (_name, url) => {
    const bot = await createChatbot(stage.t, stage.owner, { name: 'Kept hook', webhook_url: 'https://hooks.example.com/kept' });
    const refused = await patch(bot.id, { webhook_url: url });
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().errors.map((e: { path: string }) => e.path)).toEqual(['body.webhook_url']);
    expect(await webhookUrlOf(bot.id)).toBe('https://hooks.example.com/kept');

    const created = await stage.t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(stage.owner.accessToken), payload: { name: 'New hook', webhook_url: url } });
    expect(created.statusCode, created.body).toBe(422);
  });
});
