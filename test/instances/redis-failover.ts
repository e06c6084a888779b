// A Redis failover made of real parts: two redis-server processes of their own (a primary and its
// replica), and the endpoint clients are given, a forwarder the test moves to the promoted one, as
// Sentinel or a managed Redis's DNS name does. The old primary lives on as the new one's replica,
// and connections opened before the failover stay on it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { until } from './cluster.js';

export const haveRedisServer = spawnSync('redis-server', ['--version']).status === 0;

export interface RedisFailover {
  /** REDIS_URL for the instances: the endpoint. */
  url: string;
  /** Promotes the replica, makes the old primary its replica, and points the endpoint at the new primary. */
  failOver(): void;
  close(): Promise<void>;
}

/** One redis-server of its own. A replica's first sync writes a snapshot: into a folder of its own, removed at close. */
async function redisServer(dir: string): Promise<{ port: number; process: ChildProcess }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  await until(() => redisCli(port, 'ping') === 'PONG', `redis-server on ${port}`);
  return { port, process: child };
}

const redisCli = (port: number, ...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();

/** New connections go to whichever port it names now; those made before stay where they are. */
async function forwarder(initial: number): Promise<{ port: number; moveTo(port: number): void; close(): Promise<void> }> {
  let target = initial;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => (client.destroy(), upstream.destroy(), sockets.delete(socket)));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    moveTo: (port) => (target = port),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function redisFailover(): Promise<RedisFailover> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
  const primary = await redisServer(dir);
  const replica = await redisServer(dir);
  redisCli(replica.port, 'replicaof', '127.0.0.1', String(primary.port));
  const front = await forwarder(primary.port);
  return {
    url: `redis://127.0.0.1:${front.port}`,
    failOver() {
      redisCli(replica.port, 'replicaof', 'no', 'one');
      redisCli(primary.port, 'replicaof', '127.0.0.1', String(replica.port));
      front.moveTo(replica.port);
    },
    async close() {
      await front.close();
      primary.process.kill('SIGKILL');
      replica.process.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
