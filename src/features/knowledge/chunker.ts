// Chunking a large document takes seconds of CPU (Node 20's Intl.Segmenter costs about a
// microsecond per segment and BPE counts follow): done on the request's thread it would
// stall every other request of every tenant, so it runs on a worker thread.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError, validationError } from '../../errors/app-error.js';
import type { ChunkJob } from './chunk-worker.js';
import { chunkingCost } from './chunking-cost.js';
import { createFairQueue } from './fair-queue.js';
import type { PreparedChunk } from './prepare-chunks.js';

export interface Chunker {
  /**
   * The document's chunks. Documents of different owners take turns on the worker; one owner's
   * documents are chunked in the order they came. Rejects with 429 `rate_limited` when the
   * owner's documents already waiting would cost more than the chunker's share for one owner,
   * with 422 `validation_failed` on `content` when the document alone would.
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
  /** chunkingCost of the content: what it adds to the owner's waiting work. */
  cost: number;
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
 * Work of one owner's documents that may wait for the worker, as chunkingCost weighs it: four of
 * the largest (MAX_DOCUMENT_CHARS) of ASCII text, 15–20 s of chunking. Chunking is linear in the
 * text, so its weight measures the wait. Past it the owner's uploads would only wait longer for
 * their own earlier ones, long enough for clients and proxies (60 s is common) to give up on an
 * upload that is then stored anyway and sent again; a 429 with Retry-After says so at once.
 */
export const MAX_WAITING_WORK = 2_000_000;
/**
 * The most one document may weigh: as much as all of an owner's waiting work, so that one always
 * fits. The largest document of any natural script is within it (500,000 characters of Chinese
 * weigh 1,500,000); 500,000 "ﷺ", each 18 characters after NFKC, weigh 16,500,000.
 */
export const MAX_DOCUMENT_WORK = MAX_WAITING_WORK;
const RETRY_AFTER_S = 5;

/** A worker and the one job sent to it: when it ends, only that job fails. */
interface Running {
  thread: Worker;
  job: Job | null;
}

function tooMuchWork(limit: number): AppError {
  return validationError('content', `must be at most ${limit} bytes of UTF-8, counted after NFKC normalisation (where "ﷺ" is 18 characters)`, {
    detail: 'The document is more than this server chunks in one upload',
  });
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
 * by owner, weighed in work (fair-queue.ts), so no tenant's upload waits behind all of another's
 * nor behind a round of every other tenant's large ones.
 */
export function createChunker(idleMs = IDLE_WORKER_MS, maxWaitingWork = MAX_WAITING_WORK, maxDocumentWork = MAX_DOCUMENT_WORK): Chunker {
  const queue = createFairQueue<Job>();
  const waitingWork = new Map<string, number>();
  let nextId = 0;
  const worker = createWorkerSlot(idleMs, () => pump());

  function addWaiting(owner: string, work: number) {
    const total = (waitingWork.get(owner) ?? 0) + work;
    if (total > 0) waitingWork.set(owner, total);
    else waitingWork.delete(owner);
  }

  function pump() {
    if (worker.busy) return;
    const next = queue.next();
    if (!next) return worker.idle();
    addWaiting(next.owner, -next.item.cost);
    worker.run(next.item);
  }

  return {
    prepare(title, content, maxTokens, owner = '') {
      return new Promise((resolve, reject) => {
        const waiting = waitingWork.get(owner) ?? 0;
        // Weighed only as far as the bounds: past them the exact weight changes nothing.
        const cost = chunkingCost(content, Math.max(maxWaitingWork, maxDocumentWork) + 1);
        if (cost > maxDocumentWork) throw tooMuchWork(maxDocumentWork);
        // Always one document waiting per owner, whatever its size: the cap bounds a backlog, not a document.
        if (waiting > 0 && waiting + cost > maxWaitingWork) throw tooMuchWaiting(maxWaitingWork);
        queue.push(owner, { id: nextId++, owner, title, content, maxTokens, cost, resolve, reject }, cost);
        addWaiting(owner, cost);
        pump();
      });
    },
    async close() {
      waitingWork.clear();
      for (const job of queue.drain()) job.reject(new Error('chunking stopped'));
      await worker.close();
    },
  };
}
