// The answers that show a secret once — a new chatbot's or a newly set webhook's signing secret,
// a rotated one, and the visitor token a public visit starts with — went out without
// Cache-Control, so a browser's cache or a caching proxy in front of the dashboard or the host
// page could keep them on disk, outliving the rotation meant to retire them. They say `no-store`
// now, as token answers and a new API key's answer do (RFC 9111 §5.2.2.5); answers that show no
// secret keep their caching as before.
import { describe, expect, it } from 'vitest';
import { createChatbot } from '../helpers/chat.js';
import { bearer } from '../helpers/factories.js';
import { ownerStage } from '../helpers/owner-stage.js';
import { startVisitRaw } from '../helpers/public.js';

const stage = ownerStage({ env: { WEBHOOK_ALLOW_PRIVATE: 'false' } });

const asOwner = (method: 'POST' | 'PATCH', url: string, payload?: Record<string, unknown>) => stage.t.request({ method, url, headers: bearer(stage.owner.accessToken), ...(payload ? { payload } : {}) });

describe('an answer showing a webhook secret', () => {
  it('is not stored by browsers or proxies: a chatbot created with a webhook, a webhook set, a secret rotated', async () => {
    const created = await asOwner('POST', '/v1/chatbots', { name: 'Hooked', webhook_url: 'https://hooks.example.com/parley' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().webhook_secret).toMatch(/^whsec_/);
    expect(created.headers['cache-control']).toBe('no-store');

    const plain = await createChatbot(stage.t, stage.owner, { name: 'Hooked later' });
    const set = await asOwner('PATCH', `/v1/chatbots/${plain.id}`, { webhook_url: 'https://hooks.example.com/later' });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().webhook_secret).toMatch(/^whsec_/);
    expect(set.headers['cache-control']).toBe('no-store');

    const rotated = await asOwner('POST', `/v1/chatbots/${plain.id}/webhook-secret`);
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json().webhook_secret).toMatch(/^whsec_/);
    expect(rotated.headers['cache-control']).toBe('no-store');
  });
});

describe("a public visit's start", () => {
  it('is not stored by browsers or proxies: its answer holds the visitor token', async () => {
    const bot = await createChatbot(stage.t, stage.owner, { name: 'Front desk', is_public: true });
    const visit = await startVisitRaw(stage.t, bot.id, { visitor_id: 'visitor-cache' });
    expect(visit.statusCode, visit.body).toBe(201);
    expect(visit.json().visitor_token).toEqual(expect.any(String));
    expect(visit.headers['cache-control']).toBe('no-store');
  });
});
