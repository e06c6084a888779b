// `parley doctor` with REDIS_URL naming a database the Redis will not select: a cluster or a managed
// Redis that has database 0 only (`ERR SELECT is not allowed in cluster mode`), or a number past
// `databases` (`ERR DB index is out of range`). The user saw `ok redis … answered PONG`, while every
// `parley serve` logged `redis error: ERR …` and kept its limits in database 0, beside whatever else
// uses it there: the database number meant to keep two deployments apart did nothing. The Redis
// here is a small server speaking Redis's protocol that refuses SELECT as such a cluster does.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, doctor, failsOnly, removeTemplate, servedPgliteDir } from './doctor-run.js';

const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;

/** The commands of RESP arrays in `buffer`, and what is left of it (an array not whole yet). */
function commands(buffer: string): { done: string[][]; rest: string } {
  const done: string[][] = [];
  let at = 0;
  for (;;) {
    const head = /^\*(\d+)\r\n/.exec(buffer.slice(at));
    if (!head) break;
    let cursor = at + head[0].length;
    const args: string[] = [];
    for (let i = 0; i < Number(head[1]); i++) {
      const length = /^\$(\d+)\r\n/.exec(buffer.slice(cursor));
      if (!length || buffer.length < cursor + length[0].length + Number(length[1]) + 2) return { done, rest: buffer.slice(at) };
      cursor += length[0].length;
      args.push(buffer.slice(cursor, cursor + Number(length[1])));
      cursor += Number(length[1]) + 2;
    }
    done.push(args);
    at = cursor;
  }
  return { done, rest: buffer.slice(at) };
}

/** Answers PING, INFO and the rest as a Redis does; SELECT of any database but 0 as a cluster does. */
function answer([name = '', ...args]: string[]): string {
  switch (name.toUpperCase()) {
    case 'PING':
      return '+PONG\r\n';
    case 'INFO':
      return bulk('# Server\r\nredis_version:7.2.4\r\nloading:0\r\n');
    case 'SELECT':
      return args[0] === '0' ? '+OK\r\n' : '-ERR SELECT is not allowed in cluster mode\r\n';
    default:
      return '+OK\r\n';
  }
}

const servers: Server[] = [];
const sockets = new Set<Socket>();
let redis: string;

beforeAll(async () => {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let buffer = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      const { done, rest } = commands(buffer + chunk);
      buffer = rest;
      for (const command of done) socket.write(answer(command));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  redis = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => cleanUp());
afterAll(async () => {
  await removeTemplate();
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

const doctorWith = async (redisUrl: string) => doctor({ DATA_DIR: await servedPgliteDir(), REDIS_URL: redisUrl }, { args: ['--streams', '100'] });

describe('parley doctor and the database REDIS_URL names', () => {
  it('fails, naming the database and what Redis answered, when Redis refuses to select it', { timeout: 90_000 }, async () => {
    const line = failsOnly(await doctorWith(`redis://${redis}/2`), 'redis');
    expect(line.text).toContain('database 2');
    expect(line.text).toContain('ERR SELECT is not allowed in cluster mode');
    expect(line.text).toMatch(/→ .*REDIS_URL/);
  });

  it('passes with no database named, or database 0, on the same Redis', { timeout: 90_000 }, async () => {
    for (const url of [`redis://${redis}`, `redis://${redis}/0`]) {
      const report = await doctorWith(url);
      expect(report.line('redis').status, report.stdout).toBe('ok');
    }
  });
});
