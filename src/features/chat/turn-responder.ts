// Shapes a chat turn into an HTTP answer: JSON or an event stream in the route's protocol,
// with Idempotency-Key replays, and model failures as 502 (or a stream error once it began).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors/app-error.js';
import { loggableError } from '../../http/hooks.js';
import { toProblem } from '../../http/problem.js';
import { openEventStream, type EventStream, type Heartbeats } from '../../http/sse.js';
import type { Jobs } from '../../jobs/jobs.js';
import { failureAdvice } from '../../llm/failure-advice.js';
import type { Principal } from '../auth/principal.js';
import { CLAIM_RENEW_MS, fingerprint, idempotencyKeyOf, type Idempotency } from './idempotency.js';
import { deltaWriter, parleyEvents, type Outcome, type StreamProtocol } from './stream-protocol.js';
import type { TurnOptions, TurnResult } from './turn-engine.js';

export interface TurnRequest {
  caller: Principal;
  streaming: boolean;
  shape: (result: TurnResult) => Record<string, unknown>;
  /** How the stream is written; Parley's `message.*` events by default. */
  protocol?: StreamProtocol;
}

export interface TurnResponder {
  respond(request: FastifyRequest, reply: FastifyReply, turn: TurnRequest, run: (options: TurnOptions) => Promise<TurnResult>): Promise<FastifyReply | void>;
}

function failureOutcome(request: FastifyRequest, result: TurnResult): Outcome {
  const error = new AppError('llm_unavailable', `The model could not answer (${result.failure!.failure}). Your message was kept; ${failureAdvice(result.failure!.failure)}.`, {
    extra: { ...(result.conversationId ? { conversation_id: result.conversationId } : {}), reply_id: result.reply.id },
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

/**
 * Keys are the caller's (§12): stored in the tenant's rows, so the visitors of one chatbot (and,
 * later, a key's end users) get a namespace each and never replay one another's answers.
 */
function callerKey(caller: Principal, key: string | null): string | null {
  if (key === null || caller.kind === 'user') return key;
  // A key's end users each have their own (the key's id alone would let them replay one another's).
  const who = caller.kind === 'apiKey' ? `${caller.actorId}:${caller.endUser ?? ''}` : caller.actorId;
  return `${caller.kind}:${who}:${key}`;
}

/** The streamed answer: the turn's events written as they come, its failures as a final frame. */
function createStreamedAnswers(deps: { heartbeats: Heartbeats }) {
  const { heartbeats } = deps;

  /**
   * `settle` records the outcome for the Idempotency-Key before the stream ends: a client that
   * retries the moment its stream closes gets the replay, not "still running".
   */
  async function streamTurn(
    request: FastifyRequest,
    reply: FastifyReply,
    protocol: StreamProtocol,
    shape: TurnRequest['shape'],
    run: (o: TurnOptions) => Promise<TurnResult>,
    settle: (outcome: Outcome | null) => Promise<void>,
  ): Promise<void> {
    let stream: EventStream | null = null;
    const writeDelta = deltaWriter(protocol);
    try {
      const result = await run({
        events: {
          start(info) {
            const opened = openEventStream(request, reply, heartbeats, protocol.headers);
            stream = opened;
            protocol.start(opened, info);
            return opened;
          },
          delta(replyId, delta) {
            if (stream) writeDelta(stream, replyId, delta);
          },
        },
      });
      const outcome = outcomeOf(request, result, shape);
      const open = stream as EventStream | null;
      if (open) {
        if (result.failure) protocol.error(open, { code: 'llm_unavailable', message: String(outcome.body.detail) });
        else protocol.end(open, result);
      }
      await settle(outcome);
      open?.end();
    } catch (error) {
      const open = stream as EventStream | null;
      if (!open) {
        // Taken over but never opened: nobody else can answer now, so close the response.
        if (reply.sent || reply.raw.headersSent) {
          await settle(null);
          reply.raw.destroy();
          return;
        }
        // Before the stream began, a failure is an ordinary HTTP error.
        throw error;
      }
      const { problem, unexpected } = toProblem(error, request.id);
      if (unexpected) request.log.error({ error: loggableError(error) }, 'chat turn failed after streaming began');
      protocol.error(open, { code: String(problem.body.code), message: String(problem.body.detail) });
      await settle(null);
      open.end();
    }
  }

  return { streamTurn };
}

/** Idempotent replays: a stored outcome answered again, as JSON or in the stream's own frames. */
function createReplays(deps: { heartbeats: Heartbeats }) {
  const { heartbeats } = deps;

  function replay(request: FastifyRequest, reply: FastifyReply, turn: TurnRequest, protocol: StreamProtocol, outcome: Outcome) {
    if (!turn.streaming) return sendJson(reply, outcome, true);
    reply.header('idempotent-replayed', 'true');
    const named = (request.params as { id?: string } | undefined)?.id?.toLowerCase() ?? null;
    const stream = openEventStream(request, reply, heartbeats, protocol.headers);
    protocol.replay(stream, outcome, named);
    return stream.end();
  }

  return { replay };
}

export function createTurnResponder(deps: { idempotency: Idempotency; heartbeats: Heartbeats; jobs: Jobs }): TurnResponder {
  const { idempotency, jobs } = deps;
  const { streamTurn } = createStreamedAnswers(deps);
  const { replay } = createReplays(deps);

  // The whole (JSON) answer stays here: in a function of its own it would cost every turn an await.
  async function respond(request: FastifyRequest, reply: FastifyReply, turn: TurnRequest, run: (options: TurnOptions) => Promise<TurnResult>) {
    const protocol = turn.protocol ?? parleyEvents;
    const key = callerKey(turn.caller, idempotencyKeyOf(request.headers['idempotency-key']));
    const ownerId = turn.caller.ownerId;
    let renewal: NodeJS.Timeout | undefined;
    if (key) {
      const params = (request.params ?? {}) as Record<string, string>;
      const route = request.routeOptions.url ?? request.url.split('?', 1)[0]!;
      const claim = await idempotency.claim(ownerId, key, fingerprint(request.method, route, params, request.body));
      if (claim.state === 'replay') return replay(request, reply, turn, protocol, { status: claim.status, body: claim.body as Record<string, unknown> });
      // Held while this request runs; a renewal that fails is tried again at the next.
      renewal = setInterval(() => idempotency.renew(ownerId, key).catch(() => {}), CLAIM_RENEW_MS);
    }
    // Once streaming, a failure to record the key cannot change the answer: the stream still ends.
    const settle = async (outcome: Outcome | null) => {
      if (!key) return;
      if (outcome) await idempotency.complete(ownerId, key, outcome.status, outcome.body);
      else await idempotency.abandon(ownerId, key);
    };
    try {
      if (turn.streaming) return await streamTurn(request, reply, protocol, turn.shape, run, (outcome) => settle(outcome).catch(() => {}));
      const outcome = outcomeOf(request, await run({}), turn.shape);
      await settle(outcome);
      return sendJson(reply, outcome, false);
    } catch (error) {
      // Refused (not found, busy, invalid, limited) or broken: no answer to replay, so the key is free again.
      if (key) await idempotency.abandon(ownerId, key).catch(() => {});
      throw error;
    } finally {
      clearInterval(renewal);
    }
  }

  return {
    respond(request, reply, turn, run) {
      const answered = respond(request, reply, turn, run);
      // Shutdown waits for answers being written, so a stream ends with its final event.
      // (Its failure is the request's to answer, not the job's to log.)
      if (turn.streaming) jobs.track('stream', answered.catch(() => {}));
      return answered;
    },
  };
}
