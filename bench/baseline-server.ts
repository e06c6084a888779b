/**
 * The baseline the benchmark compares Parley with: the least a server must do to answer the same two
 * endpoints with the same shapes — no auth, no database, no tokenizer, node:http and global fetch.
 *
 *   POST /v1/conversations                      → 201 {id, title, status, created_at, updated_at}
 *   POST /v1/conversations/:id/messages {content, stream?}
 *        → 201 {user_message, reply}  or  200 text/event-stream (message.start / message.delta / message.end)
 *
 * Messages live in a Map. Like Parley it sends history newest-first up to a budget, here a plain
 * character budget (CONTEXT_TOKEN_BUDGET × 4 characters), so both send prompts of similar size.
 * A second message while one is generating answers 409, and a client that leaves aborts the upstream call.
 *
 * Env: LLM_BASE_URL (…/v1), PORT (0 = any). Prints `{"url": …}` once listening.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Message {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'interrupted' | 'failed';
  created_at: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  latency_ms?: number;
}
interface Conversation {
  id: string;
  created_at: string;
  messages: Message[];
  busy: boolean;
}

const LLM_URL = process.env.LLM_BASE_URL ?? 'http://127.0.0.1:1/v1';
const HISTORY_CHARS = Number(process.env.CONTEXT_TOKEN_BUDGET ?? 8000) * 4;
const conversations = new Map<string, Conversation>();

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function message(role: Message['role'], content: string): Message {
  return { id: randomUUID(), role, content, status: 'complete', created_at: new Date().toISOString() };
}

/** History newest first until the character budget is spent, then the new message (already last in the list). */
function promptOf(conversation: Conversation): Array<{ role: string; content: string }> {
  const picked: Array<{ role: string; content: string }> = [];
  let left = HISTORY_CHARS;
  for (let i = conversation.messages.length - 1; i >= 0; i--) {
    const m = conversation.messages[i]!;
    if (m.status !== 'complete') continue;
    left -= m.content.length;
    if (left < 0 && picked.length > 0) break;
    picked.push({ role: m.role, content: m.content });
  }
  picked.push({ role: 'system', content: 'You are a helpful assistant.' });
  return picked.reverse();
}

async function reply(conversation: Conversation, res: http.ServerResponse, stream: boolean, req: http.IncomingMessage): Promise<void> {
  const userMessage = conversation.messages[conversation.messages.length - 1]!;
  const started = performance.now();
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const upstream = await fetch(`${LLM_URL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
    body: JSON.stringify({ model: 'fake-model', messages: promptOf(conversation), stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
    signal: abort.signal,
  });
  if (!upstream.ok) throw new Error(`upstream ${upstream.status}`);
  const answer = message('assistant', '');

  if (!stream) {
    const body = (await upstream.json()) as { choices: Array<{ message: { content: string } }>; usage: Message['usage'] };
    answer.content = body.choices[0]?.message.content ?? '';
    answer.usage = { prompt_tokens: body.usage!.prompt_tokens, completion_tokens: body.usage!.completion_tokens };
    answer.latency_ms = Math.round(performance.now() - started);
    conversation.messages.push(answer);
    send(res, 201, { user_message: userMessage, reply: answer });
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  const event = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  event('message.start', { conversation_id: conversation.id, user_message: userMessage, reply_id: answer.id });
  let buffered = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const line = buffered.slice(0, end).trim();
        buffered = buffered.slice(end + 2);
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const data = JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }>; usage?: Message['usage'] };
        const delta = data.choices[0]?.delta?.content;
        if (delta) {
          answer.content += delta;
          event('message.delta', { reply_id: answer.id, delta });
        }
        if (data.usage) answer.usage = { prompt_tokens: data.usage.prompt_tokens, completion_tokens: data.usage.completion_tokens };
      }
    }
  } catch (error) {
    if (!req.destroyed && !res.destroyed) throw error;
    answer.status = 'interrupted';
  }
  answer.latency_ms = Math.round(performance.now() - started);
  conversation.messages.push(answer);
  if (!res.destroyed) {
    event('message.end', { reply: answer });
    res.end();
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const path = req.url ?? '/';
  if (req.method === 'GET' && path === '/health') return send(res, 200, { status: 'ok' });
  if (req.method !== 'POST') return send(res, 404, { code: 'not_found' });
  let body: { content?: unknown; stream?: unknown } = {};
  try {
    body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
  } catch {
    return send(res, 400, { code: 'invalid_json' });
  }

  if (path === '/v1/conversations') {
    const now = new Date().toISOString();
    const conversation: Conversation = { id: randomUUID(), created_at: now, messages: [], busy: false };
    conversations.set(conversation.id, conversation);
    return send(res, 201, { id: conversation.id, title: null, status: 'active', message_count: 0, created_at: now, updated_at: now });
  }
  const match = /^\/v1\/conversations\/([^/]+)\/messages$/.exec(path);
  const conversation = match ? conversations.get(match[1]!) : undefined;
  if (!conversation) return send(res, 404, { code: 'not_found' });
  if (typeof body.content !== 'string' || body.content.trim() === '') return send(res, 422, { code: 'validation_failed' });
  if (conversation.busy) return send(res, 409, { code: 'conversation_busy' });
  conversation.busy = true;
  conversation.messages.push(message('user', body.content));
  try {
    await reply(conversation, res, body.stream === true, req);
  } finally {
    conversation.busy = false;
  }
}

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (!res.headersSent) send(res, 502, { code: 'llm_unavailable', detail: String(error) });
    else res.destroy();
  });
});
server.requestTimeout = 0;
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
