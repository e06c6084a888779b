// The public API as the widget uses it (§7): the chatbot's page, starting a visit, a visitor's
// messages, a streamed turn over fetch + Server-Sent Events, and stop. No cookies are sent:
// the visitor token is the only credential, and it goes in the Authorization header.

export interface PublicChatbot {
  id: string;
  slug: string;
  name: string;
  description: string;
  greeting: string;
  /** The longest message the server takes (absent from a server older than the field). */
  max_message_chars?: number;
}

export interface Visit {
  conversation_id: string;
  visitor_token: string;
  expires_at: string;
}

export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'interrupted' | 'failed';
}

/** A refusal, or `network` (status 0) when no answer arrived. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly retryAfter: number | null,
    message: string,
  ) {
    super(message);
  }
}

export interface TurnHandlers {
  /** The server took the message: its reply is being written, and a stop now reaches it. */
  started(): void;
  delta(text: string): void;
  /** The stored reply: complete, interrupted (stopped) or failed. */
  end(reply: StoredMessage): void;
}

const PAGE = 100;

/** The status of an `error` event in a reply's stream: the turn ran and failed (stored `failed`). */
export const STREAM_FAILED = 502;

/**
 * A gateway's own answer (its HTML page, no problem+json from Parley) saying it could not reach
 * Parley or wait for it: whether the message got through is unknown, as after a network failure.
 */
export const fromGateway = (error: ApiError): boolean => (error.status === 502 || error.status === 504) && error.code.startsWith('http_');

async function refusal(response: Response): Promise<ApiError> {
  const retry = Number(response.headers.get('retry-after'));
  let code = 'http_' + response.status;
  let detail = response.statusText;
  try {
    const body = (await response.json()) as { code?: unknown; detail?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.detail === 'string') detail = body.detail;
  } catch {
    // Not problem+json (a proxy's page, say): the status alone tells.
  }
  return new ApiError(response.status, code, Number.isFinite(retry) && retry > 0 ? retry : null, detail);
}

export function createApiClient(api: string, chatbot: string) {
  async function call(path: string, given: RequestInit & { token?: string | null } = {}): Promise<Response> {
    // The call's own fields only, in an object that inherits nothing: fetch reads RequestInit's
    // members through the prototype chain, so a host page whose Object.prototype was polluted
    // (`headers`, `token`, `body`, `integrity` on every object) sent its own credentials with
    // the visitor's words, or broke every request.
    const init = Object.assign(Object.create(null) as typeof given, given);
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    if (init.body) headers.set('content-type', 'application/json');
    let response: Response;
    try {
      response = await fetch(api + path, Object.assign(Object.create(null) as RequestInit, init, { headers, credentials: 'omit', mode: 'cors' }));
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new ApiError(0, 'network', null, 'network');
    }
    if (!response.ok) throw await refusal(response);
    return response;
  }

  return {
    async chatbot(): Promise<PublicChatbot> {
      return (await call(`/v1/public/chatbots/${encodeURIComponent(chatbot)}`)).json() as Promise<PublicChatbot>;
    },
    /** `token`: the visitor's (another conversation) or the host's signed-in user's. */
    async startVisit(token: string | null, label: string): Promise<Visit> {
      const body = JSON.stringify({ visitor_id: label });
      return (await call(`/v1/public/chatbots/${encodeURIComponent(chatbot)}/conversations`, { method: 'POST', body, token })).json() as Promise<Visit>;
    },
    async messages(token: string, conversation: string): Promise<StoredMessage[]> {
      const all: StoredMessage[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `?limit=${PAGE}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
        const page = (await (await call(`/v1/public/conversations/${conversation}/messages${query}`, { token })).json()) as {
          data: StoredMessage[];
          next_cursor: string | null;
        };
        all.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor);
      return all;
    },
    async send(token: string, conversation: string, content: string, key: string, on: TurnHandlers): Promise<void> {
      const response = await call(`/v1/public/conversations/${conversation}/messages`, {
        method: 'POST',
        token,
        headers: { accept: 'text/event-stream', 'idempotency-key': key },
        body: JSON.stringify({ content, stream: true }),
      });
      on.started();
      await readTurn(response, on);
    },
    async stop(token: string, conversation: string): Promise<void> {
      await call(`/v1/public/conversations/${conversation}/stop`, { method: 'POST', token, body: '{}' });
    },
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;

async function readTurn(response: Response, on: TurnHandlers): Promise<void> {
  // A retried request the server already answered is replayed as JSON.
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const answer = (await response.json()) as { reply: StoredMessage };
    on.end(answer.reply);
    return;
  }
  let ended = false;
  await readEvents(response, (event, data) => {
    if (event === 'message.delta') on.delta((data as { delta: string }).delta);
    else if (event === 'message.end') {
      ended = true;
      on.end((data as { reply: StoredMessage }).reply);
    } else if (event === 'error') {
      const { code, message } = data as { code: string; message: string };
      throw new ApiError(STREAM_FAILED, code, null, message);
    }
  });
  // Closed cleanly before its end (a proxy's read timeout, a load balancer draining): the reply
  // sat "writing" for ever. It is a cut like any other; a retry replays what the server stored.
  if (!ended) throw new ApiError(0, 'network', null, 'the stream ended before the reply');
}

/** Server-Sent Events from a fetch body: `event:` and `data:` lines, frames ending in a blank line. */
async function readEvents(response: Response, onEvent: (event: string, data: unknown) => void): Promise<void> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    let chunk: ReadableStreamReadResult<string>;
    try {
      chunk = await reader.read();
    } catch {
      throw new ApiError(0, 'network', null, 'network');
    }
    if (chunk.done) return;
    buffer += chunk.value.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trimStart();
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}
