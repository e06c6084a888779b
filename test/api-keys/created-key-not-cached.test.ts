// The answer to POST /v1/chatbots/{id}/keys is the one place a key's secret is ever shown. It went
// out without Cache-Control, so a browser's cache or a caching proxy in front of the dashboard
// could keep it on disk, where the key outlives its revocation notice and anyone reading that
// cache has it. Parley's token answers say `no-store` (RFC 6749 §5.1); a key is a longer-lived
// credential than either token. The list, which shows prefixes only, may be cached as before.
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/factories.js';
import { ownerStage } from '../helpers/owner-stage.js';

const stage = ownerStage({ chatbot: { name: 'Cached desk' } });

describe('the answer that shows a new key', () => {
  it('tells browsers and proxies not to store it', async () => {
    const created = await stage.t.request({ method: 'POST', url: `/v1/chatbots/${stage.bot.id}/keys`, headers: bearer(stage.owner.accessToken), payload: { name: 'backend' } });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().key).toMatch(/^parley_sk_/);
    expect(created.headers['cache-control']).toBe('no-store');
  });
});
