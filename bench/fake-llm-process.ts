/**
 * The fake LLM (test/fake-llm/fake-llm.ts) as its own process, with a control channel.
 *
 * Like test/fake-llm/main.ts it prints `{"url": …}` once listening; in addition it reads JSON commands
 * from stdin, one per line, and answers each with `{"id", "result"}` on stdout:
 *   {"id": 1, "cmd": "stats"}                                   → {received, open, closed}
 *   {"id": 2, "cmd": "setDelays", "firstTokenDelayMs": 0, "chunkDelayMs": 50} → true
 * The bench needs both (the open-stream count after clients leave; 50 ms chunk gaps) and cannot reach
 * them through main.ts. Requests are not recorded: thousands of streams must not grow its memory.
 *
 * With FAKE_LLM_LONG_PROMPT and FAKE_LLM_LONG_REPLY_BYTES, a last user message starting with that
 * prompt is answered with about that many bytes of text in pieces of about 2 KB (one chunk each), as
 * a model writing at length would; every other message gets the usual short echo.
 */
import { createInterface } from 'node:readline';
import { startFakeLlm, type RecordedRequest } from '../test/fake-llm/fake-llm.js';

const LONG_PROMPT = process.env.FAKE_LLM_LONG_PROMPT ?? '';
const LONG_BYTES = Number(process.env.FAKE_LLM_LONG_REPLY_BYTES ?? 0);
const PIECE = `${'The assistant keeps explaining every detail of the subject, one paragraph after another, '.repeat(23).replace(/ /g, '-')} `;

function reply(request: RecordedRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  if (LONG_PROMPT && LONG_BYTES > 0 && last.startsWith(LONG_PROMPT)) return PIECE.repeat(Math.ceil(LONG_BYTES / PIECE.length));
  return `You said: ${last.slice(0, 200)}`;
}

const fake = await startFakeLlm({
  firstTokenDelayMs: Number(process.env.FAKE_LLM_FIRST_TOKEN_DELAY_MS ?? 0),
  chunkDelayMs: Number(process.env.FAKE_LLM_CHUNK_DELAY_MS ?? 0),
  record: false,
  reply,
});
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  let command: { id?: number; cmd?: string; firstTokenDelayMs?: number; chunkDelayMs?: number };
  try {
    command = JSON.parse(line);
  } catch {
    return;
  }
  let result: unknown = null;
  if (command.cmd === 'stats') result = fake.stats();
  else if (command.cmd === 'setDelays') {
    fake.setDelays({ firstTokenDelayMs: command.firstTokenDelayMs, chunkDelayMs: command.chunkDelayMs });
    result = true;
  }
  process.stdout.write(`${JSON.stringify({ id: command.id, result })}\n`);
});

const stop = (): void => {
  void fake.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The bench closing our stdin (it died) means nobody will ever stop us otherwise.
process.stdin.on('end', stop);
