// OpenAI-compatible chat completions over node:http(s), streamed or whole. Lean on purpose:
// per call it costs a fraction of the AI SDK's CPU, and an open stream holds one socket, one
// string buffer and a line splitter (measurements in docs/decisions.md).
import http from 'node:http';
import https from 'node:https';
import { CANCELLED, LlmError } from './errors.js';
import { sharedLookup } from './host-lookup.js';
import { fromStatus } from './http-failures.js';
import type { ModelAnswer, ModelRequest, Usage } from './types.js';

const lookup = sharedLookup();
const agents = { http: new http.Agent({ keepAlive: true, lookup }), https: new https.Agent({ keepAlive: true, lookup }) };
const MAX_ERROR_BODY = 64 * 1024;
const MAX_LINE = 1024 * 1024;
/**
 * More text than any model writes in one answer (200,000 tokens are under 1 MB). An answer past it
 * is a fault (a proxy that never ends its body, a model stuck in a loop): unbounded, a whole answer
 * reached V8's longest string (512 MB) and the exception took the process down.
 */
export const MAX_ANSWER_CHARS = 4_000_000;
/** A whole answer's JSON: its text escaped (\uXXXX at worst) and the envelope. */
const MAX_ANSWER_BODY = 6 * MAX_ANSWER_CHARS + MAX_ERROR_BODY;
const NOT_BLANK = /\S/u;
const tooLong = () => new LlmError('rejected', `The model's answer passed ${MAX_ANSWER_CHARS.toLocaleString('en')} characters`);

export function requestBody(request: ModelRequest, stream: boolean): string {
  return JSON.stringify({
    model: request.model,
    messages: request.messages,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...(request.temperature !== null ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== null ? { max_tokens: request.maxTokens } : {}),
    ...(request.stop && request.stop.length > 0 ? { stop: request.stop } : {}),
  });
}

/**
 * A model call, without its body: the body (the whole prompt, up to the context budget) goes to
 * `post` apart and is sent outside every closure the call keeps, so a stream that runs for minutes
 * does not hold its prompt (docs/decisions.md, "Memory per open stream, again").
 */
export interface Call {
  url: string;
  apiKey: string | null;
  /** The caller's: a stop, a client gone, shutdown. */
  signal: AbortSignal;
  /** The attempt's idle timeout. */
  expired?: AbortSignal;
  /**
   * Called on progress (idle timeout): the answer's head, each `data:` event of a stream, a whole
   * answer's bytes that are not blank. Comments (`: keep-alive`, `: OPENROUTER PROCESSING`) and
   * whitespace are not: an upstream that sends only those would hold the call forever.
   */
  touch: () => void;
}

interface StreamCall extends Call {
  onDelta: (text: string) => void;
}

interface Completion {
  error?: { message?: string };
  choices?: Array<{
    message?: { content?: string | null; refusal?: string | null; tool_calls?: Array<{ function?: { arguments?: string } }> };
  }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/** A whole answer as the structured-output modes need it: the text, a forced tool call's arguments, a refusal. */
export interface CompletionMessage {
  content: string | null;
  toolArguments: string | null;
  refusal: string | null;
  usage: Usage | null;
}

interface Chunk {
  error?: { message?: string };
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/** Applies one `data:` payload; true once the stream said it is finished. */
function applyChunk(payload: string, state: { text: string; usage: Usage | null; finished: boolean }, onDelta: (text: string) => void) {
  if (payload === '[DONE]') {
    state.finished = true;
    return;
  }
  let chunk: Chunk;
  try {
    chunk = JSON.parse(payload) as Chunk;
  } catch {
    throw new LlmError('stream_error', 'The model stream sent something that is not JSON');
  }
  if (chunk.error) throw new LlmError('stream_error', `The model stream failed: ${chunk.error.message ?? 'unknown error'}`);
  const choice = chunk.choices?.[0];
  const delta = choice?.delta?.content;
  if (delta) {
    if (state.text.length + delta.length > MAX_ANSWER_CHARS) throw tooLong();
    state.text += delta;
    onDelta(delta);
  }
  if (choice?.finish_reason) state.finished = true;
  if (chunk.usage) state.usage = { promptTokens: chunk.usage.prompt_tokens ?? 0, completionTokens: chunk.usage.completion_tokens ?? 0 };
}

function readFailure(response: http.IncomingMessage, reject: (error: unknown) => void) {
  let body = '';
  response.setEncoding('utf8');
  response.on('data', (part: string) => {
    if (body.length < MAX_ERROR_BODY) body += part;
  });
  const retryAfter = response.headers['retry-after'];
  response.on('end', () => reject(fromStatus(response.statusCode, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body, null)));
  response.on('error', (error) => reject(fromStatus(response.statusCode, undefined, body, error)));
}

type Settle<T> = { resolve: (answer: T) => void; fail: (error: unknown) => void; settled: () => boolean };

/** Posts the body and hands a 200 answer to `onOk`; anything else becomes an LlmError. */
function post<T>(call: Call, payload: string, onOk: (response: http.IncomingMessage, settle: Settle<T>) => void): Promise<T> {
  const length = String(Buffer.byteLength(payload));
  let ready: http.ClientRequest | null = null;
  const answer = new Promise<T>((resolve, reject) => {
    const url = new URL(call.url);
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': length };
    if (call.apiKey) headers.authorization = `Bearer ${call.apiKey}`;
    let settled = false;
    const finish = () => {
      settled = true;
      call.signal.removeEventListener('abort', onAbort);
      call.expired?.removeEventListener('abort', onAbort);
    };
    const settle: Settle<T> = {
      resolve(answer) {
        if (settled) return;
        finish();
        resolve(answer);
      },
      fail(error) {
        if (settled) return;
        finish();
        request.destroy();
        reject(error);
      },
      settled: () => settled,
    };
    // The socket closes at once; the rejection (and every await it wakes) waits for the loop's next
    // check phase, so when thousands of clients leave together every model call is closed first.
    // No listener to remove: the one that fired was `once`, the other dies with its attempt.
    const onAbort = () => {
      if (settled) return;
      settled = true;
      request.destroy();
      setImmediate(reject, CANCELLED);
    };
    const request = (secure ? https : http).request(url, { method: 'POST', headers, agent: secure ? agents.https : agents.http }, (response) => {
      call.touch();
      if (response.statusCode !== 200) return readFailure(response, settle.fail);
      // Only a call still running builds its error: an aborted one (thousands when clients leave together) ended already.
      response.on('close', () => {
        if (!response.complete && !settled) settle.fail(fromStatus(200, undefined, undefined, new Error('connection closed mid-answer')));
      });
      response.on('error', (error) => {
        if (!settled) settle.fail(fromStatus(200, undefined, undefined, error));
      });
      onOk(response, settle);
    });
    request.on('error', (error) => {
      if (!settled) settle.fail(fromStatus(undefined, undefined, undefined, error));
    });
    if (call.signal.aborted || call.expired?.aborted) return onAbort();
    call.signal.addEventListener('abort', onAbort, { once: true });
    call.expired?.addEventListener('abort', onAbort, { once: true });
    // The head as a write of its own, as for SSE (http/sse.ts): flattened once written, not kept
    // in pieces while the answer streams.
    request.flushHeaders();
    ready = request;
  });
  // Here, not in the executor: a variable any closure of the call uses lives as long as the call.
  (ready as http.ClientRequest | null)?.end(payload);
  return answer;
}

/** Reads a whole JSON answer and hands it to `onParsed`; a body that is not JSON or carries an error fails. */
function wholeAnswer<T>(call: Call, payload: string, onParsed: (parsed: Completion) => T): Promise<T> {
  return post<T>(call, payload, (response, settle) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (part: string) => {
      if (settle.settled()) return;
      if (NOT_BLANK.test(part)) call.touch();
      if (body.length + part.length > MAX_ANSWER_BODY) return settle.fail(tooLong());
      body += part;
    });
    response.on('end', () => {
      let parsed: Completion;
      try {
        parsed = JSON.parse(body) as Completion;
      } catch {
        return settle.fail(new LlmError('rejected', 'The model provider answered something that is not JSON'));
      }
      if (parsed.error) return settle.fail(new LlmError('server_error', `The model provider failed: ${parsed.error.message ?? 'unknown error'}`));
      settle.resolve(onParsed(parsed));
    });
  });
}

const usageOf = (parsed: Completion): Usage | null =>
  parsed.usage ? { promptTokens: parsed.usage.prompt_tokens ?? 0, completionTokens: parsed.usage.completion_tokens ?? 0 } : null;

/** A whole answer. */
export function completion(call: Call, payload: string): Promise<ModelAnswer> {
  return wholeAnswer(call, payload, (parsed) => ({ text: parsed.choices?.[0]?.message?.content ?? '', usage: usageOf(parsed) }));
}

/** A whole answer with the first tool call's arguments, for structured output (structured.ts). */
export function completionMessage(call: Call, payload: string): Promise<CompletionMessage> {
  return wholeAnswer(call, payload, (parsed) => {
    const message = parsed.choices?.[0]?.message;
    const toolArguments = message?.tool_calls?.[0]?.function?.arguments;
    return {
      content: typeof message?.content === 'string' ? message.content : null,
      toolArguments: typeof toolArguments === 'string' ? toolArguments : null,
      refusal: typeof message?.refusal === 'string' && message.refusal !== '' ? message.refusal : null,
      usage: usageOf(parsed),
    };
  });
}

/** A streamed answer: each piece of text goes to `onDelta` as it arrives. */
export function streamCompletion(call: StreamCall, payload: string): Promise<ModelAnswer> {
  return post<ModelAnswer>(call, payload, (response, settle) => {
    const state = { text: '', usage: null as Usage | null, finished: false };
    let buffer = '';
    response.setEncoding('utf8');
    response.on('data', (part: string) => {
      if (settle.settled()) return;
      buffer += part;
      let newline: number;
      let progressed = false;
      try {
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, '');
          buffer = buffer.slice(newline + 1);
          if (!line.startsWith('data:')) continue;
          applyChunk(line.slice(5).trim(), state, call.onDelta);
          progressed = true;
        }
        // Any chunk counts, not only text: a reasoning model's chunks carry its reasoning, or nothing, before the first word.
        if (progressed) call.touch();
        if (buffer.length > MAX_LINE) throw new LlmError('stream_error', 'The model stream sent an oversized event');
      } catch (error) {
        settle.fail(error);
      }
    });
    response.on('end', () => {
      // A stream that stops without saying it finished was cut, not completed.
      if (!state.finished) return settle.fail(new LlmError('stream_error', 'The model stream ended before the reply was complete'));
      settle.resolve({ text: state.text, usage: state.usage });
    });
  });
}
