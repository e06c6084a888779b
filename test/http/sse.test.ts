// The event-stream writer every channel shares (§6.1, §8): named events for Parley's own
// protocol, data-only frames and the `[DONE]` marker for the OpenAI and AI SDK protocols, and
// the request's headers (request id) kept on the stream's head.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHeartbeats, openEventStream } from '../../src/http/sse.js';

let app: FastifyInstance;
let base: string;
const heartbeats = createHeartbeats(60_000);

beforeAll(async () => {
  app = Fastify();
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('x-request-id', 'req-1');
  });
  app.get('/named', (request, reply) => {
    const stream = openEventStream(request, reply, heartbeats);
    stream.send('message.delta', { delta: 'hi' });
    stream.end();
  });
  app.get('/data-only', (request, reply) => {
    const stream = openEventStream(request, reply, heartbeats, { 'x-vercel-ai-ui-message-stream': 'v1' });
    stream.data({ type: 'text-delta', delta: 'hi' });
    stream.data('{"raw":true}');
    stream.done();
    stream.end();
    stream.data({ after: 'end' });
  });
  // Node holds what a response writes in one tick and sends it when the tick ends; a model often
  // sends many tokens in one packet, and the first one should not wait for the rest to be framed.
  app.get('/flushed', (request, reply) => {
    const stream = openEventStream(request, reply, heartbeats);
    stream.data({ first: true });
    stream.flush();
    const held = request.raw.socket.writableLength;
    stream.data({ held });
    stream.end();
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  heartbeats.stop();
  await app?.close();
});

describe('event streams', () => {
  it('writes named events with the request headers on the head', async () => {
    const response = await fetch(`${base}/named`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-request-id')).toBe('req-1');
    expect(await response.text()).toBe('event: message.delta\ndata: {"delta":"hi"}\n\n');
  });

  it('writes data-only frames, text as given, then [DONE], and nothing after the end', async () => {
    const response = await fetch(`${base}/data-only`);
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(await response.text()).toBe('data: {"type":"text-delta","delta":"hi"}\n\ndata: {"raw":true}\n\ndata: [DONE]\n\n');
  });

  it('hands what was written to the network at once when flushed, not at the end of the tick', async () => {
    const response = await fetch(`${base}/flushed`);
    expect(await response.text()).toBe('data: {"first":true}\n\ndata: {"held":0}\n\n');
  });
});
