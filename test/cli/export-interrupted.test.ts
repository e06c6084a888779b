// A `parley export --output <file>` stopped while it writes (Ctrl-C, a cron job's timeout, a closed
// terminal). Its partial file must go with it: an export named by date (`export-$(date +%F).json`)
// never meets its stale partial again, so each stopped run would leave one beside the exports, as
// large as what it had written. The database's folder is left free for the next command.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { fillWithLargeConversations } from '../helpers/large-database.js';

const url = process.env.TEST_DATABASE_URL;
const cli = cliProcesses();

afterAll(() => cli.cleanUp());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The conversations are written straight into the embedded database's folder.
describe.runIf(!url)('a parley export stopped while it writes its file', () => {
  let dataDir = '';
  let chatbot = '';
  beforeAll(async () => {
    dataDir = join(cli.tempDir('parley-export-stopped-'), 'data');
    const { base, server } = await serveUntilHealthy(cli, { DATA_DIR: dataDir });
    const registered = await call(base, 'POST', '/v1/auth/register', undefined, { username: 'stopped_export', password: 'a long enough password' });
    const token = registered.body.access_token as string;
    chatbot = (await call(base, 'POST', '/v1/chatbots', token, { name: 'Large' })).body.id as string;
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // About 35 MB of conversations: the file takes long enough to write to be stopped halfway.
    await fillWithLargeConversations(join(dataDir, 'pglite'), (registered.body.user as { id: string }).id, chatbot, 10);
  }, 120_000);

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`by ${signal} leaves neither the file nor a partial one, says so, and frees DATA_DIR`, { timeout: 120_000 }, async () => {
      const out = cli.tempDir('parley-export-stopped-out-');
      const file = join(out, 'export-2026-11-30.json');
      const exporting = cli.start(['export', '--chatbot', chatbot, '--output', file], { DATA_DIR: dataDir });
      const deadline = Date.now() + 60_000;
      const partial = () => readdirSync(out).some((name) => name.endsWith('.partial'));
      while (!partial() && exporting.child.exitCode === null && Date.now() < deadline) await sleep(5);
      expect(partial(), `no partial file within 60 s:\n${exporting.stderr()}`).toBe(true);
      exporting.child.kill(signal);
      expect(await exporting.exited, exporting.stderr()).toBe(code);
      expect(exporting.stderr()).toMatch(new RegExp(`^export: stopped by ${signal} before the export was complete; nothing was kept$`, 'm'));
      expect(readdirSync(out)).toEqual([]);
      expect(existsSync(join(dataDir, 'parley.sock'))).toBe(false);

      const next = await cli.run(['export', '--chatbot', chatbot, '--output', file], { DATA_DIR: dataDir });
      expect(next.code, next.stderr).toBe(0);
      expect(readdirSync(out)).toEqual(['export-2026-11-30.json']);
    });
  }
});
