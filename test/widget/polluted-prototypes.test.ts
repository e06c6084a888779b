// A host page whose Object.prototype was polluted before the loader ran: a query-string parser or
// a deep merge of the page's scripts (`?__proto__[userToken]=…`, a known class of bugs) lets the
// attacker set any inherited property. The widget must not take its options, its requests'
// headers or its credentials from there: a planted user token made every visitor's chat the
// attacker's, listed in their own conversations for them to read.
import { expect, it } from 'vitest';
import { describeBrowser, embedPage, shadow } from '../helpers/browser.js';
import { registerUser } from '../helpers/factories.js';
import { see } from '../helpers/see.js';
import { eachWithPublicBot, GREETING, replies, say, type PublicBotVisit } from './widget-visit.js';

let visit: PublicBotVisit;

describeBrowser('the widget on a host page with a polluted Object.prototype', () => {
  eachWithPublicBot((given) => (visit = given));

  it("keeps a visitor's chat out of the attacker's account whatever user token or headers were planted", async () => {
    const { site, parley, bot, context } = visit;
    const attacker = await registerUser(parley.t);
    const planted = JSON.stringify(attacker.accessToken);
    // What the pollution leaves: every object inherits these, DOMStringMap and RequestInit included.
    const pollute = `<script>Object.prototype.userToken = ${planted}; Object.prototype.headers = { authorization: 'Bearer ' + ${planted} };</script>`;
    const spec = embedPage({ parleyUrl: parley.url, attributes: { chatbot: bot.slug }, body: `${pollute}<main><h1>Our shop</h1></main>` });
    const page = await context.newPage();
    await page.goto(site.page(`/polluted-${bot.slug}`, spec));
    await shadow(page).launcher.click();
    await see(shadow(page).messages('assistant')).contains(GREETING);
    await say(page, 'My address is 12 Long Lane');
    await see(replies(page)).texts(['You said: My address is 12 Long Lane']);
    const listed = await parley.t.request({ method: 'GET', url: '/v1/conversations', headers: { authorization: `Bearer ${attacker.accessToken}` } });
    expect(listed.statusCode).toBe(200);
    expect((listed.json() as { data: unknown[] }).data).toEqual([]);
    // The visit is an anonymous visitor's, as the embed (which names no user) asked.
    const owners = await parley.t.database.sql.query<{ n: number | string }>(
      `SELECT count(*) AS n FROM conversations WHERE chatbot_id = $1 AND visitor_id IS NOT NULL`,
      [bot.id],
    );
    expect(Number(owners[0]!.n)).toBe(1);
  });
});
