// Shapes a chat turn into an HTTP answer: JSON or an event stream, with Idempotency-Key
// replays, and model failures as 502 (or an SSE `error` once the stream has begun).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { toProblem } from '../../http/problem.js';
import { openEventStream, type EventStream, type Heartbeats } from '../../http/sse.js';
import type { Caller } from '../auth/session-guard.js';
import type { Message } from '../conversations/conversations.schemas.js';
import type { TurnOptions, TurnResult } from './chat.service.js';
import { fingerprint, idempotencyKeyOf, type Idempotency } from './idempotency.js';

export interface TurnResponder {
  respond(
    request: FastifyRequest,
    reply: FastifyReply,
    turn: { caller: Caller; streaming: boolean; shape: (result: TurnResult) => Record<string, unknown> },
    run: (options: TurnOptions) => Promise<TurnResult>,
  ): Promise<FastifyReply | void>;
}

interface Outcome {
  status: number;
  body: Record<string, unknown>;
}

function failureOutcome(request: FastifyRequest, result: TurnResult): Outcome {
  const error = new AppError('llm_unavailable', `The model could not answer (${result.failure!.failure}). Your message was kept; try again.`, {
    extra: { conversation_id: result.conversationId, reply_id: result.reply.id },
  });
  const { problem } = toProblem(error, request.id);
  return { status: problem.status, body: problem.body };
}

function outcomeOf(request: FastifyRequest, result: TurnResult, shape: (r: TurnResult) => Record<string, unknown>): Outcome {
  return result.failure ? failureOutcome(request, result) : { status: 201, body: shape(result) };
}

function sendJson(reply: FastifyReply, outcome: Outcome, replayed: boolean) {
  if (replayed) reply.header('idempotent-replayed', 'true');
  if (outcome.status >= 400) reply.type('application/problem+json');
  return reply.code(outcome.status).send(outcome.body);
}

/** A stored answer replayed as the events it would have produced. */
function replayAsEvents(stream: EventStream, outcome: Outcome, conversationId: string | null) {
  if (outcome.status >= 400) {
    stream.send('error', { code: outcome.body.code, message: outcome.body.detail });
    return stream.end();
  }
  const replyMessage = outcome.body.reply as Message;
  stream.send('message.start', {
    conversation_id: outcome.body.conversation_id ?? conversationId,
    user_message: outcome.body.user_message ?? null,
    reply_id: replyMessage.id,
  });
  if (replyMessage.content) stream.send('message.delta', { reply_id: replyMessage.id, delta: replyMessage.content });
  stream.send('message.end', { reply: replyMessage });
  stream.end();
}

export function createTurnResponder(deps: { idempotency: Idempotency; heartbeats: Heartbeats }): TurnResponder {
  const { idempotency, heartbeats } = deps;

  async function streamTurn(request: FastifyRequest, reply: FastifyReply, shape: (r: TurnResult) => Record<string, unknown>, run: (o: TurnOptions) => Promise<TurnResult>) {
    let stream: EventStream | null = null;
    const gone = new AbortController();
    try {
      const result = await run({
        clientGone: gone.signal,
        events: {
          start(info) {
            stream = openEventStream(request, reply, heartbeats);
            stream.clientGone.addEventListener('abort', () => gone.abort(), { once: true });
            stream.send('message.start', { conversation_id: info.conversationId, user_message: info.userMessage, reply_id: info.replyId });
          },
          delta(replyId, delta) {
            stream?.send('message.delta', { reply_id: replyId, delta });
          },
        },
      });
      const outcome = outcomeOf(request, result, shape);
      const open = stream as EventStream | null;
      if (open) {
        if (result.failure) open.send('error', { code: 'llm_unavailable', message: outcome.body.detail });
        else open.send('message.end', { reply: result.reply });
        open.end();
      }
      return outcome;
    } catch (error) {
      const open = stream as EventStream | null;
      if (!open) {
        // Taken over but never opened: nobody else can answer now, so close the response.
        if (reply.sent || reply.raw.headersSent) {
          reply.raw.destroy();
          return null;
        }
        // Before the stream began, a failure is an ordinary HTTP error.
        throw error;
      }
      const { problem, unexpected } = toProblem(error, request.id);
      if (unexpected) request.log.error({ err: { message: (error as Error).message } }, 'chat turn failed after streaming began');
      open.send('error', { code: problem.body.code, message: problem.body.detail });
      open.end();
      return null;
    }
  }

  return {
    async respond(request, reply, turn, run) {
      const key = idempotencyKeyOf(request.headers['idempotency-key']);
      const userId = turn.caller.user.id;
      if (key) {
        const path = request.url.split('?', 1)[0]!;
        const claim = await idempotency.claim(userId, key, fingerprint(request.method, path, request.body));
        if (claim.state === 'replay') {
          const outcome = { status: claim.status, body: claim.body as Record<string, unknown> };
          if (!turn.streaming) return sendJson(reply, outcome, true);
          reply.header('idempotent-replayed', 'true');
          const named = (request.params as { id?: string } | undefined)?.id?.toLowerCase() ?? null;
          return replayAsEvents(openEventStream(request, reply, heartbeats), outcome, named);
        }
      }
      let outcome: Outcome | null;
      try {
        if (turn.streaming) outcome = await streamTurn(request, reply, turn.shape, run);
        else {
          outcome = outcomeOf(request, await run({}), turn.shape);
        }
      } catch (error) {
        // Refused (not found, busy, invalid, limited) or broken: no answer to replay, so the key is free again.
        if (key) await idempotency.abandon(userId, key).catch(() => {});
        throw error;
      }
      if (key) {
        if (outcome) await idempotency.complete(userId, key, outcome.status, outcome.body);
        else await idempotency.abandon(userId, key);
      }
      if (!turn.streaming && outcome) return sendJson(reply, outcome, false);
    },
  };
}
