// The real AI SDK clients, driven as `useChat` drives them: DefaultChatTransport.sendMessages /
// reconnectToStream give a ReadableStream of UI message chunks (each validated by the client's own
// schemas: the ai5 alias is ai@5.0.216, whose strict schemas refuse any field they do not know),
// and readUIMessageStream builds the assistant message from them. Every client error is surfaced:
// a chunk that fails validation rejects `collect`, an `error` chunk rejects `assemble`.
import { DefaultChatTransport, readUIMessageStream, type UIMessage } from 'ai';
import { DefaultChatTransport as Transport5, readUIMessageStream as read5 } from 'ai5';

export type ClientName = 'ai6' | 'ai5';
export const CLIENTS: ClientName[] = ['ai6', 'ai5'];

export type Chunk = { type: string } & Record<string, unknown>;

export interface TransportOptions {
  headers?: Record<string, string>;
  /** Extra body fields (the transport's `body` option), e.g. `{ user }` for a key. */
  body?: Record<string, unknown>;
  /** The resume URL's query (`?user=` for a key), added as an app would, through prepareReconnectToStreamRequest. */
  resumeQuery?: string;
}

/** The one surface of both clients' transports that `useChat` uses. */
export interface Client {
  name: ClientName;
  send(options: {
    chatId: string;
    messages: unknown[];
    trigger?: 'submit-message' | 'regenerate-message';
    messageId?: string;
    abortSignal?: AbortSignal;
    body?: Record<string, unknown>;
  }): Promise<ReadableStream<Chunk>>;
  reconnect(chatId: string): Promise<ReadableStream<Chunk> | null>;
  /** The assistant message the chunks build (readUIMessageStream); rejects on any error the client reports. */
  assemble(chunks: Chunk[]): Promise<UIMessage>;
}

export function client(name: ClientName, base: string, options: TransportOptions = {}): Client {
  const api = `${base}/v1/ai-sdk/chat`;
  const config = {
    api,
    headers: options.headers,
    body: options.body,
    prepareReconnectToStreamRequest: options.resumeQuery
      ? ({ id }: { id: string }) => ({ api: `${api}/${encodeURIComponent(id)}/stream?${options.resumeQuery}` })
      : undefined,
  };
  const transport = name === 'ai6' ? new DefaultChatTransport(config) : new Transport5(config);
  // Both clients' readers have one shape; their message types differ only nominally.
  const read = (name === 'ai6' ? readUIMessageStream : read5) as unknown as (options: {
    stream: ReadableStream<Chunk>;
    terminateOnError: boolean;
    onError: (error: unknown) => void;
  }) => AsyncIterable<UIMessage>;
  return {
    name,
    async send({ chatId, messages, trigger = 'submit-message', messageId, abortSignal, body }) {
      const stream = await transport.sendMessages({ chatId, messages: messages as never[], trigger, messageId, abortSignal, body });
      return stream as unknown as ReadableStream<Chunk>;
    },
    async reconnect(chatId) {
      return (await transport.reconnectToStream({ chatId })) as unknown as ReadableStream<Chunk> | null;
    },
    async assemble(chunks) {
      const errors: unknown[] = [];
      let last: UIMessage | undefined;
      for await (const message of read({ stream: readableOf(chunks), terminateOnError: true, onError: (error) => errors.push(error) })) last = message;
      if (errors.length > 0) throw errors[0];
      if (!last) throw new Error('the stream built no message');
      return last;
    },
  };
}

export function readableOf<T>(items: T[]): ReadableStream<T> {
  return new ReadableStream({
    start(controller) {
      for (const item of items) controller.enqueue(item);
      controller.close();
    },
  });
}

/** Reads every chunk; rejects when the client refused one (its schema) or the connection failed. */
export async function collect(stream: ReadableStream<Chunk>, onChunk?: (chunk: Chunk, all: Chunk[]) => void): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
    onChunk?.(value, chunks);
  }
}

/** The text of an assistant message (its text parts). */
export const textOf = (message: UIMessage) =>
  message.parts
    .filter((part): part is { type: 'text'; text: string } => part.type === 'text')
    .map((part) => part.text)
    .join('');

let counter = 0;
export const userMessage = (text: string): UIMessage => ({ id: `u${++counter}`, role: 'user', parts: [{ type: 'text', text }] });
export const assistantMessage = (text: string): UIMessage => ({ id: `a${++counter}`, role: 'assistant', parts: [{ type: 'text', text }] });
export const systemMessage = (text: string): UIMessage => ({ id: `s${++counter}`, role: 'system', parts: [{ type: 'text', text }] });

/** One whole turn: the chunks (each accepted by the client) and the message they build. */
export async function turn(c: Client, chatId: string, messages: unknown[], extra: { trigger?: 'submit-message' | 'regenerate-message'; messageId?: string; body?: Record<string, unknown> } = {}) {
  const chunks = await collect(await c.send({ chatId, messages, ...extra }));
  const message = await c.assemble(chunks);
  return { chunks, message, text: textOf(message), messageId: messageIdOf(chunks) };
}

/** `start.messageId`: the first chunk's. */
export const messageIdOf = (chunks: Chunk[]) => (chunks[0]?.type === 'start' ? String(chunks[0].messageId) : undefined);

/** The conversation the first `message-metadata` chunk names. */
export function conversationOf(chunks: Chunk[]): string {
  const metadata = chunks.find((chunk) => chunk.type === 'message-metadata')?.messageMetadata as { conversation_id?: string } | undefined;
  if (!metadata?.conversation_id) throw new Error('no conversation_id in the stream');
  return metadata.conversation_id;
}

/** Reads the data frames of a raw UI message stream body. */
export function dataFrames(body: string): string[] {
  return body
    .split('\n\n')
    .flatMap((block) => block.split('\n').filter((line) => line.startsWith('data: ')))
    .map((line) => line.slice(6));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
