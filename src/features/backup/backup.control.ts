// The server's side of `parley backup`: while it runs on an embedded database it holds
// DATA_DIR/parley.sock (control-socket.ts) and answers a backup request there with a copy of the
// database made between two transactions (backup-file.ts), so chats go on while it is taken.
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config/config.js';
import type { Database } from '../../db/client.js';
import { makeBackup, type Backup } from './backup-file.js';
import { BackupError, holdDataDir, sendLine, type ControlRequest, type Hold, type LineReader } from './control-socket.js';

export interface ServerHold {
  /** From now on a backup request is answered with a copy of `database`. */
  serveBackups(database: Database): void;
  release(): Promise<void>;
}

/**
 * Aborted when the client goes (killed, or stopped with Ctrl-C): it sends nothing after its
 * request, so its end of the stream is that. Unread, the end was never seen: the copy finished
 * for nobody, its sending never ended, and its archive stayed in DATA_DIR while the server ran.
 */
function clientGone(reader: LineReader): AbortSignal {
  const gone = new AbortController();
  void (async () => {
    try {
      for await (const piece of reader.rest()) void piece;
    } catch {
      // a reset connection is a client gone as well
    }
    gone.abort();
  })();
  return gone.signal;
}

async function answerBackup(database: Database, dataDir: string, socket: Socket, reader: LineReader, log: FastifyBaseLogger): Promise<void> {
  const gone = clientGone(reader);
  sendLine(socket, { ok: true, who: 'server', pid: process.pid });
  const began = performance.now();
  let backup: Backup | undefined;
  try {
    backup = await makeBackup(database, dataDir, { live: true });
    if (gone.aborted) throw gone.reason;
    sendLine(socket, { ok: true, bytes: backup.bytes });
    // Read from the disk as the client takes it: memory holds a piece, not the backup.
    await pipeline(Readable.from(backup.stream()), socket, { signal: gone });
    log.info({ bytes: backup.bytes, locked_ms: Math.round(backup.lockedMs), ms: Math.round(performance.now() - began) }, 'backup: sent a copy of the embedded database');
  } catch (error) {
    if (gone.aborted) {
      log.warn({ ms: Math.round(performance.now() - began) }, 'backup: the client left before the copy was sent; the copy was removed');
      return;
    }
    // A refusal (no room for it) is the operator's to act on, not a fault of the server's.
    if (error instanceof BackupError) log.warn({ code: error.code }, `backup refused: ${error.message}`);
    else log.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'backup: copying the embedded database failed');
    socket.end(`${JSON.stringify({ ok: false, message: `the server could not copy its database: ${(error as Error).message}` })}\n`);
  } finally {
    await backup?.discard();
  }
}

/**
 * Takes DATA_DIR's socket before the embedded database is opened, so no other process opens it
 * meanwhile; refuses to start (one line) while another Parley process holds it. Null on
 * PostgreSQL, and where no Unix socket can be made there (said in a warning: the server runs,
 * and backups need it stopped).
 */
export async function holdForServer(config: Config, log: FastifyBaseLogger): Promise<ServerHold | null> {
  if (config.databaseUrl) return null;
  let hold: Hold;
  try {
    hold = await holdDataDir(config.dataDir, 'server');
  } catch (error) {
    if (error instanceof BackupError && error.code === 'socket_unavailable') {
      log.warn(`no control socket in DATA_DIR (${error.message}): parley backup and parley restore need the server stopped`);
      return null;
    }
    throw error;
  }
  return {
    serveBackups(database) {
      hold.answer(async (request: ControlRequest, socket: Socket, reader: LineReader) => {
        if (request.op === 'backup') return answerBackup(database, config.dataDir, socket, reader, log);
        socket.end(`${JSON.stringify({ ok: false, message: `unknown request ${JSON.stringify(request.op)}` })}\n`);
      });
    },
    release: () => hold.release(),
  };
}
