// Two signed-in users of a host site on one browser (a family computer, a shop's kiosk, or
// one person switching accounts). The widget keeps its visitor token and conversation in the host's
// localStorage keyed by the user token's `iss` and `sub` (store.ts). Tokens of the shape Parley
// itself documents and mints (`parley token`: `{user_id, username}`, no `sub`; README "Users of
// another system": the user id comes from `user_id`, else `sub`) give every user the same key, so
// the next user is shown the previous user's conversation and writes into it.
import type { BrowserContext } from 'playwright-core';
import { expect, it } from 'vitest';
import { mintToken } from '../../src/cli-token.js';
import { describeBrowser, shadow, type HostSite, type ParleyServer } from '../helpers/browser.js';
import { see } from '../helpers/see.js';
import { openWidget, replies, say, eachWithPublicBot, type PublicBotVisit } from './widget-visit.js';

const SECRET = 'host-site-shared-secret-32-bytes!';

let parley: ParleyServer;
let site: HostSite;
let bot: { id: string; slug: string };
let context: BrowserContext;
const useVisit = (given: PublicBotVisit) => void ({ parley, site, bot, context } = given);

const token = (id: string) => mintToken(['--user-id', id, '--username', id], { EXTERNAL_JWT_SECRET: SECRET } as never);

async function conversationsOf(userToken: string): Promise<string[]> {
  const auth = { authorization: `Bearer ${userToken}` };
  const listed = await parley.t.request({ method: 'GET', url: '/v1/conversations', headers: auth });
  expect(listed.statusCode, listed.body).toBe(200);
  const texts: string[] = [];
  for (const c of (listed.json() as { data: Array<{ id: string }> }).data) {
    const messages = await parley.t.request({ method: 'GET', url: `/v1/conversations/${c.id}/messages`, headers: auth });
    texts.push(...(messages.json() as { data: Array<{ content: string }> }).data.map((m) => m.content));
  }
  return texts;
}

describeBrowser("one browser, two signed-in users of the host site", () => {
  eachWithPublicBot(useVisit, { env: { EXTERNAL_JWT_SECRET: SECRET } });

  it("does not show the next user the previous user's conversation, nor let them write into it", { timeout: 60_000 }, async () => {
    const alice = await token('alice-1001');
    const bob = await token('bob-2002');
    const where = { site, parley, context, bot };

    const alicePage = await openWidget(where, { 'user-token': alice });
    await say(alicePage, 'My card ends in 4242, ship to 1 Elm St');
    await see(replies(alicePage)).texts(['You said: My card ends in 4242, ship to 1 Elm St']);
    await alicePage.close();

    // Alice signs out; Bob signs in on the same browser, and the host page embeds his token.
    const bobPage = await openWidget(where, { 'user-token': bob });
    await bobPage.evaluate(() => new Promise((resolve) => setTimeout(resolve, 1500))); // history restore
    const bobSees = (await shadow(bobPage).log.textContent()) ?? '';
    await say(bobPage, 'Hello, I am Bob');
    await expect.poll(() => replies(bobPage).last().textContent()).toContain('You said: Hello, I am Bob');

    // What Alice finds in her own conversations afterwards, through the API (§7: the same conversations).
    const aliceHas = await conversationsOf(alice);
    expect({ bobSees: bobSees.includes('4242'), bobsWordsInAlicesConversation: aliceHas.includes('Hello, I am Bob') }).toEqual({
      bobSees: false,
      bobsWordsInAlicesConversation: false,
    });
  });
});
