// One Parley process at a time works on an embedded database's folder: the one listening on
// DATA_DIR/parley.sock, a Unix socket only the folder's owner can use (mode 0600: file permissions
// are the authentication). A server holds it while it runs and hands `parley backup` a copy through
// it; `parley backup` (with no server running) and `parley restore` hold it while they work, so no
// server opens the folder under them. A socket file nobody listens on is left by a process that
// died, and is removed.
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { assertDataDirIsFolder } from '../../config/data-dir.js';
import { processAlive } from '../../lib/process-alive.js';

export const SOCKET_NAME = 'parley.sock';
/** sun_path holds 104 (macOS) or 108 (Linux) bytes with its NUL. */
const MAX_SOCKET_PATH_BYTES = 100;
const MAX_LINE_BYTES = 64 * 1024;
/** A holder answers its first line at once; one that does not within this is stuck. */
export const ANSWER_TIMEOUT_MS = 5_000;

export type BackupErrorCode =
  | 'data_dir_in_use'
  | 'not_answering'
  | 'socket_unavailable'
  | 'postgres_configured'
  | 'no_database'
  | 'not_a_backup'
  | 'backup_too_new'
  | 'backup_failed'
  | 'disk_failed'
  | 'no_room'
  | 'usage';

/** A refusal or failure of backup and restore, with a stable code and a one-line message saying what to do. */
export class BackupError extends Error {
  override name = 'BackupError';
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type Holder = 'server' | 'backup' | 'restore' | 'migrate' | 'users' | 'slugs' | 'export';

/** What a holder answers first: who it is, or why it will not do what was asked. */
export type FirstAnswer = { ok: true; who: Holder; pid: number } | { ok: false; message: string };

export interface ControlRequest {
  op: string;
}

/**
 * The socket's address: its absolute path, or, when that is too long for a Unix socket, the
 * path relative to the working directory (the same file, reached by a shorter name).
 */
export function socketAddress(dataDir: string): string {
  const absolute = resolve(dataDir, SOCKET_NAME);
  if (Buffer.byteLength(absolute) <= MAX_SOCKET_PATH_BYTES) return absolute;
  const near = relative(process.cwd(), absolute);
  if (Buffer.byteLength(near) <= MAX_SOCKET_PATH_BYTES) return near;
  throw new BackupError(
    'socket_unavailable',
    `the path of DATA_DIR (${dataDir}) is too long for its control socket (at most ${MAX_SOCKET_PATH_BYTES - SOCKET_NAME.length - 1} bytes); use a shorter DATA_DIR or run parley from nearer to it`,
  );
}

export const sendLine = (socket: Socket, message: object) => socket.write(`${JSON.stringify(message)}\n`);

export type LineReader = ReturnType<typeof lineReader>;

/** Lines of JSON first, then the rest of the stream as it comes. */
export function lineReader(socket: Socket) {
  const chunks = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let carry = Buffer.alloc(0);
  return {
    /** The next line, parsed; null when the stream ended first. */
    async line<T>(): Promise<T | null> {
      for (;;) {
        const end = carry.indexOf(10);
        if (end >= 0) {
          const text = carry.subarray(0, end).toString('utf8');
          carry = carry.subarray(end + 1);
          return JSON.parse(text) as T;
        }
        if (carry.length > MAX_LINE_BYTES) throw new Error('a control message longer than 64 KiB');
        const next = await chunks.next();
        if (next.done) return null;
        carry = Buffer.concat([carry, next.value]);
      }
    },
    async *rest(): AsyncGenerator<Buffer> {
      if (carry.length) yield carry;
      carry = Buffer.alloc(0);
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    },
  };
}

export async function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A connection to whoever holds the socket; null when nobody listens (no file, or one left by a dead process). */
function connect(address: string): Promise<Socket | null> {
  return new Promise((done, fail) => {
    const socket = createConnection({ path: address });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      done(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') done(null);
      else fail(new BackupError('socket_unavailable', `cannot connect to ${address}: ${error.code ?? error.message}`));
    });
  });
}

/**
 * Asks the holder of DATA_DIR's socket: null when nobody holds it, else its first answer and a
 * reader for what follows. A holder that does not answer is refused here, in one line.
 */
export async function ask(dataDir: string, request: ControlRequest) {
  assertDataDirIsFolder(dataDir);
  const socket = await connect(socketAddress(dataDir));
  if (!socket) return null;
  socket.on('error', () => {});
  const reader = lineReader(socket);
  sendLine(socket, request);
  try {
    const first = await within(
      reader.line<FirstAnswer>(),
      ANSWER_TIMEOUT_MS,
      () =>
        new BackupError(
          'not_answering',
          `a process holds DATA_DIR (${dataDir}) but does not answer on ${SOCKET_NAME}: wait for it to finish starting, or stop it, and try again`,
        ),
    );
    if (!first) throw new BackupError('not_answering', `the process holding DATA_DIR (${dataDir}) hung up without answering; try again`);
    return { first, reader, socket };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

const describeHolder = (answer: FirstAnswer | null) =>
  answer?.ok ? `a running parley ${answer.who} (pid ${answer.pid})` : 'another Parley process';

export interface Hold {
  /** Sets how requests other than `ping` are answered (by default: refused, naming the holder). */
  answer(handler: (request: ControlRequest, socket: Socket, reader: LineReader) => Promise<void>): void;
  /** Stops listening, cuts open connections and removes the socket file. */
  release(): Promise<void>;
}

/** Refuses with the holder's name when another process holds the socket; removes a dead one's file. */
async function claimAddress(dataDir: string, address: string): Promise<void> {
  const live = await connect(address);
  if (live) {
    live.on('error', () => {});
    const reader = lineReader(live);
    sendLine(live, { op: 'ping' });
    const answer = await within(reader.line<FirstAnswer>(), ANSWER_TIMEOUT_MS, () => new Error('no answer')).catch(() => null);
    live.destroy();
    throw new BackupError('data_dir_in_use', `DATA_DIR (${dataDir}) is in use by ${describeHolder(answer)}: one process at a time may open an embedded database; stop it first`);
  }
  let stat;
  try {
    stat = lstatSync(address);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new BackupError('socket_unavailable', `${address} exists and is not a socket; remove it`);
  try {
    unlinkSync(address);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    // A folder that became read-only keeps the socket of the process it stopped.
    throw new BackupError('socket_unavailable', `cannot remove the stale ${address}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

const CLAIM_LOCK = 'parley.sock.claim';
const CLAIM_WAIT_MS = 10_000;

/**
 * Held from looking at the socket to binding a new one. Two processes starting together on a
 * dead one's socket both found it stale: one removed it and bound its own, the other then removed
 * that live one (or failed to remove it and started without a hold), and both served one
 * database. A file created exclusively lets one of them through at a time; a claim left by a
 * process that died during it is taken over. Null where no file can be made (a read-only
 * DATA_DIR): the socket cannot be made there either.
 */
async function takeClaim(dataDir: string): Promise<(() => void) | null> {
  const path = join(dataDir, CLAIM_LOCK);
  const until = Date.now() + CLAIM_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return null;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    // An empty file is a claim being written: its process is alive.
    if (holder > 0 && !processAlive(holder)) rmSync(path, { force: true });
    else if (Date.now() > until) throw new BackupError('data_dir_in_use', `DATA_DIR (${dataDir}) is being taken by another Parley process (pid ${holder || 'unknown'}); stop it first`);
    else await new Promise((done) => setTimeout(done, 25));
  }
}

/**
 * Takes DATA_DIR's socket for `who`, or refuses in one line when another process holds it.
 * The socket is created 0600 (a narrowed umask, so it is never reachable by others, even briefly).
 */
export async function holdDataDir(dataDir: string, who: Holder): Promise<Hold> {
  const address = socketAddress(dataDir);
  assertDataDirIsFolder(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const releaseClaim = await takeClaim(dataDir);
  try {
    await claimAddress(dataDir, address);
    return await bindHold(dataDir, address, who);
  } finally {
    releaseClaim?.();
  }
}

async function bindHold(dataDir: string, address: string, who: Holder): Promise<Hold> {
  const refuse = async (_request: ControlRequest, socket: Socket) => {
    const doing = who === 'server' ? `the server on DATA_DIR (${dataDir}) is starting; try again in a moment` : `a parley ${who} is running on DATA_DIR (${dataDir}) (pid ${process.pid}); try again when it has finished`;
    socket.end(`${JSON.stringify({ ok: false, message: doing })}\n`);
  };
  let handler: (request: ControlRequest, socket: Socket, reader: LineReader) => Promise<void> = refuse;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = lineReader(socket);
    within(reader.line<ControlRequest>(), ANSWER_TIMEOUT_MS, () => new Error('no request'))
      .then(async (request) => {
        if (!request) socket.end();
        else if (request.op === 'ping') socket.end(`${JSON.stringify({ ok: true, who, pid: process.pid })}\n`);
        else await handler(request, socket, reader);
      })
      .catch(() => socket.destroy());
  });
  await new Promise<void>((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      fail(
        error.code === 'EADDRINUSE'
          ? new BackupError('data_dir_in_use', `DATA_DIR (${dataDir}) was just taken by another Parley process; stop it first`)
          : new BackupError('socket_unavailable', `cannot create ${address}: ${error.code ?? error.message}`),
      );
    });
    // The bind happens within listen(): the narrowed umask covers exactly the socket file.
    const umask = process.umask(0o177);
    try {
      server.listen(address, () => done());
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(address, 0o600);
  server.removeAllListeners('error');
  server.on('error', () => {});
  return {
    answer(next) {
      handler = next;
    },
    async release() {
      const closed = new Promise<void>((done) => server.close(() => done()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * For a command that opens the embedded database (migrate, users, export): DATA_DIR held while it
 * runs, refused in one line while a server or another command has it. Opened beside a running
 * server, a deactivation was answered as done and never seen by the server, and a migrate's
 * writes could cost the server's own on its next start. Null on PostgreSQL, and where no socket
 * can be made there (as the server then runs without one).
 */
export async function holdForCommand(config: { databaseUrl: string | null; dataDir: string }, who: Holder): Promise<Hold | null> {
  if (config.databaseUrl) return null;
  try {
    return await holdDataDir(config.dataDir, who);
  } catch (error) {
    if (error instanceof BackupError && error.code === 'socket_unavailable') return null;
    throw error;
  }
}
