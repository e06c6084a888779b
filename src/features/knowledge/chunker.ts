// Chunking a large document takes seconds of CPU (Node 20's Intl.Segmenter costs about a
// microsecond per segment and BPE counts follow): done on the request's thread it would
// stall every other request of every tenant, so it runs on a worker thread.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ChunkJob } from './chunk-worker.js';
import type { PreparedChunk } from './prepare-chunks.js';

export interface Chunker {
  prepare(title: string, content: string, maxTokens: number): Promise<PreparedChunk[]>;
  close(): Promise<void>;
}

type Reply = { id: number; chunks: PreparedChunk[] } | { id: number; error: string };
interface Pending {
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

/** A worker and the jobs sent to it: when it ends, only its own jobs fail. */
interface Running {
  thread: Worker;
  jobs: Map<number, Pending>;
}

/** One worker, started on first use: documents queue behind each other rather than share the CPU with requests. */
export function createChunker(idleMs = IDLE_WORKER_MS): Chunker {
  let current: Running | null = null;
  let idleTimer: NodeJS.Timeout | null = null;
  let nextId = 0;

  function failAll(running: Running, error: Error) {
    for (const job of running.jobs.values()) job.reject(error);
    running.jobs.clear();
  }

  /** Ends the idle worker after a while; a job sent in between clears the timer. */
  function endWhenIdle(running: Running) {
    running.thread.unref();
    idleTimer = setTimeout(() => {
      if (current !== running || running.jobs.size > 0) return;
      current = null;
      void running.thread.terminate();
    }, idleMs);
    idleTimer.unref();
  }

  function ensureWorker(): Running {
    if (current) return current;
    const running: Running = { thread: startWorker(), jobs: new Map() };
    running.thread.on('message', (reply: Reply) => {
      const job = running.jobs.get(reply.id);
      if (!job) return;
      running.jobs.delete(reply.id);
      // An idle worker must not keep the process alive, nor its memory for long.
      if (running.jobs.size === 0) endWhenIdle(running);
      if ('error' in reply) job.reject(new Error(reply.error));
      else job.resolve(reply.chunks);
    });
    running.thread.on('error', (error) => failAll(running, error));
    // A worker ended for idleness may report its exit after the next one took new jobs: those are not its to fail.
    running.thread.on('exit', (code) => {
      if (current === running) current = null;
      failAll(running, new Error(`chunking worker exited (${code})`));
    });
    current = running;
    return running;
  }

  return {
    prepare(title, content, maxTokens) {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = null;
      const running = ensureWorker();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        running.jobs.set(id, { resolve, reject });
        running.thread.ref();
        running.thread.postMessage({ id, title, content, maxTokens } satisfies ChunkJob);
      });
    },
    async close() {
      const closing = current;
      current = null;
      if (idleTimer) clearTimeout(idleTimer);
      if (closing) await closing.thread.terminate();
    },
  };
}
