// A turn written as OpenAI `chat.completion.chunk` frames (§8), and the whole answer as a
// `chat.completion`. What the real clients enforce: the first delta carries the role (openai-node's
// stream helper throws without it), every chunk repeats the same id, created and model, the last
// content chunk carries finish_reason, and with include_usage exactly one `choices: []` chunk with
// the usage comes before [DONE] while every other chunk says `usage: null`.
import type { EventStream } from '../../http/sse.js';
import type { Message } from '../conversations/conversations.schemas.js';
import type { StreamFrames } from '../chat/stream-protocol.js';
import type { ChatCompletionAnswer } from './openai.schemas.js';

export interface CompletionFrame {
  /** The request's `model`, echoed as given. */
  model: string;
  /** Unix seconds when the request arrived. */
  created: number;
  includeUsage: boolean;
}

type FinishReason = 'stop' | 'length';

/** The reply's id names the completion, so a client's id leads to the stored usage. */
export const completionId = (replyId: string) => `chatcmpl-${replyId.replaceAll('-', '')}`;

function usageOf(reply: Message) {
  const prompt = reply.usage?.prompt_tokens ?? 0;
  const completion = reply.usage?.completion_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/**
 * The model does not say why it stopped, so `length` is inferred from a reply that used all the
 * tokens it was allowed (the client's limit, or its chatbot's when lower). A reply the server
 * cut short never gets here (openai-completions.ts answers it as an error); one whose client left
 * is `stop`, though nobody reads it.
 */
export function finishReasonOf(reply: Message, maxTokens: number | null): FinishReason {
  if (reply.status === 'complete' && maxTokens !== null && (reply.usage?.completion_tokens ?? 0) >= maxTokens) return 'length';
  return 'stop';
}

/** `maxTokens`: the limit the model was asked with (the call's, or its chatbot's when lower). */
export function wholeCompletion(frame: CompletionFrame, reply: Message, maxTokens: number | null): ChatCompletionAnswer {
  return {
    id: completionId(reply.id),
    object: 'chat.completion',
    created: frame.created,
    model: frame.model,
    choices: [{ index: 0, message: { role: 'assistant', content: reply.content, refusal: null }, logprobs: null, finish_reason: finishReasonOf(reply, maxTokens) }],
    usage: usageOf(reply),
  };
}

/**
 * The role chunk waits for the first token, at most this long: a fast model's first token then
 * leaves in the same write as the stream's head and role chunk (one packet, not two, before the
 * client sees text); a slower model's client gets the head and role chunk after this, long
 * before any client's timeout.
 */
const ROLE_WAITS_MS = 25;

/**
 * The frames of one streamed completion; one per request (it holds the request's id, created and
 * model). A failure after the first byte is written by the route (openai-completions.ts
 * failInStream), in the shape of its errors before it.
 */
export function openAiChunks(frame: CompletionFrame): StreamFrames {
  let id = '';
  let waiting: { stream: EventStream; timer: NodeJS.Timeout } | null = null;
  const sendRole = () => {
    if (!waiting) return;
    clearTimeout(waiting.timer);
    const { stream } = waiting;
    waiting = null;
    stream.data(chunk([choice({ role: 'assistant', content: '' })]));
  };
  const chunk = (choices: unknown[]) => {
    const body: Record<string, unknown> = { id, object: 'chat.completion.chunk', created: frame.created, model: frame.model, choices };
    if (frame.includeUsage) body.usage = null;
    return body;
  };
  const choice = (delta: Record<string, string>, finish: FinishReason | null = null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });

  return {
    start(stream, info) {
      id = completionId(info.replyId);
      waiting = { stream, timer: setTimeout(sendRole, ROLE_WAITS_MS) };
    },
    delta(stream, _replyId, text) {
      sendRole();
      if (text) stream.data(chunk([choice({ content: text })]));
    },
    end(stream, result) {
      sendRole();
      stream.data(chunk([choice({}, finishReasonOf(result.reply, result.maxTokens))]));
      if (frame.includeUsage) stream.data({ ...chunk([]), usage: usageOf(result.reply) });
      stream.done();
    },
    flush: sendRole,
  };
}
