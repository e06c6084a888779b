// useChat's DefaultChatTransport sends the chat's whole history with every message, though Parley
// reads only the new one (the history the model sees is Parley's own). A long chat's body passes
// BODY_LIMIT (130 exchanges of 8 KB replies: 1.1 MB): every message after was refused 413, so a long
// chat died with the default transport. The earlier messages are now skipped as the body streams
// in (src/features/ai-sdk/last-message-body.ts): such a chat keeps going with the default transport,
// and with the README's (prepareSendMessagesRequest, only the last message), with both clients,
// sends and regenerates alike.
import type { UIMessage } from 'ai';
import { DefaultChatTransport } from 'ai';
import { DefaultChatTransport as Transport5 } from 'ai5';
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/factories.js';
import { aiSdkStage } from './stage.js';
import { CLIENTS, type Chunk, type ClientName } from './clients.js';

const stage = aiSdkStage();

/** As the README writes it: only the new message goes, with the fields Parley reads. */
const lastMessageOnly = ({ id, messages, trigger, messageId, body }: { id: string; messages: UIMessage[]; trigger: string; messageId: string | undefined; body: Record<string, unknown> | undefined }) => ({
  body: { ...body, id, messages: messages.slice(-1), trigger, messageId },
});

function transport(name: ClientName, readme: boolean) {
  const options = { api: `${stage.base }/v1/ai-sdk/chat`, headers: bearer(stage.owner.accessToken), ...(readme ? { prepareSendMessagesRequest: lastMessageOnly } : {}) };
  return name === 'ai6' ? new DefaultChatTransport(options) : new Transport5(options as never);
}

const text = (id: string, role: 'user' | 'assistant', content: string) => ({ id, role, parts: [{ type: 'text', text: content }] });

/** What a long chat's client holds: 130 exchanges, each reply about 8 KB. */
function longHistory(): UIMessage[] {
  const history: UIMessage[] = [];
  for (let i = 0; i < 130; i++) {
    history.push(text(`u${i}`, 'user', `Question ${i}: what about the order?`) as UIMessage);
    history.push(text(`a${i}`, 'assistant', `Answer ${i}. ${'All about the order. '.repeat(400)}`) as UIMessage);
  }
  return history;
}

async function chunksOf(stream: ReadableStream<unknown>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value as Chunk);
  }
}

/** Sends the next message of a long chat, then regenerates its reply; Parley keeps the new exchange once. */
async function keepsGoing(name: ClientName, readme: boolean) {
  const chatId = `long-${name}-${readme ? 'readme' : 'default'}-${Date.now()}`;
  const label = `${readme ? 'README' : 'Default'} ${name}:`;
  const question = `${label} and where is it now?`;
  const next = [...longHistory(), text('u-next', 'user', question) as UIMessage];
  expect(JSON.stringify({ id: chatId, messages: next }).length).toBeGreaterThan(stage.t.config.bodyLimit);

  const sent = await chunksOf((await transport(name, readme).sendMessages({ chatId, messages: next as never[], trigger: 'submit-message', messageId: undefined, abortSignal: undefined })) as ReadableStream<unknown>);
  expect(sent.map((chunk) => chunk.type)).toContain('text-delta');
  expect(sent.at(-1)?.type).toBe('finish');
  expect(stage.llm.requests.at(-1)?.messages.at(-1)).toEqual({ role: 'user', content: question });
  const replyId = sent.find((chunk) => chunk.type === 'start')?.messageId as string;

  const again = [...next, { id: replyId, role: 'assistant', parts: [{ type: 'text', text: 'It is on its way.' }] } as UIMessage];
  const regenerated = await chunksOf(
    (await transport(name, readme).sendMessages({ chatId, messages: again.slice(0, -1) as never[], trigger: 'regenerate-message', messageId: replyId, abortSignal: undefined })) as ReadableStream<unknown>,
  );
  expect(regenerated.at(-1)?.type).toBe('finish');

  // Parley kept the conversation: the new message and its reply, once (the regenerate replaced it).
  const listed = await stage.t.request({ method: 'GET', url: '/v1/conversations?limit=100', headers: bearer(stage.owner.accessToken) });
  const conversation = (listed.json().data as Array<{ id: string; title: string }>).find((c) => c.title.startsWith(label));
  expect(conversation).toBeDefined();
  const messages = await stage.t.request({ method: 'GET', url: `/v1/conversations/${conversation!.id }/messages`, headers: bearer(stage.owner.accessToken) });
  expect((messages.json().data as Array<{ role: string }>).map((m) => m.role)).toEqual(['user', 'assistant']);
}

describe.each(CLIENTS)('a long chat (%s) whose whole history passes BODY_LIMIT', (name) => {
  it('keeps going with the default transport, which sends the whole history', async () => {
    await keepsGoing(name, false);
  });

  it('keeps going with the README’s transport, which sends only the new message', async () => {
    await keepsGoing(name, true);
  });
});
