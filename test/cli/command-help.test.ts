// `parley <command> --help` and arguments a command does not take. `parley migrate --help`
// applied the migrations (creating a database in a fresh DATA_DIR) and `parley serve --port 9000`
// started a server on the default port, ignoring what was asked; the others answered with
// node's parser message and no usage. Each now shows its usage, or refuses in one line with it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliProcesses } from '../helpers/cli-process.js';

const cli = cliProcesses();
afterAll(() => cli.cleanUp());

const COMMANDS = ['serve', 'migrate', 'users', 'slugs', 'token', 'export', 'doctor', 'backup', 'restore'];

/** The command run with a DATA_DIR nothing should create, stopped if it outlives the test's patience. */
async function run(args: string[]) {
  const dataDir = join(cli.tempDir('parley-help-'), 'data');
  const started = cli.start(args, { DATA_DIR: dataDir, PORT: '0' });
  const timer = setTimeout(() => started.child.kill('SIGKILL'), 20_000);
  const code = await started.exited.finally(() => clearTimeout(timer));
  return { code, stdout: started.stdout(), stderr: started.stderr(), created: existsSync(dataDir) };
}

describe('parley <command> --help', () => {
  it.each(COMMANDS)('%s: prints its usage and exits 0, doing nothing else', { timeout: 60_000 }, async (command) => {
    for (const flag of ['--help', '-h']) {
      const result = await run([command, flag]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage: parley ${command}\\b`));
      expect(result.stderr).toBe('');
      expect(result.created).toBe(false);
    }
  });
});

describe('arguments a command does not take', () => {
  it.each([
    ['serve', '--port', '9000'],
    ['migrate', '--dry-run'],
    ['migrate', 'now'],
  ])('parley %s %s: refused in one line with the usage, nothing started or created', { timeout: 60_000 }, async (...args) => {
    const result = await run(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^parley: parley ${args[0]} takes no arguments \\(got "${args[1]}"\\)[^\\n]*\\nusage: parley ${args[0]}\\b[^\\n]*\\n$`));
    expect(result.created).toBe(false);
  });

  it.each([
    ['users', 'promote', 'alice', '--force'],
    ['token', '--user-id', '1', '--username', 'a', '--forever'],
  ])('parley %s with an unknown option: one line naming it, then the usage', { timeout: 60_000 }, async (...args) => {
    const result = await run(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^parley: Unknown option '${args.at(-1)}'[^\\n]*\\nusage: parley ${args[0]}\\b[^\\n]*\\n$`));
    expect(result.created).toBe(false);
  });
});

describe('an option value a command cannot use', () => {
  it('parley token --expires 5x: one line naming --expires, then the usage', { timeout: 60_000 }, async () => {
    const result = await run(['token', '--user-id', '1', '--username', 'a', '--expires', '5x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^parley: --expires must be a duration such as [^\n]*or none \(got "5x"\)\nusage: parley token\b[^\n]*\n/);
  });
});
