// A lean reader of OpenAI-compatible chat-completion streams over node:http(s): one socket,
// one string buffer and a line splitter per stream, so thousands can stay open cheaply.
import http from 'node:http';
import https from 'node:https';
import { LlmError } from './errors.js';
import { fromStatus } from './http-failures.js';
import type { ModelAnswer, ModelRequest, Usage } from './types.js';

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
const MAX_ERROR_BODY = 64 * 1024;
const MAX_LINE = 1024 * 1024;

export function streamBody(request: ModelRequest): string {
  return JSON.stringify({
    model: request.model,
    messages: request.messages,
    stream: true,
    stream_options: { include_usage: true },
    ...(request.temperature !== null ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== null ? { max_tokens: request.maxTokens } : {}),
  });
}

interface StreamCall {
  url: string;
  apiKey: string | null;
  body: string;
  signal: AbortSignal;
  /** Called whenever bytes arrive (idle timeout). */
  touch: () => void;
  onDelta: (text: string) => void;
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

export function streamCompletion(call: StreamCall): Promise<ModelAnswer> {
  return new Promise<ModelAnswer>((resolve, reject) => {
    const url = new URL(call.url);
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': String(Buffer.byteLength(call.body)) };
    if (call.apiKey) headers.authorization = `Bearer ${call.apiKey}`;
    const state = { text: '', usage: null as Usage | null, finished: false };
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      request.destroy();
      reject(error);
    };
    const onAbort = () => fail(new LlmError('aborted', 'The request was cancelled'));
    const request = (secure ? https : http).request(url, { method: 'POST', headers, agent: secure ? agents.https : agents.http }, (response) => {
      call.touch();
      if (response.statusCode !== 200) return readFailure(response, fail);
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (part: string) => {
        if (settled) return;
        call.touch();
        buffer += part;
        let newline: number;
        try {
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).replace(/\r$/, '');
            buffer = buffer.slice(newline + 1);
            if (line.startsWith('data:')) applyChunk(line.slice(5).trim(), state, call.onDelta);
          }
          if (buffer.length > MAX_LINE) throw new LlmError('stream_error', 'The model stream sent an oversized event');
        } catch (error) {
          fail(error);
        }
      });
      response.on('end', () => {
        if (settled) return;
        // A stream that stops without saying it finished was cut, not completed.
        if (!state.finished) return fail(new LlmError('stream_error', 'The model stream ended before the reply was complete'));
        settled = true;
        call.signal.removeEventListener('abort', onAbort);
        resolve({ text: state.text, usage: state.usage });
      });
      response.on('error', (error) => fail(fromStatus(200, undefined, undefined, error)));
      response.on('close', () => {
        if (!response.complete) fail(fromStatus(200, undefined, undefined, new Error('connection closed mid-answer')));
      });
    });
    request.on('error', (error) => fail(settled ? error : fromStatus(undefined, undefined, undefined, error)));
    if (call.signal.aborted) return onAbort();
    call.signal.addEventListener('abort', onAbort, { once: true });
    request.end(call.body);
  });
}
