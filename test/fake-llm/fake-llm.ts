/**
 * A fake OpenAI-compatible LLM server for tests and benchmarks.
 *
 * A real HTTP server (node:http only) that answers `POST /v1/chat/completions` (streaming and not)
 * and `GET /v1/models` the way OpenAI does, close enough for `@ai-sdk/openai-compatible`, with
 * deterministic replies, token usage from gpt-tokenizer, configurable latency and injectable faults.
 *
 * It is built to stay cheap: benchmarks share the CPU with it and may hold thousands of streams open.
 * One small state object per request, chunk JSON assembled from precomputed string pieces, all
 * chunks written in one go when there is no delay, one timer per stream when there is.
 *
 * Times (`receivedAt`, `closedAt`) are epoch milliseconds taken from a monotonic clock:
 * `performance.timeOrigin + performance.now()`. They compare with `Date.now()` (and across processes)
 * but never jump with wall-clock adjustments.
 *
 * Only chat-completions requests are recorded and counted: every `POST /v1/chat/completions`, malformed
 * ones included (their `body` is null and they get a 400 without consuming a queued fault).
 *
 * Structured-output requests (`response_format` json_schema/json_object, or `tools` with a forcing
 * `tool_choice`; see structured.ts) are answered the way OpenAI answers them, with the JSON that
 * `setExtraction` scripts (every schema key null when nothing is scripted), streamed or not, faults,
 * delays and usage included. `rejectModes` makes the fake a provider that lacks some of those modes:
 * such a request gets a 400 without consuming a queued fault.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from 'gpt-tokenizer';
import { forcedToolName, nothingStated, refusalOf, scriptedText, structuredModeOf, type StructuredMode } from './structured.js';

export type { StructuredMode } from './structured.js';

export type Fault =
  /** Answer this status with an OpenAI-style `{error:{message,type,code}}` (or `body`: a string is sent verbatim as text/plain, anything else as JSON), plus Retry-After when set. */
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  /** 429 `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`. */
  | { kind: 'quota' }
  /** Read the request, never answer (until the client goes away or close()). */
  | { kind: 'hang' }
  /** Streaming: headers, role chunk and N content chunks (fewer if the reply is shorter), then the socket is destroyed. Non-streaming: destroyed without an answer. */
  | { kind: 'drop'; afterChunks: number }
  /** Streaming: N content chunks, then `data: {"error":{"message":"upstream exploded","type":"server_error"}}` and a clean end, no [DONE]. Non-streaming: a 500. */
  | { kind: 'stream-error'; afterChunks: number }
  /**
   * An answer that never ends, as from a broken proxy or a model in a loop: streaming, content
   * chunks of 64 KB back to back; non-streaming, a JSON body whose content string never closes.
   * It stops only when the client goes away (or close()); `sent()` tells how many bytes went out.
   */
  | { kind: 'endless' };

/** As an OpenAI model answers with `stop`: the text before the earliest of the sequences. */
function beforeStop(text: string, stop: unknown): string {
  const sequences = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string' && s !== '') : [];
  let end = text.length;
  for (const sequence of sequences) {
    const at = text.indexOf(sequence);
    if (at !== -1 && at < end) end = at;
  }
  return text.slice(0, end);
}

export interface RecordedRequest {
  path: string;
  method: string;
  /** Parsed JSON body; null when it was not valid JSON (or the client left before sending it all). */
  body: any;
  model: string;
  stream: boolean;
  /** The structured-output mode the request asks for; null for an ordinary chat request. */
  structured: StructuredMode | null;
  /** Content flattened to text when it arrives as parts (text parts concatenated, others ignored). */
  messages: Array<{ role: string; content: string }>;
  authorization: string | undefined;
  /** Epoch ms, monotonic: performance.timeOrigin + performance.now(). */
  receivedAt: number;
  /** Same clock as receivedAt; when the response/connection ended for any reason. */
  closedAt: number | null;
  /** The connection closed before the answer was complete and not because a `drop` fault cut it (client left, or close() was called). */
  aborted: boolean;
  /** The complete answer (including a deliberate error answer) was sent. */
  finished: boolean;
}

export interface FakeLlmOptions {
  /** Default 0 (random). The server listens on 127.0.0.1. */
  port?: number;
  /** Default: `You said: ${first 200 characters of the last user message}`. */
  reply?: (request: RecordedRequest) => string;
  /** Delay before the first content chunk (streaming) or before the whole answer (non-streaming). Default 0. */
  firstTokenDelayMs?: number;
  /** Delay between content chunks. Non-streaming answers wait as long as the stream would have taken. Default 0. */
  chunkDelayMs?: number;
  /** Default true. When false `requests` stays empty; counters still work. */
  record?: boolean;
  /** The answer to structured requests: an object is sent as JSON, a string verbatim (malformed JSON too). Default: every schema key null. */
  extraction?: (request: RecordedRequest) => unknown;
}

export interface FakeLlm {
  /** Base URL ending in /v1, e.g. http://127.0.0.1:43123/v1 */
  url: string;
  requests: RecordedRequest[];
  fail(...faults: Fault[]): void;
  setReply(fn: FakeLlmOptions['reply']): void;
  /** Scripts the answer to structured requests (undefined: back to the one given at start). */
  setExtraction(fn: FakeLlmOptions['extraction']): void;
  /** Structured modes answered with a 400, as by a provider that does not support them (replaces the previous list). */
  rejectModes(modes: readonly StructuredMode[]): void;
  setDelays(delays: { firstTokenDelayMs?: number; chunkDelayMs?: number }): void;
  /** Clears requests, queued faults and rejected modes, restores the reply, extraction and delays given at start. Counters are cumulative and kept. */
  reset(): void;
  openResponses(): number;
  /** Bytes sent by `endless` faults so far. */
  endlessBytes(): number;
  /** `lastClosedAt`: when the last connection closed (epoch ms, as `closedAt`), null before any did. */
  stats(): { received: number; open: number; closed: number; lastClosedAt: number | null };
  waitFor(predicate: (requests: RecordedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const MODEL_ID = 'fake-model';
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const STREAM_ERROR_EVENT = 'data: {"error":{"message":"upstream exploded","type":"server_error"}}\n\n';
const DONE_EVENT = 'data: [DONE]\n\n';
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
};

const now = (): number => performance.timeOrigin + performance.now();

const defaultReply = (request: RecordedRequest): string => {
  let last = '';
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i];
    if (message && message.role === 'user') {
      last = message.content;
      break;
    }
  }
  return `You said: ${last.slice(0, 200)}`;
};

// Token counts repeat a lot in benchmarks (same prompts, same replies): a small bounded memo.
const tokenCache = new Map<string, number>();
const NO_SPECIAL = { disallowedSpecial: new Set<string>() };
function tokens(text: string): number {
  if (text.length === 0) return 0;
  const cached = tokenCache.get(text);
  if (cached !== undefined) return cached;
  let count: number;
  try {
    count = countTokens(text, NO_SPECIAL);
  } catch {
    count = Math.ceil(text.length / 4);
  }
  if (tokenCache.size >= 2000) tokenCache.clear();
  tokenCache.set(text, count);
  return count;
}

function usageOf(messages: RecordedRequest['messages'], reply: string) {
  const prompt = tokens(messages.map((m) => m.content).join('\n')) + 3 * messages.length;
  const completion = tokens(reply);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function flattenContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let text = '';
    for (const part of content) {
      if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        const type = (part as { type?: unknown }).type;
        if (type === undefined || type === 'text') text += (part as { text: string }).text;
      }
    }
    return text;
  }
  return '';
}

/** Splits into words keeping each word's trailing whitespace; the pieces concatenate to the input exactly. */
function splitWords(text: string): string[] {
  if (text.length === 0) return [];
  const words = text.match(/\s*\S+\s*/g);
  return words && words.length > 0 ? words : [text];
}

function errorBody(status: number): { error: { message: string; type: string; code: string | number } } {
  if (status === 429) {
    return { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } };
  }
  const message = `Fake LLM error: ${status} ${http.STATUS_CODES[status] ?? ''}`.trim();
  if (status >= 500) return { error: { message, type: 'server_error', code: status } };
  return { error: { message, type: 'invalid_request_error', code: status } };
}

interface Pending {
  record: RecordedRequest;
  res: http.ServerResponse;
  timer: NodeJS.Timeout | null;
  closed: boolean;
  droppedByUs: boolean;
}

export async function startFakeLlm(options: FakeLlmOptions = {}): Promise<FakeLlm> {
  const record = options.record ?? true;
  const initialReply = options.reply ?? defaultReply;
  const initialFirst = options.firstTokenDelayMs ?? 0;
  const initialChunk = options.chunkDelayMs ?? 0;

  let reply = initialReply;
  let extraction = options.extraction;
  const rejectedModes = new Set<StructuredMode>();
  let firstTokenDelayMs = initialFirst;
  let chunkDelayMs = initialChunk;
  const faults: Fault[] = [];
  const requests: RecordedRequest[] = [];
  const open = new Set<Pending>();
  let received = 0;
  let closedCount = 0;
  let lastClosedAt: number | null = null;
  let idCounter = 0;
  let closing: Promise<void> | null = null;
  let endlessBytes = 0;

  const sendJson = (res: http.ServerResponse, status: number, payload: unknown, headers?: Record<string, string>): void => {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const schedule = (p: Pending, delay: number, fn: () => void): void => {
    if (p.closed) return;
    if (delay <= 0) {
      fn();
      return;
    }
    p.timer = setTimeout(() => {
      p.timer = null;
      if (!p.closed) fn();
    }, delay);
  };

  const dropConnection = (p: Pending): void => {
    p.droppedByUs = true;
    p.res.socket?.destroy();
    p.res.destroy();
  };

  /** The `endless` fault: 64 KB pieces of content, written as fast as the client reads them, until it leaves. */
  const sendEndless = (p: Pending): void => {
    const { res, record: r } = p;
    const piece = 'endless '.repeat(8192);
    const head = `data: {"id":"chatcmpl-fake-${++idCounter}","object":"chat.completion.chunk","created":0,"model":${JSON.stringify(r.model || MODEL_ID)},"choices":`;
    const chunk = r.stream ? `${head}[{"index":0,"delta":{"content":"${piece}"},"finish_reason":null}]}\n\n` : piece;
    res.writeHead(200, r.stream ? SSE_HEADERS : { 'content-type': 'application/json' });
    res.write(r.stream ? '' : `{"id":"chatcmpl-fake-${idCounter}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`);
    const pump = (): void => {
      while (!p.closed) {
        endlessBytes += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };

  /** `tool`: the text is the arguments of a call to that function, streamed as OpenAI streams tool calls. */
  const answerStream = (p: Pending, text: string, fault: Fault | undefined, tool: string | null): void => {
    const { res, record: r } = p;
    const id = `chatcmpl-fake-${++idCounter}`;
    const created = Math.floor(Date.now() / 1000);
    const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(r.model || MODEL_ID)},"choices":`;
    const contentEvent = (word: string): string =>
      tool === null
        ? `${head}[{"index":0,"delta":{"content":${JSON.stringify(word)}},"finish_reason":null}]}\n\n`
        : `${head}[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(word)}}}]},"finish_reason":null}]}\n\n`;

    const words = splitWords(text);
    const limit = fault && (fault.kind === 'drop' || fault.kind === 'stream-error') ? Math.max(0, Math.min(fault.afterChunks, words.length)) : words.length;
    const first = firstTokenDelayMs;
    const between = chunkDelayMs;

    const tail = (): string => {
      if (fault?.kind === 'stream-error') return STREAM_ERROR_EVENT;
      const usage = usageOf(r.messages, text);
      return (
        `${head}[{"index":0,"delta":{},"finish_reason":"${tool === null ? 'stop' : 'tool_calls'}"}]}\n\n` +
        `${head}[],"usage":${JSON.stringify(usage)}}\n\n` +
        DONE_EVENT
      );
    };
    const finish = (pending: string): void => {
      if (p.closed) return;
      if (fault?.kind === 'drop') {
        // Let what was written reach the client, then cut the connection without a proper end.
        res.write(pending, () => dropConnection(p));
        return;
      }
      res.end(pending + tail());
    };

    // Headers go out with the first write, right now (same effect as flushHeaders, one syscall less).
    res.writeHead(200, SSE_HEADERS);
    const roleDelta =
      tool === null
        ? '{"role":"assistant","content":""}'
        : `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_fake_${idCounter}","type":"function","function":{"name":${JSON.stringify(tool)},"arguments":""}}]}`;
    const roleEvent = `${head}[{"index":0,"delta":${roleDelta},"finish_reason":null}]}\n\n`;

    let index = 0;
    // Writes every chunk that is due now (delays of 0 mean back to back, in one write), then waits.
    const step = (pending: string): void => {
      if (p.closed) return;
      let out = pending;
      while (index < limit) {
        out += contentEvent(words[index] as string);
        index++;
        if (index < limit && between > 0) {
          res.write(out);
          schedule(p, between, () => step(''));
          return;
        }
      }
      finish(out);
    };
    if (first > 0) {
      res.write(roleEvent);
      schedule(p, first, () => step(''));
    } else {
      step(roleEvent);
    }
  };

  const answerJson = (p: Pending, text: string, tool: string | null): void => {
    const { record: r } = p;
    const id = ++idCounter;
    const choice =
      tool === null
        ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }
        : {
            index: 0,
            message: { role: 'assistant', content: null, tool_calls: [{ id: `call_fake_${id}`, type: 'function', function: { name: tool, arguments: text } }] },
            finish_reason: 'tool_calls',
          };
    const payload = {
      id: `chatcmpl-fake-${id}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: r.model || MODEL_ID,
      choices: [choice],
      usage: usageOf(r.messages, text),
    };
    sendJson(p.res, 200, payload);
  };

  const handleChat = (p: Pending, raw: Buffer): void => {
    const { record: r, res } = p;
    let body: any = null;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = null;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      if (record) requests.push(r);
      sendJson(res, 400, { error: { message: 'Request body is not a valid JSON object', type: 'invalid_request_error', code: 'invalid_json' } });
      return;
    }
    r.body = body;
    r.model = typeof body.model === 'string' ? body.model : '';
    r.stream = body.stream === true;
    r.structured = structuredModeOf(body);
    if (Array.isArray(body.messages)) {
      r.messages = body.messages.map((m: any) => ({
        role: m && typeof m === 'object' ? String(m.role ?? '') : '',
        content: m && typeof m === 'object' ? flattenContent(m.content) : '',
      }));
    }
    if (record) requests.push(r);
    if (!Array.isArray(body.messages)) {
      sendJson(res, 400, { error: { message: "'messages' must be an array", type: 'invalid_request_error', code: 'invalid_request' } });
      return;
    }
    if (r.structured && rejectedModes.has(r.structured)) {
      sendJson(res, 400, refusalOf(r.structured));
      return;
    }

    const fault = faults.shift();
    if (fault) {
      switch (fault.kind) {
        case 'status': {
          const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {};
          sendJson(res, fault.status, fault.body !== undefined ? fault.body : errorBody(fault.status), headers);
          return;
        }
        case 'quota':
          sendJson(res, 429, {
            error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' },
          });
          return;
        case 'hang':
          return;
        case 'endless':
          sendEndless(p);
          return;
        case 'drop':
          if (!r.stream) {
            dropConnection(p);
            return;
          }
          break;
        case 'stream-error':
          if (!r.stream) {
            sendJson(res, 500, { error: { message: 'upstream exploded', type: 'server_error', code: 'server_error' } });
            return;
          }
          break;
      }
    }

    let text: string;
    const structured = r.structured;
    try {
      if (structured) {
        text = scriptedText(extraction ? extraction(r) : nothingStated(body, structured));
      } else {
        const produced = reply(r);
        text = beforeStop(typeof produced === 'string' ? produced : String(produced), body?.stop);
      }
    } catch (error) {
      const what = structured ? 'extraction()' : 'reply()';
      sendJson(res, 500, { error: { message: `${what} threw: ${(error as Error)?.message ?? String(error)}`, type: 'server_error', code: 'reply_failed' } });
      return;
    }
    const tool = structured === 'tool' ? forcedToolName(body) : null;

    if (r.stream) {
      answerStream(p, text, fault, tool);
      return;
    }
    // Non-streaming: take as long as the stream would have.
    const n = splitWords(text).length;
    const delay = firstTokenDelayMs + chunkDelayMs * Math.max(0, n - 1);
    schedule(p, delay, () => answerJson(p, text, tool));
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.on('error', () => {});
    res.on('error', () => {});
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);

    if (req.method === 'GET' && path === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: [{ id: MODEL_ID, object: 'model', created: 0, owned_by: 'fake-llm' }] });
      return;
    }
    // For a test whose fake runs in a process of its own (main.ts): what stats() tells in-process.
    if (req.method === 'GET' && path === '/_fake/stats') {
      sendJson(res, 200, { received, open: open.size, closed: closedCount, lastClosedAt });
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      req.resume();
      sendJson(res, 404, { error: { message: `No route for ${req.method ?? '?'} ${path}`, type: 'invalid_request_error', code: 'not_found' } });
      return;
    }

    received++;
    const auth = req.headers.authorization;
    const r: RecordedRequest = {
      path,
      method: req.method,
      body: null,
      model: '',
      stream: false,
      structured: null,
      messages: [],
      authorization: typeof auth === 'string' ? auth : undefined,
      receivedAt: now(),
      closedAt: null,
      aborted: false,
      finished: false,
    };
    const p: Pending = { record: r, res, timer: null, closed: false, droppedByUs: false };
    open.add(p);
    let bodyDone = false;

    res.on('close', () => {
      if (p.closed) return;
      p.closed = true;
      if (p.timer) {
        clearTimeout(p.timer);
        p.timer = null;
      }
      open.delete(p);
      closedCount++;
      r.closedAt = now();
      lastClosedAt = r.closedAt;
      r.finished = res.writableFinished;
      r.aborted = !res.writableEnded && !p.droppedByUs;
      if (!bodyDone && record) requests.push(r); // left before the body arrived: still worth seeing
      bodyDone = true;
    });

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (bodyDone) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        bodyDone = true;
        if (record) requests.push(r);
        sendJson(res, 413, { error: { message: 'Request body too large', type: 'invalid_request_error', code: 'too_large' } }, { connection: 'close' });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (bodyDone || p.closed) return;
      bodyDone = true;
      try {
        handleChat(p, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
      } catch (error) {
        // Never let a bug in here take the server down.
        if (!res.headersSent) {
          sendJson(res, 500, { error: { message: `fake-llm failure: ${(error as Error)?.message}`, type: 'server_error', code: 'internal' } });
        } else {
          res.destroy();
        }
      }
    });
  };

  const server = http.createServer({ keepAlive: true, noDelay: true }, onRequest);
  server.on('clientError', (_error, socket) => {
    if (socket.writable && !socket.writableEnded) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  // Hanging requests and long streams must not be cut by the server's own timeouts.
  server.requestTimeout = 0;
  server.timeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const fake: FakeLlm = {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    fail(...more) {
      faults.push(...more);
    },
    setReply(fn) {
      reply = fn ?? initialReply;
    },
    setExtraction(fn) {
      extraction = fn ?? options.extraction;
    },
    rejectModes(modes) {
      rejectedModes.clear();
      for (const mode of modes) rejectedModes.add(mode);
    },
    setDelays(delays) {
      if (delays.firstTokenDelayMs !== undefined) firstTokenDelayMs = delays.firstTokenDelayMs;
      if (delays.chunkDelayMs !== undefined) chunkDelayMs = delays.chunkDelayMs;
    },
    reset() {
      requests.length = 0;
      faults.length = 0;
      rejectedModes.clear();
      reply = initialReply;
      extraction = options.extraction;
      firstTokenDelayMs = initialFirst;
      chunkDelayMs = initialChunk;
    },
    openResponses: () => open.size,
    endlessBytes: () => endlessBytes,
    stats: () => ({ received, open: open.size, closed: closedCount, lastClosedAt }),
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        try {
          if (predicate(requests)) return;
          lastError = undefined;
        } catch (error) {
          lastError = error;
        }
        if (Date.now() >= deadline) {
          const summary = requests
            .slice(-5)
            .map((q) => `${q.method} ${q.path} model=${q.model} stream=${q.stream} finished=${q.finished} aborted=${q.aborted} closed=${q.closedAt !== null}`)
            .join('; ');
          const why = lastError ? ` (predicate threw: ${(lastError as Error)?.message ?? String(lastError)})` : '';
          throw new Error(
            `fake-llm waitFor timed out after ${timeoutMs} ms${why}; ${requests.length} recorded request(s), ${open.size} open` +
              (summary ? `; last: ${summary}` : ''),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const p of open) {
          if (p.timer) clearTimeout(p.timer);
          p.timer = null;
        }
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
  return fake;
}
