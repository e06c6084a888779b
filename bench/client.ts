/**
 * The bench's HTTP client: small JSON calls and streamed turns over node:http with keep-alive agents,
 * timed with performance.now(). Parley and the baseline answer the same paths; the baseline simply
 * ignores the bearer token.
 */
import http from 'node:http';

export interface JsonAnswer {
  status: number;
  body: any;
  ms: number;
}

export function keepAliveAgent(maxSockets = 1): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

export function postJson(url: string, body: unknown, options: { agent?: http.Agent; token?: string; headers?: Record<string, string> } = {}): Promise<JsonAnswer> {
  const payload = JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { ...options.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(url, { method: 'POST', headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const ms = performance.now() - started;
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, ms });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Set-up requests (not measured ones) that met a reset connection and were sent again. */
export const setupRetries: string[] = [];

/** Set-up calls retry a reset keep-alive connection (a request racing the server closing an idle socket). */
async function setupCall(what: string, call: () => Promise<JsonAnswer>): Promise<JsonAnswer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (attempt >= 3 || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw error;
      setupRetries.push(`${what}: ${code}`);
    }
  }
}

/** A server under test: Parley (with accounts) or the baseline (without). */
export class ChatApi {
  readonly agent = keepAliveAgent(64);
  constructor(
    readonly url: string,
    readonly withAuth: boolean,
  ) {}

  async register(username: string): Promise<string> {
    if (!this.withAuth) return '';
    const answer = await setupCall('register', () => postJson(`${this.url}/v1/auth/register`, { username, password: 'bench-password-123' }, { agent: this.agent }));
    if (answer.status !== 201) throw new Error(`register ${username}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.access_token as string;
  }

  async createConversation(token: string): Promise<string> {
    const answer = await setupCall('create conversation', () => postJson(`${this.url}/v1/conversations`, {}, { agent: this.agent, token }));
    if (answer.status !== 201) throw new Error(`create conversation: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.id as string;
  }

  messagesUrl(conversationId: string): string {
    return `${this.url}/v1/conversations/${conversationId}/messages`;
  }

  send(token: string, conversationId: string, content: string, agent: http.Agent = this.agent): Promise<JsonAnswer> {
    return postJson(this.messagesUrl(conversationId), { content }, { agent, token });
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once; results in order. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

export interface StreamedTurn {
  status: number;
  /** ms from sending the request to the first content delta (NaN when none came). */
  ttftMs: number;
  /** Arrival times (ms, performance.now()) of every content delta. */
  deltaTimes: number[];
  events: string[];
}

/**
 * Sends one streamed request and reads Server-Sent Events until the response ends. `isDelta` says
 * which event carries content: Parley's `message.delta`, or an OpenAI chunk with non-empty content.
 */
export function streamRequest(url: string, body: unknown, agent: http.Agent, isDelta: (event: string, data: string) => boolean, token?: string): Promise<StreamedTurn> {
  const payload = JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), accept: 'text/event-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const result: StreamedTurn = { status: 0, ttftMs: NaN, deltaTimes: [], events: [] };
    const started = performance.now();
    const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
      result.status = res.statusCode ?? 0;
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        const at = performance.now();
        buffered += text;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          result.events.push(event);
          if (isDelta(event, data)) {
            if (result.deltaTimes.length === 0) result.ttftMs = at - started;
            result.deltaTimes.push(at);
          }
        }
      });
      res.on('end', () => resolve(result));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export const parleyDelta = (event: string) => event === 'message.delta';
export const openAiDelta = (_event: string, data: string) => data.includes('"content":"') && !data.includes('"content":""');

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
