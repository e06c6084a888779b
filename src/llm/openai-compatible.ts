// Remote models through the AI SDK's OpenAI-compatible provider, called at the
// provider level (doStream/doGenerate): Parley does its own retries, timeouts and
// accounting, so the higher-level helpers would only add layers per token.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModelV3, LanguageModelV3Prompt, LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider';
import { APICallError } from '@ai-sdk/provider';
import { LlmError } from './errors.js';
import { parseRetryAfter, withRetries, type RetryPolicy } from './retry.js';
import type { ChatModel, ModelAnswer, ModelRequest, PromptMessage, Usage } from './types.js';

export interface RemoteModelSettings {
  name: string;
  baseUrl: string;
  apiKey: string | null;
  timeoutMs: number;
  retry: RetryPolicy;
}

function toPrompt(messages: PromptMessage[]): LanguageModelV3Prompt {
  return messages.map((message) =>
    message.role === 'system'
      ? { role: 'system', content: message.content }
      : { role: message.role, content: [{ type: 'text', text: message.content }] },
  );
}

function toUsage(usage: LanguageModelV3Usage | undefined): Usage | null {
  const prompt = usage?.inputTokens.total;
  const completion = usage?.outputTokens.total;
  if (prompt === undefined && completion === undefined) return null;
  return { promptTokens: prompt ?? 0, completionTokens: completion ?? 0 };
}

function describeBody(body: string | undefined): string {
  return (body ?? '').slice(0, 300);
}

/** Maps whatever the provider or fetch threw to an LlmError. */
export function classify(error: unknown, timedOut: boolean, cancelled: boolean): LlmError {
  if (error instanceof LlmError) return error;
  if (cancelled) return new LlmError('aborted', 'The request was cancelled', { cause: error });
  if (timedOut) return new LlmError('timeout', 'The model did not answer in time', { cause: error });
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    const retryAfterMs = parseRetryAfter(error.responseHeaders?.['retry-after']);
    const body = describeBody(error.responseBody);
    if (status === 429 && /insufficient_quota/.test(body)) {
      return new LlmError('quota_exceeded', 'The model provider reports the account is out of quota', { status, cause: error });
    }
    if (status === 429) return new LlmError('rate_limited', 'The model provider is rate limiting', { status, retryAfterMs, cause: error });
    if (status === 408 || (status !== undefined && status >= 500)) {
      return new LlmError('server_error', `The model provider failed (${status})`, { status, retryAfterMs, cause: error });
    }
    // No status, or a 2xx whose body broke off (the connection dropped mid-answer).
    if (status === undefined || (status >= 200 && status < 300)) {
      return new LlmError('network_error', 'The model provider could not be reached or cut the answer short', { status, cause: error });
    }
    return new LlmError('rejected', `The model provider refused the request (${status}): ${body}`, { status, cause: error });
  }
  return new LlmError('network_error', `The model call failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** Aborts when the caller cancels or when `timeoutMs` passes without `touch()`. */
function attemptController(signal: AbortSignal, timeoutMs: number) {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const expire = () => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  };
  let timer = setTimeout(expire, timeoutMs);
  return {
    signal: controller.signal,
    touch() {
      clearTimeout(timer);
      timer = setTimeout(expire, timeoutMs);
    },
    timedOut: () => timedOut,
    done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      // Releases the upstream connection if the caller stopped reading.
      if (!controller.signal.aborted) controller.abort(new Error('finished'));
    },
  };
}

export function createRemoteModel(settings: RemoteModelSettings): ChatModel {
  const provider = createOpenAICompatible({
    name: settings.name,
    baseURL: settings.baseUrl,
    apiKey: settings.apiKey ?? undefined,
    includeUsage: true,
  });
  const models = new Map<string, LanguageModelV3>();
  const modelFor = (id: string) => {
    let model = models.get(id);
    if (!model) models.set(id, (model = provider.chatModel(id)));
    return model;
  };

  async function once(request: ModelRequest, onDelta: ((text: string) => void) | undefined, markStarted: () => void) {
    const attempt = attemptController(request.signal, settings.timeoutMs);
    const options = {
      prompt: toPrompt(request.messages),
      temperature: request.temperature ?? undefined,
      maxOutputTokens: request.maxTokens ?? undefined,
      abortSignal: attempt.signal,
    };
    try {
      if (!onDelta) {
        const result = await modelFor(request.model).doGenerate(options);
        const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
        return { text, usage: toUsage(result.usage) };
      }
      const { stream } = await modelFor(request.model).doStream(options);
      return await readStream(stream, attempt.touch, onDelta, markStarted);
    } catch (error) {
      throw classify(error, attempt.timedOut(), request.signal.aborted);
    } finally {
      attempt.done();
    }
  }

  return {
    async generate(request, onDelta) {
      let started = false;
      return withRetries(settings.retry, request.signal, () => started, () =>
        once(request, onDelta, () => {
          started = true;
        }),
      );
    },
  };
}

async function readStream(
  stream: ReadableStream<LanguageModelV3StreamPart>,
  touch: () => void,
  onDelta: (text: string) => void,
  markStarted: () => void,
): Promise<ModelAnswer> {
  let text = '';
  let usage: Usage | null = null;
  let finished = false;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value: part } = await reader.read();
      if (done) break;
      touch();
      if (part.type === 'text-delta' && part.delta) {
        text += part.delta;
        markStarted();
        onDelta(part.delta);
      } else if (part.type === 'error') {
        throw new LlmError('stream_error', `The model stream failed: ${errorText(part.error)}`, { cause: part.error });
      } else if (part.type === 'finish') {
        finished = true;
        usage = toUsage(part.usage);
        if (part.finishReason.unified === 'error') throw new LlmError('stream_error', 'The model stream ended with an error');
      }
    }
  } finally {
    reader.releaseLock();
  }
  // A stream that stops without its finish event was cut, not completed.
  if (!finished) throw new LlmError('stream_error', 'The model stream ended before the reply was complete');
  return { text, usage };
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object' && 'message' in error) return String((error as { message: unknown }).message);
  return typeof error === 'string' ? error : 'unknown error';
}
