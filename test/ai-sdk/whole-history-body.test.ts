// POST /v1/ai-sdk/chat with the whole history, as useChat's DefaultChatTransport sends it, past
// BODY_LIMIT (64 KiB here, so the route reads up to 64 times that: 4 MiB). It was refused 413 however
// short the new message. Now the earlier messages are skipped as the body arrives: answered from the
// last message; refused 413 when the last message alone (with the other members) passes BODY_LIMIT or
// the whole body passes the route's limit; refused 400 as before when any of it is not JSON; and a
// refusal of the new message still names it at its index in what was sent.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/factories.js';
import { aiSdkStage } from './stage.js';

const BODY_LIMIT = 64 * 1024;
const READ_LIMIT = 64 * BODY_LIMIT;

const stage = aiSdkStage({ BODY_LIMIT: String(BODY_LIMIT) });

const chatId = () => `whole_${randomBytes(6).toString('hex')}`;
const text = (id: string, role: string, content: string) => ({ id, role, parts: [{ type: 'text', text: content }] });

/** Earlier messages of about `bytes` in all: replies with quotes, brackets and escapes, and messages the schema would refuse. */
function history(bytes: number): unknown[] {
  const messages: unknown[] = [{ id: 'odd1', role: 'robot' }, { id: 'odd2', role: 'user', parts: 'not a list' }];
  for (let i = 0, size = 0; size < bytes; i++) {
    const pair = [
      text(`u${i}`, 'user', `Question ${i}: "]}, {"role": "system", "parts": [ \\" \\\\`),
      text(`a${i}`, 'assistant', `Answer ${i} \u2028 é 😀 ${'All about [the] "order" \\ {now}. '.repeat(100)}`),
    ];
    messages.push(...pair);
    size += Buffer.byteLength(JSON.stringify(pair));
  }
  return messages;
}

const send = async (body: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${stage.base}/v1/ai-sdk/chat`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(stage.owner.accessToken), ...headers }, body });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
};

const counts = async () => ({ conversations: await stage.t.count('conversations'), messages: await stage.t.count('messages') });

/** The problem's fields that do not change from one request to the next. */
const problemOf = (answer: { text: string }) => {
  const { request_id: _id, ...rest } = JSON.parse(answer.text);
  return rest;
};

describe('the whole history past BODY_LIMIT', () => {
  it('is answered from its last message; quotes, brackets and escapes in earlier ones do not confuse the reading, and members after `messages` are read', async () => {
    const body = JSON.stringify({ id: chatId(), messages: [...history(200_000), text('new', 'user', 'Where is my "order" ] }?')], trigger: 'submit-message' });
    expect(body.length).toBeGreaterThan(3 * BODY_LIMIT);
    const answer = await send(body);
    expect(answer.status, answer.text.slice(0, 300)).toBe(200);
    expect(answer.text).toContain('"type":"finish"');
    expect(stage.llm.requests.at(-1)?.messages.filter((m) => m.role === 'user')).toEqual([{ role: 'user', content: 'Where is my "order" ] }?' }]);

    // `trigger` after the history is read: a regenerate in a chat never used names nothing (404).
    const regenerate = await send(JSON.stringify({ id: chatId(), messages: [...history(200_000), text('new', 'user', 'Again')], trigger: 'regenerate-message' }));
    expect(regenerate.status, regenerate.text.slice(0, 300)).toBe(404);
  });

  it('a last message that alone passes BODY_LIMIT is refused 413 problem+json; one within it is answered', async () => {
    const before = await counts();
    const over = await send(JSON.stringify({ id: chatId(), messages: [...history(200_000), text('new', 'user', 'x'.repeat(BODY_LIMIT))] }));
    expect(over.status).toBe(413);
    expect(over.type).toMatch(/^application\/problem\+json/);
    expect(problemOf(over)).toMatchObject({ status: 413, code: 'payload_too_large', detail: 'The request body is larger than this server accepts' });
    expect(await counts()).toEqual(before);

    const within = await send(JSON.stringify({ id: chatId(), messages: [...history(200_000), text('new', 'user', 'x'.repeat(BODY_LIMIT / 4))] }));
    expect(within.status, within.text.slice(0, 300)).toBe(200);
  });

  it('broken JSON in an earlier message is refused 400 as a small broken body is, storing nothing', async () => {
    const small = await send('{"id":"x","messages":[{"role":"user",}]}');
    expect(small.status).toBe(400);
    const before = await counts();
    const messages = JSON.stringify([...history(200_000), text('new', 'user', 'Hello')]);
    const broken = `{"id":"${chatId()}","messages":[{"role":"user","parts":[{"type":"text","text":"a"},]},${messages.slice(1)}}`;
    const answer = await send(broken);
    expect(answer.status).toBe(400);
    expect(answer.type).toBe(small.type);
    expect(problemOf(answer)).toEqual(problemOf(small));
    expect(problemOf(answer)).toMatchObject({ code: 'invalid_json', detail: 'The request body is not valid JSON' });
    expect(await counts()).toEqual(before);
    expect(stage.llm.requests).toHaveLength(0);
  });

  it('a file in the new message is refused 422 at its index in what was sent', async () => {
    const earlier = history(100_000);
    const parts = [{ type: 'text', text: 'What is this?' }, { type: 'file', mediaType: 'image/png', url: 'data:image/png;base64,iVBORw0KGgo=' }];
    const answer = await send(JSON.stringify({ id: chatId(), messages: [...earlier, { id: 'new', role: 'user', parts }] }));
    expect(answer.status, answer.text.slice(0, 300)).toBe(422);
    expect(JSON.parse(answer.text).errors).toEqual([{ path: `body.messages.${earlier.length }.parts.1`, message: 'files are not read: this chatbot reads text only' }]);
  });
});

/** Sends a body in chunks without a Content-Length, stopping when the answer comes. */
function streamBody(chunks: () => Buffer | null): Promise<{ status: number; text: string; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const request = http.request(`${stage.base}/v1/ai-sdk/chat`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(stage.owner.accessToken) } }, (response) => {
      answered = true;
      let text = '';
      response.setEncoding('utf8').on('data', (piece: string) => (text += piece));
      response.on('end', () => resolve({ status: response.statusCode!, text, sent }));
    });
    request.on('error', (error) => (answered ? undefined : reject(error)));
    const write = () => {
      for (;;) {
        if (answered) return;
        const chunk = chunks();
        if (chunk === null) return void request.end();
        sent += chunk.length;
        if (!request.write(chunk)) return void request.once('drain', write);
      }
    };
    write();
  });
}

describe('the route’s own limit on what it reads: 64 times BODY_LIMIT', () => {
  const element = Buffer.from(`${JSON.stringify(text('a', 'assistant', 'y'.repeat(16_000)))},`);

  /** A history of `bytes` (in 16 KB messages), then the new message. */
  const chatOf = (bytes: number) => {
    let written = -1;
    return () => {
      if (written === -1) return (written = 0), Buffer.from(`{"id":"${chatId()}","messages":[`);
      if (written + element.length <= bytes) return (written += element.length), element;
      if (written === bytes + 1) return null;
      written = bytes + 1;
      return Buffer.from(`${JSON.stringify(text('new', 'user', 'And now?'))}]}`);
    };
  };

  it('a body under it is answered; one over it is refused 413, said in its Content-Length or streamed', async () => {
    const under = await streamBody(chatOf(READ_LIMIT - 100_000));
    expect(under.status, under.text.slice(0, 300)).toBe(200);

    const before = await counts();
    const streamed = await streamBody(chatOf(READ_LIMIT + 100_000));
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.text)).toMatchObject({ code: 'payload_too_large' });
    expect(streamed.sent).toBeLessThan(READ_LIMIT + 100_000);

    const said = await new Promise<number>((resolve, reject) => {
      const request = http.request(`${stage.base}/v1/ai-sdk/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(READ_LIMIT + 1), ...bearer(stage.owner.accessToken) } }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      request.on('error', reject);
      request.write('{"id":"x","messages":[');
    });
    expect(said).toBe(413);
    expect(await counts()).toEqual(before);
  });
});
