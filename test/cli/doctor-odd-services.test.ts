// `parley doctor` against services that accept the connection and then misbehave, as a wrong port
// or a broken proxy does: the report still comes in bounded time, one line per check, exit 1, and
// the line says what is wrong there rather than a code from inside the HTTP client.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, doctor, failsOnly, removeTemplate, servedPgliteDir } from './doctor-run.js';

const servers: Server[] = [];
const sockets = new Set<Socket>();

/** A real server on a free port of 127.0.0.1; its connections are cut when the file ends. */
async function listen(server: Server): Promise<string> {
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let endless: string;
let banner: string;
let silent: string;
let hugeReply: string;
/** Bytes the endless Redis reply had written when each of its connections closed. */
const hugeReplySent: number[] = [];

beforeAll(async () => {
  // Streams an answer that never ends, whatever max_tokens asked: an event every 50 ms, so no idle timeout fires.
  endless = await listen(
    createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => response.write('data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'), 50);
      response.on('close', () => clearInterval(timer));
    }),
  );
  // Another service on the port the model's address names: it greets in its own protocol.
  banner = await listen(createServer((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n')));
  // Takes the connection and never says a word.
  silent = await listen(createServer(() => {}));
  // Answers any command with a bulk reply that announces 99,999,999,999 bytes and sends them until the client hangs up.
  hugeReply = await listen(
    createServer((socket) => {
      let sent = 0;
      const piece = Buffer.alloc(64 * 1024, 'x');
      const pour = () => {
        while (!socket.destroyed && socket.write(piece)) sent += piece.length;
      };
      socket.once('data', () => {
        socket.write('$99999999999\r\n');
        pour();
        socket.on('drain', pour);
      });
      socket.on('close', () => hugeReplySent.push(sent));
    }),
  );
});
afterEach(() => cleanUp());
afterAll(async () => {
  await removeTemplate();
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function doctorWith(env: Record<string, string>) {
  return doctor({ DATA_DIR: await servedPgliteDir(), ...env }, { args: ['--streams', '100'] });
}

const remote = (host: string) => ({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: `http://${host}/v1`, LLM_MODEL: 'm', LLM_API_KEY: 'sk-test' });

describe('parley doctor and services that misbehave once connected', () => {
  it('a model whose answer never ends: says so and where to look, not that the request was cancelled', { timeout: 90_000 }, async () => {
    const line = failsOnly(await doctorWith(remote(endless)), 'model');
    expect(line.text).toMatch(/model m answered, but its answer did not end within 10s → check that LLM_BASE_URL is the model server's API/);
  });

  it('a model address where another service listens: says it does not speak HTTP', { timeout: 90_000 }, async () => {
    const line = failsOnly(await doctorWith(remote(banner)), 'model');
    expect(line.text).toMatch(/model m: what answers there does not speak HTTP → check LLM_BASE_URL: its host and port/);
  });

  it('a key set address where another service listens: says it does not speak HTTP', { timeout: 90_000 }, async () => {
    const line = failsOnly(await doctorWith({ EXTERNAL_JWKS_URL: `http://${banner}/jwks`, EXTERNAL_JWT_ALGORITHMS: 'RS256' }), 'issuer:external-jwks');
    expect(line.text).toMatch(/key set at http:\/\/127\.0\.0\.1:\d+\/jwks not fetchable \(what answers there does not speak HTTP\)/);
  });

  it('a Redis that takes the connection and never replies: fails within its timeout, naming REDIS_URL', { timeout: 90_000 }, async () => {
    const line = failsOnly(await doctorWith({ REDIS_URL: `redis://${silent}` }), 'redis');
    expect(line.text).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ unreachable \(Command timed out\) → check REDIS_URL/);
  });

  it('something at REDIS_URL that announces an endless reply: hangs up at once rather than reading it into memory', { timeout: 90_000 }, async () => {
    const line = failsOnly(await doctorWith({ REDIS_URL: `redis://${hugeReply}` }), 'redis');
    expect(line.text).toMatch(
      /what answers at redis:\/\/127\.0\.0\.1:\d+ announced a reply of 99,999,999,999 bytes, more than the 4 MB Parley takes \(its replies from Redis are a few kB\) → check REDIS_URL: its host and port/,
    );
    await expect.poll(() => hugeReplySent.length).toBe(1);
    // Before, the client read on until its 2 s timeout: over a gigabyte here.
    expect(hugeReplySent[0]).toBeLessThan(16 * 1024 * 1024);
  });
});
