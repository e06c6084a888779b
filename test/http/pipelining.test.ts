// A client may send its next requests on a connection before the answers to the first ones
// (HTTP/1.1 pipelining). Node hands every request of what it has read to the app at once, so one
// connection writing requests without pause made the server take on tens of thousands (10
// connections of pipelined GET /health froze it for 10 s; of Swagger UI's 1.5 MB bundle, 4.7 GB of
// answers and no /health for as long as it ran, the clients gone). Beyond a few in flight, the
// connection is closed and what it still holds is never run.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { listen } from '../helpers/chat.js';
import { metricValue } from '../helpers/factories.js';

let t: TestApp;
let port: number;
beforeAll(async () => {
  t = await createTestApp();
  port = Number(new URL(await listen(t)).port);
});
afterAll(async () => {
  await t?.close();
});

/** Writes `count` requests at once on one connection; reads until the server closes it or `quietMs` pass with nothing new. */
function pipelined(path: string, count: number, quietMs = 1_500): Promise<{ answers: number; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let closedByServer = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(quiet);
      socket.destroy();
      resolve({ answers: received.split('HTTP/1.1 ').length - 1, closedByServer });
    };
    const waitQuiet = () => {
      clearTimeout(quiet);
      quiet = setTimeout(finish, quietMs);
    };
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      received += data;
      waitQuiet();
    });
    socket.on('end', () => {
      closedByServer = true;
      finish();
    });
    socket.on('error', () => {
      closedByServer = true;
      finish();
    });
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`.repeat(count));
      waitQuiet();
    });
  });
}

describe('pipelined requests', () => {
  it('a few at once are all answered, and the connection stays open', async () => {
    const result = await pipelined('/health', 8);
    expect(result).toEqual({ answers: 8, closedByServer: false });
  });

  it('thousands at once: the connection is closed and the rest never run', async () => {
    const route = { method: 'GET', route: '/openapi.json', status: '200' };
    const before = await metricValue(t, 'parley_http_requests_total', route);
    const result = await pipelined('/openapi.json', 3_000);
    expect(result.closedByServer).toBe(true);
    expect(result.answers).toBeLessThanOrEqual(32);
    const ran = (await metricValue(t, 'parley_http_requests_total', route)) - before;
    expect(ran).toBeLessThanOrEqual(32);
    // The server serves the next client as usual.
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });
});
