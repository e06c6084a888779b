// An upstream model that answers 200 and then sends only SSE comments (`: keep-alive`, as
// OpenRouter sends `: OPENROUTER PROCESSING` while a provider is queued or stuck) or, for a
// whole answer, only whitespace. Each comment used to refresh LLM_TIMEOUT_MS, so such a call never
// ended: it held its client, its slot of MAX_CONCURRENT_TURNS and its model socket, and once the
// slots were taken every other tenant's turn answered 503 at_capacity. Chunks are progress even
// without text (a reasoning model's before its first word); LLM_MAX_DURATION_MS ends a call that
// makes progress without end.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv, listen } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';

const TIMEOUT_MS = 1000;
const MAX_DURATION_MS = 4000;
const STEP_MS = TIMEOUT_MS / 5;

const frame = (delta: Record<string, unknown>, finish: string | null = null, usage?: object) =>
  `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'fake-model', choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
const USAGE = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };

/**
 * An OpenAI-compatible upstream. The last message decides: "stall" gets comments (whole: blank
 * lines) forever; "think" empty chunks for twice LLM_TIMEOUT_MS, then an answer; "ramble" a word
 * every STEP_MS forever; anything else a short answer at once.
 */
function startUpstream() {
  const open = new Set<http.ServerResponse>();
  const every = (res: http.ServerResponse, write: (tick: number) => void) => {
    let tick = 0;
    const timer = setInterval(() => write(tick++), STEP_MS);
    open.add(res);
    res.on('close', () => (clearInterval(timer), open.delete(res)));
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (part: string) => (body += part));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { stream?: boolean; messages: Array<{ content: string }> };
      const last = parsed.messages.at(-1)?.content ?? '';
      res.writeHead(200, { 'content-type': parsed.stream ? 'text/event-stream' : 'application/json' });
      if (last.includes('stall')) return every(res, () => res.write(parsed.stream ? ': keep-alive\n\n' : '\n'));
      if (last.includes('ramble')) return every(res, () => res.write(frame({ content: 'more ' })));
      if (last.includes('think')) {
        return every(res, (tick) => {
          if (tick * STEP_MS < 2 * TIMEOUT_MS) return void res.write(frame({ role: 'assistant', content: '' }));
          res.write(frame({ content: 'Thought it through.' }, 'stop', USAGE));
          res.end('data: [DONE]\n\n');
        });
      }
      if (parsed.stream) return res.end(frame({ role: 'assistant', content: 'Fine.' }) + frame({}, 'stop', USAGE) + 'data: [DONE]\n\n');
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'fake-model', choices: [{ index: 0, message: { role: 'assistant', content: 'Fine.' }, finish_reason: 'stop' }], usage: USAGE }));
    });
  });
  return new Promise<{ url: string; open: () => number; close: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/v1`,
        open: () => open.size,
        close: () => {
          server.closeAllConnections();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let t: TestApp;
let stalled: { client: OpenAI; model: string };
let other: { client: OpenAI; model: string };
beforeAll(async () => {
  upstream = await startUpstream();
  const env = { LLM_MAX_RETRIES: '0', LLM_TIMEOUT_MS: String(TIMEOUT_MS), LLM_MAX_DURATION_MS: String(MAX_DURATION_MS), MAX_CONCURRENT_TURNS: '2' };
  t = await createTestApp(fakeLlmEnv(upstream.url, env));
  const base = await listen(t);
  const tenant = async (name: string) => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name });
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: (await createApiKey(t, owner.accessToken, bot.id)).key, maxRetries: 0, timeout: 120_000 });
    return { client, model: bot.slug };
  };
  stalled = await tenant('Stalled bot');
  other = await tenant('Other tenant bot');
});
afterAll(async () => {
  await upstream?.close();
  await t?.close();
});

type Outcome = { answered: string } | { failed: number | string };

async function streamed(tenant: typeof stalled, content: string): Promise<Outcome> {
  let text = '';
  try {
    const stream = await tenant.client.chat.completions.create({ model: tenant.model, messages: [{ role: 'user', content }], stream: true, user: 'a' });
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return { answered: text };
  } catch (error) {
    // 502 before the first byte; after it, the error frame (the SDK's APIError without a status).
    return { failed: (error as { status?: number }).status ?? (text === '' ? 'error frame' : 'error frame after text') };
  }
}

function whole(tenant: typeof stalled, content: string): Promise<Outcome> {
  return tenant.client.chat.completions.create({ model: tenant.model, messages: [{ role: 'user', content }], user: 'b' }).then(
    (answer) => ({ answered: answer.choices[0]!.message.content ?? '' }),
    (error: { status?: number }) => ({ failed: error.status ?? 'no status' }),
  );
}

describe('an upstream that sends only keep-alive comments (or whitespace) and never an answer', () => {
  it('fails the call as the model not answering, frees its slot, and other tenants are answered', { timeout: 60_000 }, async () => {
    const [stream, answer] = await Promise.all([streamed(stalled, 'please stall'), whole(stalled, 'please stall too')]);
    expect(stream).toEqual({ failed: 'error frame' });
    expect(answer).toEqual({ failed: 502 });
    await vi.waitFor(() => expect(upstream.open()).toBe(0));
    expect(await whole(other, 'Hello')).toEqual({ answered: 'Fine.' });
  });
});

describe('an upstream that sends chunks', () => {
  it('is waited for while its chunks carry no text yet (a reasoning model), longer than LLM_TIMEOUT_MS in all', { timeout: 60_000 }, async () => {
    expect(await streamed(stalled, 'think first')).toEqual({ answered: 'Thought it through.' });
  });

  it('is cut at LLM_MAX_DURATION_MS when its answer never ends, with what it wrote so far', { timeout: 60_000 }, async () => {
    expect(await streamed(stalled, 'ramble on')).toEqual({ failed: 'error frame after text' });
    await vi.waitFor(() => expect(upstream.open()).toBe(0));
  });
});
