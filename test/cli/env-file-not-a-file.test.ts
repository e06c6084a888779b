// A `.env` in the working folder that is a folder: what `docker run -v ./.env:/app/.env` leaves when
// the file was missing on the host. Every command says so in one line naming it, rather than
// `EISDIR: illegal operation on a directory, read`.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cliProcesses } from '../helpers/cli-process.js';

const cli = cliProcesses();

afterAll(() => cli.cleanUp());

function runIn(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, DATA_DIR: join(cwd, 'data'), PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('a .env that is a folder', () => {
  for (const command of ['serve', 'migrate', 'doctor', 'token']) {
    it(`is named by parley ${command} in one line, with what to do`, { timeout: 60_000 }, async () => {
      const cwd = cli.tempDir('parley-env-folder-');
      mkdirSync(join(cwd, '.env'));
      const result = await runIn(cwd, [command]);
      expect(result.stderr, result.stderr).toMatch(/^parley: configuration error: [^\n]+\n$/);
      expect(result.stderr).toContain(`${cwd}/.env is a folder, not a file of variables`);
      expect(result.stderr).toMatch(/remove it, or make it a file/);
      expect(result.code).toBe(1);
    });
  }
});
