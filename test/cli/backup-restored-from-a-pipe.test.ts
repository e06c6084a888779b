// `parley restore` given its backup through a pipe: `parley restore <(aws s3 cp s3://…/x.backup -)`,
// `curl … | parley restore /dev/stdin`, or a named pipe. A restore reads its file more than once
// (its header, then its archive from an offset, its checksum again on a damaged one), which a pipe
// cannot give: a good backup piped in was refused as "is not a Parley backup", so the operator
// took the backup for broken; a named pipe nobody writes to yet left the restore waiting forever.
// Now both are refused at once, in one line that says to save the backup to a file first.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cliProcesses } from '../helpers/cli-process.js';

const cli = cliProcesses();
const { tempDir, run } = cli;

afterAll(() => cli.cleanUp());

describe('parley restore of a backup given through a pipe', () => {
  it('is refused at once, naming the pipe and what to do, and changes nothing', { timeout: 120_000 }, async () => {
    const sourceDir = tempDir('parley-pipe-source-');
    expect((await run(['migrate'], { DATA_DIR: sourceDir })).code).toBe(0);
    const good = join(tempDir('parley-pipe-files-'), 'good.backup');
    const made = await run(['backup', good], { DATA_DIR: sourceDir });
    expect(made.code, made.stderr).toBe(0);

    // Standard input from another command.
    const piped = tempDir('parley-pipe-target-');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const script = 'cat "$1" | "$2" "$3" restore /dev/stdin';
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', DATA_DIR: piped };
      execFile('sh', ['-c', script, 'sh', good, process.execPath, BIN], { env, timeout: 60_000 }, (error, _stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(/not a Parley backup/);
    expect(result.stderr.trim()).toMatch(/^parley: \/dev\/stdin is a pipe, not a file: .*save the backup to a file first/);
    expect(readdirSync(piped)).toEqual([]);

    // A named pipe that nobody writes to (yet): refused, not waited on.
    const fifo = join(tempDir('parley-pipe-fifo-'), 'incoming.backup');
    execFileSync('mkfifo', [fifo]);
    const target = tempDir('parley-pipe-target-');
    const waited = await run(['restore', fifo], { DATA_DIR: target }, { deadlineMs: 30_000 });
    expect(waited.code, 'the restore waited on the pipe until it was killed').toBe(1);
    expect(waited.stderr.trim()).toMatch(/incoming\.backup is a pipe, not a file: .*save the backup to a file first/);
    expect(readdirSync(target)).toEqual([]);

    // The same backup from a file restores.
    const restored = await run(['restore', good], { DATA_DIR: target });
    expect(restored.code, restored.stderr).toBe(0);
  });
});
