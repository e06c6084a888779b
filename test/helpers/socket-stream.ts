// A streamed message over a real socket, for tests that need its client to leave mid-reply
// (app.inject waits for the whole answer).
import http from 'node:http';
import { bearer, type RegisteredUser } from './factories.js';
import { parseSse, type SseEvent } from './chat.js';

/** POSTs a streamed message to `base`; `events` fill as they arrive, `done` settles when the socket closes. */
export function openMessageStream(base: string, user: RegisteredUser, conversationId: string, content: string) {
  const events: SseEvent[] = [];
  let buffer = '';
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const payload = JSON.stringify({ content, stream: true });
  const req = http.request(new URL(`/v1/conversations/${conversationId}/messages`, base), {
    method: 'POST',
    headers: { ...bearer(user.accessToken), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
  });
  req.on('error', () => ended());
  req.on('response', (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      const cut = buffer.lastIndexOf('\n\n');
      if (cut === -1) return;
      events.push(...parseSse(buffer.slice(0, cut)));
      buffer = buffer.slice(cut + 2);
    });
    res.on('close', () => ended());
  });
  req.end(payload);
  return { events, done, close: () => req.destroy() };
}

/** Waits until `probe` holds, polling every 10 ms; throws naming `what` after `timeoutMs`. */
export async function until(probe: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
