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
 * A worker is a second V8 heap with its own token table (~20 MB); an instance that took one
 * upload should not keep it for the rest of its life, so it ends after this long without work.
 */
const IDLE_WORKER_MS = 30_000;

/** One worker, started on first use: documents queue behind each other rather than share the CPU with requests. */
export function createChunker(idleMs = IDLE_WORKER_MS): Chunker {
  let worker: Worker | null = null;
  let idleTimer: NodeJS.Timeout | null = null;
  let nextId = 0;
  const pending = new Map<number, Pending>();

  function failAll(error: Error) {
    for (const job of pending.values()) job.reject(error);
    pending.clear();
  }

  function ensureWorker(): Worker {
    if (worker) return worker;
    const started = startWorker();
    started.on('message', (reply: Reply) => {
      const job = pending.get(reply.id);
      if (!job) return;
      pending.delete(reply.id);
      // An idle worker must not keep the process alive, nor its memory for long.
      if (pending.size === 0) {
        started.unref();
        idleTimer = setTimeout(() => {
          if (worker !== started || pending.size > 0) return;
          worker = null;
          void started.terminate();
        }, idleMs);
        idleTimer.unref();
      }
      if ('error' in reply) job.reject(new Error(reply.error));
      else job.resolve(reply.chunks);
    });
    started.on('error', (error) => failAll(error));
    started.on('exit', (code) => {
      if (worker === started) worker = null;
      failAll(new Error(`chunking worker exited (${code})`));
    });
    worker = started;
    return started;
  }

  return {
    prepare(title, content, maxTokens) {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = null;
      const target = ensureWorker();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        target.ref();
        target.postMessage({ id, title, content, maxTokens } satisfies ChunkJob);
      });
    },
    async close() {
      const closing = worker;
      worker = null;
      if (idleTimer) clearTimeout(idleTimer);
      if (closing) await closing.terminate();
    },
  };
}
