// A key's name is a label its owner reads in a list of keys ("which server uses the key"). Names
// and titles shown as one line refuse what breaks or rewrites that line (src/lib/one-line.ts:
// chatbot names, document titles, visitor names, field labels), but a key's name took line breaks,
// tabs, terminal escapes and direction overrides: "billing\u202Etxt.exe" was stored and listed,
// shown as "billingexe.txt". They are refused with 422 naming `name`, and no key is made; a
// line break around the name (a text box's) is trimmed as before, and right-to-left text stays.
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/factories.js';
import { ownerStage } from '../helpers/owner-stage.js';

const stage = ownerStage({ chatbot: { name: 'Named keys' } });

const create = (name: string) => stage.t.request({ method: 'POST', url: `/v1/chatbots/${stage.bot.id}/keys`, headers: bearer(stage.owner.accessToken), payload: { name } });
const keyCount = async () => (await stage.t.request({ method: 'GET', url: `/v1/chatbots/${stage.bot.id}/keys?limit=100`, headers: bearer(stage.owner.accessToken) })).json().data.length as number;

describe('a key\'s name', () => {
  it('that would break or rewrite its line is refused, and no key is made; right-to-left text is not', async () => {
    const before = await keyCount();
    for (const name of ['billing\u202Etxt.exe', 'prod\nstaging', 'tab\there', 'esc\u001b[31mred', 'line\u2028sep']) {
      const response = await create(name);
      expect(response.statusCode, `${JSON.stringify(name)}: ${response.body}`).toBe(422);
      expect(response.json().errors[0].path).toBe('body.name');
      expect(response.body).not.toContain('parley_sk_');
    }
    expect(await keyCount()).toBe(before);
    // Right-to-left text stays; a line break around the name is trimmed.
    const hebrew = await create('\u05E9\u05E8\u05EA \u05D7\u05D9\u05D5\u05D1');
    expect(hebrew.statusCode, hebrew.body).toBe(201);
    const trimmed = await create('backend\n');
    expect(trimmed.statusCode, trimmed.body).toBe(201);
    expect(trimmed.json().name).toBe('backend');
  });
});
