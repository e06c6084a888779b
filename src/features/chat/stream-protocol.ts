// How a turn is written as an event stream. The turn is the same for every channel; the
// protocol decides the frames: Parley's `message.*` events here, OpenAI chunks and AI SDK UI
// message chunks as those channels arrive.
import type { Message } from '../conversations/conversations.schemas.js';
import type { EventStream } from '../../http/sse.js';
import type { TurnResult } from './turn-engine.js';

/** A stored answer to replay (Idempotency-Key) or a refusal: status and JSON body. */
export interface Outcome {
  status: number;
  body: Record<string, unknown>;
}

/** The frames of a turn that runs: what every streaming channel writes. */
export interface StreamFrames {
  /** Extra response headers for the stream (protocol markers). */
  headers?: Record<string, string>;
  start(stream: EventStream, info: { conversationId: string | null; userMessage: Message | null; replyId: string }): void;
  delta(stream: EventStream, replyId: string, text: string): void;
  /** The stored reply (complete or interrupted). */
  end(stream: EventStream, result: TurnResult): void;
  /** Writes what the protocol holds back (OpenAI's role chunk waits for the first token), before a frame written outside it. */
  flush?(stream: EventStream): void;
}

/** A protocol the turn responder (turn-responder.ts) writes: its failures and replays too. */
export interface StreamProtocol extends StreamFrames {
  /** A failure after the stream began: one error frame, then the stream ends. */
  error(stream: EventStream, error: { code: string; message: string }): void;
  /** A stored answer replayed as the frames it would have produced. */
  replay(stream: EventStream, outcome: Outcome, conversationId: string | null): void;
}

/**
 * Writes a stream's deltas in the protocol's frames. The first token is sent at once
 * (EventStream.flush) rather than after the rest of what arrived in the same packet.
 */
export function deltaWriter(protocol: StreamFrames): (stream: EventStream, replyId: string, text: string) => void {
  let tokenSent = false;
  return (stream, replyId, text) => {
    protocol.delta(stream, replyId, text);
    if (!tokenSent) stream.flush();
    tokenSent = true;
  };
}

/** Parley's own events (SPEC §6.1). */
export const parleyEvents: StreamProtocol = {
  start(stream, info) {
    stream.send('message.start', { conversation_id: info.conversationId, user_message: info.userMessage, reply_id: info.replyId });
  },
  delta(stream, replyId, delta) {
    stream.send('message.delta', { reply_id: replyId, delta });
  },
  end(stream, result) {
    stream.send('message.end', { reply: result.reply });
    // §6.1: after the reply, what the turn collected (§9), when it changed anything.
    if (result.collect) stream.send('collect.update', result.collect);
  },
  error(stream, error) {
    stream.send('error', error);
  },
  replay(stream, outcome, conversationId) {
    if (outcome.status >= 400) return this.error(stream, { code: String(outcome.body.code), message: String(outcome.body.detail) });
    const reply = outcome.body.reply as Message;
    const conversation = (outcome.body.conversation_id as string | undefined) ?? conversationId;
    this.start(stream, { conversationId: conversation ?? '', userMessage: (outcome.body.user_message as Message | undefined) ?? null, replyId: reply.id });
    if (reply.content) this.delta(stream, reply.id, reply.content);
    stream.send('message.end', { reply });
  },
};
