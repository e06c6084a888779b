// Chunking a large document takes seconds of CPU (Node 20's Intl.Segmenter costs about a
// microsecond per segment and BPE counts follow): done on the request's thread it would
// stall every other request of every tenant, so it runs on a worker thread.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError } from '../../errors/app-error.js';
import type { ChunkJob } from './chunk-worker.js';
import { createFairQueue } from './fair-queue.js';
import type { PreparedChunk } from './prepare-chunks.js';

export interface Chunker {
  /**
   * The document's chunks. Documents of different owners take turns on the worker; one owner's
   * documents are chunked in the order they came. Rejects with 429 `rate_limited` when the
   * owner's documents already waiting hold more than the chunker's share for one owner.
   */
  prepare(title: string, content: string, maxTokens: number, owner?: string): Promise<PreparedChunk[]>;
  close(): Promise<void>;
}

type Reply = { id: number; chunks: PreparedChunk[] } | { id: number; error: string };

interface Job {
  id: number;
  owner: string;
  title: string;
  content: string;
  maxTokens: number;
  resolve(chunks: PreparedChunk[]): void;
  reject(error: Error): void;
}

function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./chunk-worker.js', import.meta.url));
  // Run from source (tests, tsx) the worker is TypeScript too. Node 20 gives a worker no ESM
  // loader hooks (--import in its execArgv is ignored), so it loads the file through tsx's require.
  const tsx = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const file = fileURLToPath(new URL('./chunk-worker.ts', import.meta.url));
  return new Worker(`require(${JSON.stringify(tsx)}).require(${JSON.stringify(file)}, ${JSON.stringify(import.meta.url)});`, { eval: true });
}

/**
 * A worker is a second V8 heap: chunking a 1 MB document grows the process by about 100 MB while
 * it lives, and an instance that took one upload should not keep that. Starting one again costs
 * ~0.2 s, little next to the seconds a large document takes, so it ends soon after its last job.
 */
const IDLE_WORKER_MS = 5_000;

/**
 * Characters of one owner's documents that may wait for the worker: four of the largest
 * (MAX_DOCUMENT_CHARS), 15–20 s of chunking. Chunking is linear in the text, so characters
 * measure the wait. Past it the owner's uploads would only wait longer for their own earlier
 * ones, long enough for clients and proxies (60 s is common) to give up on an upload that is
 * then stored anyway and sent again; a 429 with Retry-After says what happened at once.
 */
export const MAX_WAITING_CHARS = 2_000_000;
const RETRY_AFTER_S = 5;

/** A worker and the one job sent to it: when it ends, only that job fails. */
interface Running {
  thread: Worker;
  job: Job | null;
}

function tooMuchWaiting(limit: number): AppError {
  return new AppError('rate_limited', 'Documents of this account are still waiting to be chunked; try again once they are done', {
    rateLimit: { policy: 'knowledge_queue', limit, windowSeconds: RETRY_AFTER_S, remaining: 0, resetSeconds: RETRY_AFTER_S },
  });
}

/** The one worker: started on first use, one job in it at a time, ended a while after its last. */
interface WorkerSlot {
  readonly busy: boolean;
  run(job: Job): void;
  /** Nothing more to do for now: the worker may end. */
  idle(): void;
  close(): Promise<void>;
}

function createWorkerSlot(idleMs: number, ended: (job: Job) => void): WorkerSlot {
  let current: Running | null = null;
  let idleTimer: NodeJS.Timeout | null = null;

  function stopTimer() {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
  }

  /** Settles the worker's job; `ended` may hand the worker its next one. */
  function finish(running: Running, settle: (job: Job) => void) {
    const job = running.job;
    if (!job) return;
    running.job = null;
    settle(job);
    ended(job);
  }

  function start(): Running {
    const running: Running = { thread: startWorker(), job: null };
    running.thread.on('message', (reply: Reply) => {
      if (running.job?.id !== reply.id) return;
      finish(running, (job) => ('error' in reply ? job.reject(new Error(reply.error)) : job.resolve(reply.chunks)));
    });
    // A worker that failed or ended takes only its own job with it; the next job gets a new worker.
    // One ended for idleness may report its exit after the next one took a job: that is not its to fail.
    const gone = (error: Error) => {
      if (current === running) current = null;
      finish(running, (job) => job.reject(error));
    };
    running.thread.on('error', gone);
    running.thread.on('exit', (code) => gone(new Error(`chunking worker exited (${code})`)));
    return running;
  }

  return {
    get busy() {
      return Boolean(current?.job);
    },
    run(job) {
      stopTimer();
      current ??= start();
      current.job = job;
      current.thread.ref();
      current.thread.postMessage({ id: job.id, title: job.title, content: job.content, maxTokens: job.maxTokens } satisfies ChunkJob);
    },
    idle() {
      const running = current;
      if (!running) return;
      // An idle worker must not keep the process alive, nor its memory for long.
      stopTimer();
      running.thread.unref();
      idleTimer = setTimeout(() => {
        if (current !== running || running.job) return;
        current = null;
        void running.thread.terminate();
      }, idleMs);
      idleTimer.unref();
    },
    async close() {
      const closing = current;
      current = null;
      stopTimer();
      if (closing) await closing.thread.terminate();
    },
  };
}

/**
 * Documents wait for the worker rather than share the CPU with requests, and they wait in turns
 * per owner (fair-queue.ts) so no tenant's uploads wait behind all of another's.
 */
export function createChunker(idleMs = IDLE_WORKER_MS, maxWaitingChars = MAX_WAITING_CHARS): Chunker {
  const queue = createFairQueue<Job>();
  const waitingChars = new Map<string, number>();
  let nextId = 0;
  const worker = createWorkerSlot(idleMs, (job) => {
    queue.done(job.owner);
    pump();
  });

  function addWaiting(owner: string, chars: number) {
    const total = (waitingChars.get(owner) ?? 0) + chars;
    if (total > 0) waitingChars.set(owner, total);
    else waitingChars.delete(owner);
  }

  function pump() {
    if (worker.busy) return;
    const next = queue.next();
    if (!next) return worker.idle();
    addWaiting(next.owner, -next.item.content.length);
    worker.run(next.item);
  }

  return {
    prepare(title, content, maxTokens, owner = '') {
      return new Promise((resolve, reject) => {
        const waiting = waitingChars.get(owner) ?? 0;
        // Always one document waiting per owner, whatever its size: the cap bounds a backlog, not a document.
        if (waiting > 0 && waiting + content.length > maxWaitingChars) throw tooMuchWaiting(maxWaitingChars);
        queue.push(owner, { id: nextId++, owner, title, content, maxTokens, resolve, reject });
        addWaiting(owner, content.length);
        pump();
      });
    },
    async close() {
      waitingChars.clear();
      for (const job of queue.drain()) job.reject(new Error('chunking stopped'));
      await worker.close();
    },
  };
}
