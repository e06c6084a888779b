/**
 * Runs the fake LLM as its own process (for benchmarks):
 *
 *   PORT=0 node --import tsx test/fake-llm/main.ts
 *
 * Prints one JSON line `{"url":"http://127.0.0.1:<port>/v1"}` on stdout once it listens, then stays up
 * until SIGTERM (or SIGINT). Optional env: FAKE_LLM_FIRST_TOKEN_DELAY_MS, FAKE_LLM_CHUNK_DELAY_MS.
 * Requests are not recorded (nobody can read them from outside the process; it saves memory).
 */
import { startFakeLlm } from './fake-llm.js';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

const fake = await startFakeLlm({
  port: envNumber('PORT', 0),
  firstTokenDelayMs: envNumber('FAKE_LLM_FIRST_TOKEN_DELAY_MS', 0),
  chunkDelayMs: envNumber('FAKE_LLM_CHUNK_DELAY_MS', 0),
  record: false,
});
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void fake.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
