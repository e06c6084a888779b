// Remote models. Whole answers go through the AI SDK's OpenAI-compatible provider at the
// provider level (doGenerate): Parley does its own retries, timeouts and accounting.
// Streamed answers use stream-client.ts: the SDK's stream pipeline holds ~128 KiB per open
// stream against ~20 KiB for a plain HTTP reader (docs/decisions.md).
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModelV3, LanguageModelV3Prompt, LanguageModelV3Usage } from '@ai-sdk/provider';
import { APICallError } from '@ai-sdk/provider';
import { LlmError } from './errors.js';
import { streamBody, streamCompletion } from './stream-client.js';
import { fromStatus } from './http-failures.js';
import { withRetries, type RetryPolicy } from './retry.js';
import type { ChatModel, ModelRequest, PromptMessage, Usage } from './types.js';

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


/** Maps whatever the provider or fetch threw to an LlmError. */
export function classify(error: unknown, timedOut: boolean, cancelled: boolean): LlmError {
  if (cancelled) return new LlmError('aborted', 'The request was cancelled', { cause: error });
  if (timedOut) return new LlmError('timeout', 'The model did not answer in time', { cause: error });
  if (error instanceof LlmError) return error;
  if (APICallError.isInstance(error)) {
    return fromStatus(error.statusCode, error.responseHeaders?.['retry-after'], error.responseBody, error);
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
      return await streamCompletion({
        url: `${settings.baseUrl}/chat/completions`,
        apiKey: settings.apiKey,
        body: streamBody(request),
        signal: attempt.signal,
        touch: attempt.touch,
        onDelta: (text) => {
          markStarted();
          onDelta(text);
        },
      });
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
