// SIGTERM as an orchestrator sends it (§6.1, §11): a stream still running when the grace ends
// gets its final `message.end` (interrupted) before its connection closes, the reply is stored,
// and the process closes its database and exits 0. The same for SIGINT (Ctrl-C) and SIGHUP (the
// terminal or SSH session that started it closing), which Node left to end the process at once:
// running replies cut, their conversations held until the next start.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { parseSse } from '../helpers/chat.js';
import { freePort } from '../helpers/ports.js';

const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'parley.js');

let fake: FakeLlm;
const dirs: string[] = [];
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});


function serve(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));
  dirs.push(dir);
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DATA_DIR: join(dir, 'data'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

async function waitForHealth(base: string, exited: Promise<unknown>) {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 900 && !gone; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the server did not start');
}

describe.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('%s with a stream still running', (signal) => {
  it('ends the stream with message.end (interrupted), stores the reply and exits 0', { timeout: 150_000 }, async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = serve({
      PORT: String(port),
      LLM_PROVIDER: 'openai-compatible',
      LLM_BASE_URL: fake.url,
      LLM_API_KEY: 'test-key',
      LLM_MODEL: 'fake-model',
      SHUTDOWN_GRACE_MS: '300',
    });
    try {
      await waitForHealth(base, server.exited);
      const registered = await fetch(`${base}/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: `shutdown_${signal.toLowerCase()}`, password: 'a long enough password' }),
      });
      const { access_token: token } = (await registered.json()) as { access_token: string };
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const conversation = (await (await fetch(`${base}/v1/conversations`, { method: 'POST', headers: auth, body: '{}' })).json()) as { id: string };

      fake.setReply(() => 'word <|endoftext|> '.repeat(100));
      fake.setDelays({ chunkDelayMs: 100 });
      const response = await fetch(`${base}/v1/conversations/${conversation.id}/messages`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ content: 'talk for a long time', stream: true }),
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let body = '';
      // Signal once the reply is under way, as an orchestrator's SIGTERM arrives mid-stream.
      while (!body.includes('message.delta')) {
        const { value, done } = await reader.read();
        if (done) break;
        body += decoder.decode(value, { stream: true });
      }
      server.child.kill(signal);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        body += decoder.decode(value, { stream: true });
      }
      const events = parseSse(body);
      const last = events.at(-1)!;
      expect(last.event, body.slice(-500)).toBe('message.end');
      expect(last.data.reply.status).toBe('interrupted');
      expect(last.data.reply.content.length).toBeGreaterThan(0);

      expect(await server.exited, server.stderr()).toBe(0);
      expect(server.stdout()).toMatch(/"msg":"stopped"/);
      expect(server.stderr()).toBe('');
    } finally {
      fake.reset();
      server.child.kill('SIGKILL');
    }
  });
});
