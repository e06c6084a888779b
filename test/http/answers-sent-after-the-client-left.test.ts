// A request pipelined behind another is handed to its route at once, and its answer waits in a
// queue behind the first. When the client goes away, that queued answer is ended and told
// (http/pipelining.ts). A route still working at that moment (an export between taking one of the
// account's places and sending its body) sends its stream to an answer already told: the stream
// must still be ended, or what waits on its end (the account's export place) waits for ever.
// Found in CI as an export place held after the client left, one run in six on PostgreSQL.
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { limitPipelining } from '../../src/http/pipelining.js';
import { createHeartbeats, openEventStream } from '../../src/http/sse.js';
import { until } from '../instances/cluster.js';

interface Gate {
  open(): void;
  opened: Promise<void>;
}

function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/**
 * A server whose first route holds its answer until the test lets it, and whose second route
 * starts at once, then waits on `sendAfter` before sending a long stream. Records how that stream ended.
 */
async function serverWithQueuedStream() {
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  limitPipelining(app);
  const first = gate();
  const sendAfter = gate();
  const secondStarted = gate();
  const secondRequestClosed = gate();
  const outcome: { streamEnded?: string; closeHeard?: boolean; goneHeard?: boolean } = {};
  const heartbeats = createHeartbeats(15_000);
  app.get('/first', async () => {
    await first.opened;
    return { first: true };
  });
  app.get('/second', async (request, reply) => {
    request.raw.once('close', () => secondRequestClosed.open());
    secondStarted.open();
    await sendAfter.opened;
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 1_000; i++) yield Buffer.alloc(64 * 1024, 'x');
      })(),
    );
    finished(body).then(
      () => (outcome.streamEnded = 'read to its end'),
      (error: Error) => (outcome.streamEnded = `ended: ${error.message}`),
    );
    return reply.send(body);
  });
  app.get('/third', async (request, reply) => {
    request.raw.once('close', () => secondRequestClosed.open());
    secondStarted.open();
    await sendAfter.opened;
    // A listener added once the answer was told still hears that it closed.
    finished(reply.raw).then(
      () => (outcome.closeHeard = true),
      () => (outcome.closeHeard = true),
    );
    return reply.send({ third: true });
  });
  app.get('/events', async (request, reply) => {
    request.raw.once('close', () => secondRequestClosed.open());
    secondStarted.open();
    await sendAfter.opened;
    const stream = openEventStream(request, reply, heartbeats);
    stream.onClientGone(() => (outcome.goneHeard = true));
    stream.send('token', { text: 'Hello' });
  });
  app.addHook('onClose', async () => heartbeats.stop());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, port, first, sendAfter, secondStarted, secondRequestClosed, outcome };
}

let close: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function pipelineThenLeave(port: number, paths: string[], started: Promise<void>): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`).join(''));
  await started;
  socket.destroy();
  return socket;
}

/** Pipelines `/first` and `path`, leaves once `path`'s route has started, then lets that route go on. */
async function leaveWhileRouteWorks(path: string) {
  const server = await serverWithQueuedStream();
  close = () => server.app.close();
  await pipelineThenLeave(server.port, ['/first', path], server.secondStarted.opened);
  // Node has closed the queued request; the answers are told on the loop's turn after, well within this wait.
  await server.secondRequestClosed.opened;
  await new Promise((resolve) => setTimeout(resolve, 50));
  server.sendAfter.open();
  server.first.open();
  return server.outcome;
}

describe('an answer queued behind another, its client gone before its route sends', () => {
  it('ends the stream the route sends to it, rather than leaving it unread for ever', async () => {
    const outcome = await leaveWhileRouteWorks('/second');
    const ended = await until(() => outcome.streamEnded, 'the stream sent to the told answer to end', 5_000);
    expect(ended).toMatch(/^ended: /);
  });

  it('lets a route that listens for the close after it was told hear it', async () => {
    const outcome = await leaveWhileRouteWorks('/third');
    expect(await until(() => outcome.closeHeard, 'the close to be heard', 5_000)).toBe(true);
  });

  it('tells an event stream opened on it that its client is gone, so the model call stops', async () => {
    const outcome = await leaveWhileRouteWorks('/events');
    expect(await until(() => outcome.goneHeard, 'the stream to hear its client gone', 5_000)).toBe(true);
  });
});
