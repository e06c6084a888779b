// Remote models speaking the OpenAI chat-completions API (OpenAI, OpenRouter, Groq, Ollama,
// any compatible server). Parley does its own retries, timeouts and accounting; the HTTP
// exchange itself is in openai-http.ts.
import { CANCELLED, LlmError } from './errors.js';
import { fromStatus } from './http-failures.js';
import { completion, requestBody, streamCompletion } from './openai-http.js';
import { withRetries, type RetryPolicy } from './retry.js';
import type { ChatModel, ModelAnswer, ModelRequest } from './types.js';

export interface RemoteModelSettings {
  baseUrl: string;
  apiKey: string | null;
  /** LLM_TIMEOUT_MS: the longest wait for progress (the answer, the next chunk). */
  timeoutMs: number;
  /** LLM_MAX_DURATION_MS: the longest an attempt may take, progress or not (DEFAULT_MAX_DURATION_MS when absent). */
  maxDurationMs?: number;
  retry: RetryPolicy;
}

/** LLM_MAX_DURATION_MS's default: the longest LLM_TIMEOUT_MS allowed, so either can be raised alone. */
export const DEFAULT_MAX_DURATION_MS = 600_000;

interface HttpLikeError {
  statusCode?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
}

/** Maps whatever a call threw to an LlmError; cancellation and the idle timeout take precedence. */
export function classify(error: unknown, timedOut: boolean, cancelled: boolean): LlmError {
  if (cancelled) return CANCELLED;
  if (timedOut) return new LlmError('timeout', 'The model did not answer in time', { cause: error });
  if (error instanceof LlmError) return error;
  // Errors from HTTP clients that carry the provider's answer (e.g. the AI SDK's APICallError).
  const http = error as HttpLikeError | null;
  if (http && typeof http === 'object' && typeof http.statusCode === 'number') {
    return fromStatus(http.statusCode, http.responseHeaders?.['retry-after'], http.responseBody, error);
  }
  return new LlmError('network_error', `The model call failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/**
 * One attempt's signals: the caller's (a stop, a client gone), and `expired`, which aborts when
 * `timeoutMs` passes without `touch()`, or `maxDurationMs` after the start whatever arrived (an
 * upstream can show progress without end: a stream that never finishes). The HTTP call listens
 * to both itself, rather than to a controller relaying the caller's: one abort event fewer per
 * call when thousands end at once.
 */
export function attemptController(signal: AbortSignal, settings: Pick<RemoteModelSettings, 'timeoutMs' | 'maxDurationMs'>) {
  const expiry = new AbortController();
  const expire = () => expiry.abort(new Error('timeout'));
  const idle = setTimeout(expire, settings.timeoutMs);
  const deadline = setTimeout(expire, settings.maxDurationMs ?? DEFAULT_MAX_DURATION_MS);
  return {
    signal,
    expired: expiry.signal,
    touch() {
      idle.refresh();
    },
    timedOut: () => expiry.signal.aborted,
    done() {
      clearTimeout(idle);
      clearTimeout(deadline);
    },
  };
}

export function createRemoteModel(settings: RemoteModelSettings): ChatModel {
  const url = `${settings.baseUrl}/chat/completions`;

  /**
   * One attempt. Not async, and the body is handed on rather than kept: an async frame keeps its
   * arguments until it ends, and a stream's attempt runs as long as the reply (minutes), so each
   * open stream held its whole prompt twice, as text and as JSON (docs/decisions.md, "Memory per
   * open stream, again").
   */
  function once(payload: string, signal: AbortSignal, onDelta: ((text: string) => void) | undefined, markStarted: () => void): Promise<ModelAnswer> {
    const attempt = attemptController(signal, settings);
    const call = { url, apiKey: settings.apiKey, signal: attempt.signal, expired: attempt.expired, touch: attempt.touch };
    const answer = onDelta
      ? streamCompletion(
          {
            ...call,
            onDelta(text) {
              markStarted();
              onDelta(text);
            },
          },
          payload,
        )
      : completion(call, payload);
    return answer.then(
      (result) => {
        attempt.done();
        return result;
      },
      (error: unknown) => {
        const failure = classify(error, attempt.timedOut(), signal.aborted);
        attempt.done();
        throw failure;
      },
    );
  }

  return {
    async generate(request, onDelta) {
      const { signal } = request;
      let started = false;
      // For the attempts a failure before the first text may need; once text came there is none.
      let unanswered: ModelRequest | null = request;
      return withRetries(settings.retry, signal, () => started, () =>
        once(requestBody(unanswered!, onDelta !== undefined), signal, onDelta, () => {
          started = true;
          unanswered = null;
        }),
      );
    },
  };
}
