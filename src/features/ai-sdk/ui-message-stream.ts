// The AI SDK UI message stream protocol (v1): each event is `data:` one JSON chunk, the stream
// ends with `data: [DONE]`. Only the chunk types and fields that every `ai` client from 5.0 on
// accepts are written (§8): clients before 5.0.217 validate chunks with strict schemas and fail
// the whole stream on a field they do not know, so nothing here carries an extra field (not even
// `finish.finishReason`, which early 5.0 releases refuse).
import type { EventStream } from '../../http/sse.js';
import type { Outcome, StreamProtocol } from '../chat/stream-protocol.js';
import type { CollectUpdate } from '../collection/collect-state.js';
import type { Message } from '../conversations/conversations.schemas.js';

export const UI_MESSAGE_STREAM_HEADERS: Record<string, string> = {
  'x-vercel-ai-ui-message-stream': 'v1',
  // Also set by every event stream; repeated so the protocol's headers are complete here.
  'x-accel-buffering': 'no',
};

/**
 * The reply has one text part. Its id derives from the reply id alone, so a resumed stream
 * (from any instance) names the part exactly as the original stream did.
 */
export const textPartId = (replyId: string) => `text-${replyId}`;

/** What the client learns about the stored reply: its conversation (for stop and history) and outcome. */
function replyMetadata(conversationId: string | null, reply: Message): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...conversationOf(conversationId), status: reply.status, created_at: reply.created_at };
  if (reply.usage) metadata.usage = reply.usage;
  if (reply.latency_ms !== undefined) metadata.latency_ms = reply.latency_ms;
  return metadata;
}

const conversationOf = (conversationId: string | null) => (conversationId ? { conversation_id: conversationId } : {});

/** The opening chunks: the message (with the stored reply's id), its step and its text part. */
export function writeStart(stream: EventStream, replyId: string, conversationId: string | null): void {
  stream.data({ type: 'start', messageId: replyId });
  // The conversation id comes first so a client can stop the reply (POST /v1/conversations/{id}/stop) while it streams.
  if (conversationId) stream.data({ type: 'message-metadata', messageMetadata: { conversation_id: conversationId } });
  stream.data({ type: 'start-step' });
  stream.data({ type: 'text-start', id: textPartId(replyId) });
}

export function writeDelta(stream: EventStream, replyId: string, delta: string): void {
  // An empty delta tells the client nothing; the strict clients accept it, but it is noise.
  if (delta) stream.data({ type: 'text-delta', id: textPartId(replyId), delta });
}

/** The closing chunks for a stored reply (complete, or interrupted by a stop), then `[DONE]`. */
export function writeFinish(stream: EventStream, conversationId: string | null, reply: Message, collect: CollectUpdate | null = null): void {
  stream.data({ type: 'text-end', id: textPartId(reply.id) });
  stream.data({ type: 'finish-step' });
  // What the turn collected (§9) as a data part, which every client from ai 5.0 on accepts.
  if (collect) stream.data({ type: 'data-collect', data: collect });
  stream.data({ type: 'message-metadata', messageMetadata: replyMetadata(conversationId, reply) });
  stream.data({ type: 'finish' });
  stream.done();
}

/** A failure after the stream began: the client's `onError` gets the text; the stream still ends properly. */
export function writeError(stream: EventStream, message: string): void {
  stream.data({ type: 'error', errorText: message });
  stream.done();
}

/** A whole stored reply as the stream that produced it (an Idempotency-Key replay). */
export function writeWhole(stream: EventStream, conversationId: string | null, reply: Message): void {
  writeStart(stream, reply.id, conversationId);
  writeDelta(stream, reply.id, reply.content);
  writeFinish(stream, conversationId, reply);
}

/** A turn of the one engine, written as UI message chunks (through the turn responder). */
export const uiMessageStream: StreamProtocol = {
  headers: UI_MESSAGE_STREAM_HEADERS,
  start(stream, info) {
    writeStart(stream, info.replyId, info.conversationId);
  },
  delta(stream, replyId, text) {
    writeDelta(stream, replyId, text);
  },
  end(stream, result) {
    writeFinish(stream, result.conversationId, result.reply, result.collect);
  },
  error(stream, error) {
    writeError(stream, error.message);
  },
  replay(stream, outcome: Outcome, conversationId) {
    if (outcome.status >= 400) return writeError(stream, String(outcome.body.detail ?? outcome.body.title ?? 'The request failed'));
    const reply = outcome.body.reply as Message;
    const conversation = (outcome.body.conversation_id as string | undefined) ?? conversationId;
    writeWhole(stream, conversation, reply);
  },
};
