// POST /v1/chat/completions over the one turn engine (services.chat.answer): the request is
// checked and translated, the turn runs as every other channel's does, and its answer is written
// as a chat.completion or as chunk frames. Nothing is stored but the reply's usage (a turn of
// `answer` keeps no conversation: the client sends the whole conversation each time).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../../errors/app-error.js';
import { letGoOfBody } from '../../http/body-limits.js';
import { loggableError } from '../../http/hooks.js';
import { openEventStream, type EventStream, type Heartbeats } from '../../http/sse.js';
import type { Jobs } from '../../jobs/jobs.js';
import type { PromptMessage } from '../../llm/types.js';
import { handOver } from '../../lib/hand-over.js';
import { withEndUser } from '../api-keys/end-user.js';
import type { KeyCredentials } from '../api-keys/key-credentials.js';
import { principalOf } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import type { ChatService } from '../chat/chat.service.js';
import { requestClientWatch } from '../chat/client-watch.js';
import { deltaWriter, type StreamFrames } from '../chat/stream-protocol.js';
import type { TurnOptions, TurnResult } from '../chat/turn-engine.js';
import { modelFailed, ModelNotFound, toOpenAiFailure, Unsupported } from './openai-errors.js';
import { openAiChunks, wholeCompletion, type CompletionFrame } from './openai-stream.js';
import type { ChatCompletionInput, ChatMessageInput } from './openai.schemas.js';
import type { ModelTarget, OpenAiModels } from './openai.service.js';

export interface CompletionsDeps {
  chat: Pick<ChatService, 'answer'>;
  models: OpenAiModels;
  /** For a key taken from the recent lookups (the answer's first statement checks it). */
  keys: Pick<KeyCredentials, 'confirm' | 'forget'>;
  heartbeats: Heartbeats;
  jobs: Pick<Jobs, 'track'>;
}

type Run = (options: TurnOptions) => Promise<TurnResult>;

const textOf = (content: ChatMessageInput['content']) => (typeof content === 'string' ? content : content.map((part) => part.text).join('\n'));

/** Refuses what Parley cannot honour, rather than answer as if it had (§8). */
function checkSupported(body: ChatCompletionInput): void {
  if (body.n != null && body.n > 1) throw new Unsupported('n', 'Only n = 1 is supported: Parley answers with one choice.');
  // Tools the model is told not to call ask for a text answer, which is what the chatbot gives:
  // the AI SDK sends its call's tools whatever its toolChoice.
  if (body.tools != null && body.tools.length > 0 && body.tool_choice !== 'none') throw new Unsupported('tools', 'This chatbot offers no tools.');
  if (body.functions != null && body.functions.length > 0 && body.function_call !== 'none') throw new Unsupported('functions', 'This chatbot offers no functions.');
  checkAnswerForm(body);
}

/**
 * Forms of answer other than the chatbot's text. Answered as text, a client asking for them fails
 * after a paid model call, on a reply it cannot read (the SDK's parse() on prose, absent logprobs).
 */
function checkAnswerForm(body: ChatCompletionInput): void {
  if (body.response_format != null && body.response_format.type !== 'text') {
    throw new Unsupported('response_format', 'This chatbot answers in text only: JSON mode and JSON schemas are not supported.');
  }
  if (body.logprobs === true || (body.top_logprobs != null && body.top_logprobs > 0)) {
    throw new Unsupported(body.logprobs === true ? 'logprobs' : 'top_logprobs', 'Parley gives no log-probabilities.');
  }
  if (body.tool_choice != null && body.tool_choice !== 'none' && body.tool_choice !== 'auto') {
    throw new Unsupported('tool_choice', 'This chatbot offers no tools: tool_choice may only be "none" or "auto".');
  }
  if (body.modalities != null && body.modalities.some((modality) => modality !== 'text')) throw new Unsupported('modalities', 'This chatbot answers in text only.');
  if (body.audio != null) throw new Unsupported('audio', 'This chatbot answers in text only.');
}

/** OpenAI's `developer` role is its newer name for `system`; text parts are joined. */
function promptMessages(messages: ChatMessageInput[]): PromptMessage[] {
  if (messages[messages.length - 1]?.role !== 'user') throw new Unsupported('messages', 'The last message must be the user\'s: it is the one answered.');
  return messages.map((message) => ({ role: message.role === 'developer' ? 'system' : message.role, content: textOf(message.content) }));
}

/**
 * A reply the server stopped (shutdown, its owner deactivated) while its client still waits: what
 * was produced is not the model's answer, and nothing keeps it to be read later (§8: never a
 * silent end that looks like success). Nothing reached the client as an answer, so another try,
 * on another instance, may have the whole of it.
 */
const cutShort = () => new AppError('service_unavailable', 'The server stopped this answer before the model finished; try again.');

/**
 * The chatbot of a key whose chatbot went (or a race with its deletion) is a model that no longer
 * exists. A key the answer's statement found gone is looked up afresh next time.
 */
const answerFailed = (model: string, caller: Principal, keys: CompletionsDeps['keys']) => (error: unknown) => {
  if (isAppError(error) && error.code === 'invalid_token') keys.forget(caller);
  throw isAppError(error) && error.code === 'not_found' ? new ModelNotFound(model) : error;
};

/** An error after the first byte: one error frame, and the stream ends without [DONE]. */
function failInStream(request: FastifyRequest, stream: EventStream, protocol: StreamFrames, error: unknown) {
  protocol.flush?.(stream);
  const { failure, unexpected } = toOpenAiFailure(error, request.id);
  if (unexpected) request.log.error({ error: loggableError(error) }, 'chat completion failed after streaming began');
  stream.data(failure.body);
  stream.end();
}

/**
 * The stream opens when the turn starts (the model request has left), with the role chunk:
 * a refusal before then is an ordinary HTTP error in OpenAI's shape.
 */
async function streamed(request: FastifyRequest, reply: FastifyReply, heartbeats: Heartbeats, protocol: StreamFrames, run: Run): Promise<void> {
  let stream: EventStream | null = null;
  const writeDelta = deltaWriter(protocol);
  const open = () => stream as EventStream | null;
  try {
    const result = await run({
      events: {
        start(info) {
          const opened = openEventStream(request, reply, heartbeats);
          stream = opened;
          protocol.start(opened, info);
          return opened;
        },
        delta(replyId, text) {
          if (stream) writeDelta(stream, replyId, text);
        },
      },
    });
    const current = open();
    if (!current) throw result.failure ? modelFailed(result.failure.failure) : new AppError('internal_error', 'The turn ended without starting');
    if (result.failure) return failInStream(request, current, protocol, modelFailed(result.failure.failure));
    if (result.reply.status === 'interrupted') return failInStream(request, current, protocol, cutShort());
    protocol.end(current, result);
    current.end();
  } catch (error) {
    const current = open();
    if (current) return failInStream(request, current, protocol, error);
    // Taken over but never opened: nobody else can answer now, so close the response.
    if (reply.sent || reply.raw.headersSent) return void reply.raw.destroy();
    throw error;
  }
}

export function createCompletions(deps: CompletionsDeps) {
  const { chat, models, keys, heartbeats, jobs } = deps;

  /** A client that leaves (an SDK's timeout, which it then retries) stops the model call: nothing is kept for it to read later. */
  async function whole(request: FastifyRequest, reply: FastifyReply, frame: CompletionFrame, run: Run) {
    // Read whole by now; the model may take seconds to answer.
    letGoOfBody(request);
    const result = await run({ client: requestClientWatch(request, reply) });
    if (result.failure) throw modelFailed(result.failure.failure);
    // A client that left stopped the reply itself: nobody is there to tell, nor anything to log.
    const left = request.raw.socket?.destroyed === true || request.raw.socket?.readableEnded === true;
    if (result.reply.status === 'interrupted' && !left) throw cutShort();
    return reply.code(200).type('application/json').send(wholeCompletion(frame, result.reply, result.maxTokens));
  }

  /** The chatbot `model` names; anything read to find it needs the key known to be valid first. */
  async function resolveModel(caller: Principal, model: string): Promise<{ actor: Principal; target: ModelTarget }> {
    const target = models.shortcut(caller, model);
    if (target) return { actor: caller, target };
    const actor = await keys.confirm(caller);
    return { actor, target: await models.resolve(actor, model) };
  }

  /** Checks, end user, model: everything that can refuse the request before the model is asked. */
  async function prepare(caller: Principal, body: ChatCompletionInput) {
    checkSupported(body);
    const messages = promptMessages(body.messages);
    const { actor, target } = await resolveModel(withEndUser(caller, body.user ?? undefined, { required: false }), body.model);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
    const stop = body.stop == null ? null : typeof body.stop === 'string' ? [body.stop] : body.stop;
    const model = body.model;
    // The caller's whole conversation, which `run` (alive as long as the answer) must not keep.
    const take = handOver({ chatbotId: target.chatbotId, slug: target.slug ?? null, model: target.model, messages, temperature: body.temperature ?? null, maxTokens, stop });
    const run: Run = (options) => chat.answer(actor, take(), options).catch(answerFailed(model, actor, keys));
    const frame: CompletionFrame = { model, created: Math.floor(Date.now() / 1000), includeUsage: body.stream_options?.include_usage === true };
    return { run, frame };
  }

  return {
    // Not async: its frame would keep `body` for as long as the answer runs.
    complete(request: FastifyRequest, reply: FastifyReply, body: ChatCompletionInput) {
      const streaming = body.stream === true;
      return prepare(principalOf(request), body).then(({ run, frame }) => {
        if (!streaming) return whole(request, reply, frame, run);
        const answered = streamed(request, reply, heartbeats, openAiChunks(frame), run);
        // Shutdown waits for streams being written, so each ends with its final frame.
        jobs.track('stream', answered.catch(() => {}));
        return answered;
      });
    },
  };
}
