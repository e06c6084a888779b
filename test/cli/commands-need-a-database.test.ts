// `parley users`, `slugs` and `export` read the database a server made. Run with a DATA_DIR where
// there is none (a mistyped path, or the default ./data from another working folder), they
// created a fresh 40 MB database there and answered `no local user named "alice"` or `no chatbot
// with id …`, as if the server's database lacked them. They now refuse in one line naming the
// folder they looked in, and create nothing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';

const cli = cliProcesses();

afterAll(() => cli.cleanUp());

describe('a command that reads the database, where there is none', () => {
  for (const args of [
    ['users', 'promote', 'alice'],
    ['slugs', 'release', 'acme-support'],
    ['export', '--chatbot', '00000000-0000-4000-8000-000000000000'],
  ]) {
    it(`parley ${args[0]}: one line naming the folder, and nothing created`, { timeout: 60_000 }, async () => {
      const dataDir = join(cli.tempDir('parley-no-database-'), 'data');
      const result = await cli.run(args, { DATA_DIR: dataDir });
      expect(result.code).toBe(1);
      expect(result.stderr, result.stderr).toMatch(/^parley: [^\n]+\n$/);
      expect(result.stderr).toContain(`no embedded database in ${join(dataDir, 'pglite')}`);
      expect(result.stderr).toMatch(/set DATA_DIR to the server's/);
      expect(existsSync(dataDir)).toBe(false);
    });
  }
});
