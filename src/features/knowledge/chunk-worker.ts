// The thread that chunks uploaded documents (see chunker.ts).
import { parentPort } from 'node:worker_threads';
import { prepareChunks } from './prepare-chunks.js';

export interface ChunkJob {
  id: number;
  title: string;
  content: string;
  maxTokens: number;
}

parentPort!.on('message', (job: ChunkJob) => {
  try {
    parentPort!.postMessage({ id: job.id, chunks: prepareChunks(job.title, job.content, job.maxTokens) });
  } catch (error) {
    parentPort!.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) });
  }
});
