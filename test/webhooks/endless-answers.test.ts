// A receiver answers `200` at once and then never finishes its body (a byte now and then, for
// ever). The status is what the delivery needed, but the exchange stays open: the attempt was
// counted as done at the answer's head and its place among the account's deliveries in flight
// freed, while its connection stayed open until WEBHOOK_TIMEOUT_MS. With a backlog, the account's
// next deliveries went out at once, each leaving one more connection open: one account held as
// many of the server's sockets as it had events (12 of 12 here, 100 of 100 with 100 events and
// the default 15 s timeout), past the 4 in flight per account and 16 per instance that bound a
// receiver that does not answer at all. Such an exchange must hold its place until it closes
// (its 200 is recorded when it comes).
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IN_FLIGHT_PER_ACCOUNT } from '../../src/features/webhooks/webhook-worker.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { completedEvents, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

const EVENTS = 3 * MAX_IN_FLIGHT_PER_ACCOUNT;

/** Answers 200 and a first chunk at once, then a byte every 100 ms, never ending. */
async function startEndlessReceiver() {
  const open = new Set<Socket>();
  const trickling = new Set<ServerResponse>();
  let requests = 0;
  let mostOpen = 0;
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests += 1;
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('ok');
      trickling.add(response);
      const timer = setInterval(() => response.write('.'), 100);
      response.on('close', () => {
        clearInterval(timer);
        trickling.delete(response);
      });
    });
  });
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    mostOpen = Math.max(mostOpen, open.size);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}/hooks/endless`,
    requests: () => requests,
    mostOpen: () => mostOpen,
    async close() {
      for (const response of trickling) response.destroy();
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let receiver: Awaited<ReturnType<typeof startEndlessReceiver>>;
let t: TestApp;

beforeAll(async () => {
  receiver = await startEndlessReceiver();
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_TIMEOUT_MS: '1500', WEBHOOK_LEASE_MS: '5000' });
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe('a receiver whose answer never ends', () => {
  it("is delivered (its 200 counts), but each exchange holds one of the account's places until it closes", { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Endless' });
    await setWebhook(t, owner, bot.id, receiver.url);
    const events = await completedEvents(t, owner, bot.id, EVENTS);

    for (const { eventId } of events) {
      const delivery = await waitForDelivery(t, owner, bot.id, eventId!, (d) => d.status === 'delivered', 30_000);
      expect(delivery.attempts).toHaveLength(1);
      expect(delivery.attempts[0]).toMatchObject({ status_code: 200, error: null });
    }
    expect(receiver.requests()).toBe(EVENTS);
    // Seen from the receiver, a wave of exchanges the timeout ended together may be followed by the
    // next wave's connections before their own closes arrive: at most two waves, never the backlog.
    expect(receiver.mostOpen()).toBeLessThanOrEqual(2 * MAX_IN_FLIGHT_PER_ACCOUNT);
  });
});
