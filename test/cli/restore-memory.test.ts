// `parley restore` holds none of the backup in memory, and unpacks only what a data folder holds.
// It read the whole file, then PGlite's loadDataDir gunzipped and unpacked it in memory before
// writing a file: a 242 MB database peaked at 1.1 GB, and a 2 GiB backup could not be read at all.
// Now the archive is checked, gunzipped and unpacked a piece at a time; since the file may come
// from anyone, crafted archives (names outside the folder, links, a cut stream) are refused.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createPglite } from '../../src/db/pglite.js';
import { folderBytes, tarHeader } from '../../src/features/backup/tar-folder.js';
import { cliProcesses, serveUntilHealthy } from '../helpers/cli-process.js';
import { httpCall as call } from '../helpers/http-call.js';
import { fillWithLargeConversations } from '../helpers/large-database.js';

const url = process.env.TEST_DATABASE_URL;

/** The highest RSS the kernel saw for the process (VmHWM) and its RSS now, sampled until it exits. */
function peakOf(pid: number): () => number {
  let peak = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      for (const field of ['VmHWM', 'VmRSS']) peak = Math.max(peak, Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024);
    } catch {
      // exited between two samples
    }
  };
  const timer = setInterval(sample, 10);
  return () => (clearInterval(timer), peak);
}

const mb = (bytes: number) => Math.round(bytes / 1e6);

describe.runIf(!url)('parley restore of a large embedded database', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  async function measuredRestore(file: string, dataDir: string) {
    const restore = processes.start(['restore', file], { DATA_DIR: dataDir });
    const peak = peakOf(restore.child.pid!);
    const code = await restore.exited;
    expect(code, restore.stderr()).toBe(0);
    return peak();
  }

  it('does not hold the backup in memory, and the restored folder serves the data', { timeout: 300_000 }, async () => {
    const dataDir = join(processes.tempDir('parley-restore-memory-'), 'data');
    const first = await serveUntilHealthy(processes, { DATA_DIR: dataDir });
    const registered = await call(first.base, 'POST', '/v1/auth/register', undefined, { username: 'large_restore', password: 'a long enough password' });
    const userId = (registered.body.user as { id: string }).id;
    const chatbot = (await call(first.base, 'POST', '/v1/chatbots', registered.body.access_token as string, { name: 'Large' })).body.id as string;
    first.server.child.kill('SIGTERM');
    expect(await first.server.exited).toBe(0);
    const files = processes.tempDir('parley-restore-memory-files-');
    // A restore of the near-empty database: what the command takes whatever the backup's size.
    const small = join(files, 'small.parley');
    expect((await processes.run(['backup', small], { DATA_DIR: dataDir })).code).toBe(0);

    await fillWithLargeConversations(join(dataDir, 'pglite'), userId, chatbot);
    const databaseBytes = await folderBytes(join(dataDir, 'pglite'));
    expect(databaseBytes).toBeGreaterThan(200 * 1024 * 1024);
    const large = join(files, 'large.parley');
    const backup = await processes.run(['backup', large], { DATA_DIR: dataDir });
    expect(backup.code, backup.stderr).toBe(0);

    const baseline = await measuredRestore(small, join(processes.tempDir('parley-restore-small-'), 'data'));
    const restoredDir = join(processes.tempDir('parley-restore-large-'), 'data');
    const peak = await measuredRestore(large, restoredDir);
    const grown = `a restore peaked at ${mb(peak)} MB (${mb(baseline)} MB for an empty database) for a ${mb(databaseBytes)} MB database`;
    expect(peak - baseline, grown).toBeLessThan(databaseBytes);
    expect(readdirSync(restoredDir).filter((name) => name.includes('.restoring-'))).toEqual([]);

    const { base, server } = await serveUntilHealthy(processes, { DATA_DIR: restoredDir });
    const login = await call(base, 'POST', '/v1/auth/login', undefined, { username: 'large_restore', password: 'a long enough password' });
    expect(login.status).toBe(200);
    const conversations = await call(base, 'GET', '/v1/conversations?limit=100', login.body.access_token as string);
    expect(conversations.status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const restored = createPglite(join(restoredDir, 'pglite'));
    const [counted] = (await restored.query<{ n: number; chars: number }>('SELECT count(*)::int AS n, sum(length(content))::bigint AS chars FROM messages WHERE user_id = $1', [userId])).rows;
    await restored.close();
    expect(counted).toEqual({ n: 3_000, chars: 96_000_000 });
  });
});

/** Exit 1 and one line saying why, after the line naming the folder it was building; returned. */
function refused(result: { code: number | null; stderr: string }): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr, result.stderr).toMatch(/^(restore: building the database of [^\n]+\n)?parley: [^\n]+\n$/);
  return result.stderr.trim().split('\n').at(-1)!;
}

/** A header block with another type (and link name), its checksum computed again. */
function retyped(block: Buffer, type: string, linkName = ''): Buffer {
  const header = Buffer.from(block);
  header.write(type, 156, 'latin1');
  header.write(linkName, 157, 'latin1');
  header.write(' '.repeat(8), 148, 'latin1');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${(sum % 262144).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return header;
}

const entry = (name: string, content: string) => {
  const data = Buffer.from(content);
  return [tarHeader({ name, mode: 0o600, size: data.length, mtimeMs: Date.now(), directory: false }), data, Buffer.alloc((512 - (data.length % 512)) % 512)];
};

/** Every file and folder under `dir`, with the size of each file. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((item) => `${join(item.parentPath, item.name)}:${item.isFile() ? readFileSync(join(item.parentPath, item.name)).length : 'dir'}`).sort();
}

describe.runIf(!url)('parley restore refuses a crafted archive', () => {
  const processes = cliProcesses();
  afterAll(() => processes.cleanUp());

  it('with a name outside the folder, an absolute name, a link, or a cut stream, changing nothing', { timeout: 180_000 }, async () => {
    const sourceDir = processes.tempDir('parley-restore-crafted-source-');
    expect((await processes.run(['migrate'], { DATA_DIR: sourceDir })).code).toBe(0);
    const files = processes.tempDir('parley-restore-crafted-files-');
    const good = join(files, 'good.parley');
    expect((await processes.run(['backup', good], { DATA_DIR: sourceDir })).code).toBe(0);
    const bytes = readFileSync(good);
    const headerEnd = bytes.indexOf(10, bytes.indexOf(10) + 1) + 1;
    const header = JSON.parse(bytes.subarray(bytes.indexOf(10) + 1, headerEnd - 1).toString('utf8')) as { database: { bytes: number; sha256: string } };
    const tar = gunzipSync(bytes.subarray(headerEnd));

    // The header made to match the crafted archive, as someone handing over a file would.
    const craft = (name: string, payload: Buffer) => {
      const database = { ...header.database, bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex') };
      const file = join(files, name);
      writeFileSync(file, Buffer.concat([bytes.subarray(0, bytes.indexOf(10) + 1), Buffer.from(`${JSON.stringify({ ...header, database })}\n`), payload]));
      return file;
    };
    const before = (extra: Buffer[]) => craft(`${createHash('md5').update(Buffer.concat(extra)).digest('hex')}.parley`, gzipSync(Buffer.concat([...extra, tar])));

    const targetDir = join(processes.tempDir('parley-restore-crafted-target-'), 'data');
    const restore = (file: string) => processes.run(['restore', file], { DATA_DIR: targetDir });
    expect((await restore(good)).code).toBe(0);
    const outside = processes.tempDir('parley-restore-outside-');
    const unchanged = listing(targetDir);

    expect(refused(await restore(before(entry('/../escape', 'out'))))).toMatch(/names "\/\.\.\/escape", outside the database's folder$/);
    expect(refused(await restore(before(entry('base/../../escape', 'out'))))).toMatch(/outside the database's folder$/);
    expect(refused(await restore(before(entry(`/${outside}/escaped`, 'out'))))).toMatch(/outside the database's folder$/);
    expect(refused(await restore(before(entry(`${outside}/escaped`, 'out'))))).toMatch(/whose folder it does not hold$/);
    const link = retyped(tarHeader({ name: '/evil', mode: 0o777, size: 0, mtimeMs: Date.now(), directory: false }), '2', outside);
    expect(refused(await restore(before([link])))).toMatch(/holds \/evil, a symbolic link, which a database folder never does$/);
    const hardLink = retyped(tarHeader({ name: '/evil', mode: 0o777, size: 0, mtimeMs: Date.now(), directory: false }), '1', '/PG_VERSION');
    expect(refused(await restore(before([hardLink])))).toMatch(/a hard link/);
    const pax = retyped(tarHeader({ name: '/pax', mode: 0o600, size: 0, mtimeMs: Date.now(), directory: false }), 'x');
    expect(refused(await restore(before([pax])))).toMatch(/a pax extended header/);

    // A file declaring more bytes than the archive has; then a gzip stream cut short.
    const oversized = Buffer.from(tarHeader({ name: '/too_big', mode: 0o600, size: 10 * 1024 * 1024, mtimeMs: Date.now(), directory: false }));
    expect(refused(await restore(craft('oversized.parley', gzipSync(Buffer.concat([tar.subarray(0, tar.length - 1024), oversized, Buffer.alloc(512)])))))).toMatch(/the archive ends inside \/too_big/);
    const whole = gzipSync(tar);
    expect(refused(await restore(craft('truncated.parley', whole.subarray(0, Math.floor(whole.length / 2)))))).toMatch(/its archive is not a whole gzip stream/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 100] = flipped[flipped.length - 100]! ^ 0xff;
    writeFileSync(join(files, 'flipped.parley'), flipped);
    expect(refused(await restore(join(files, 'flipped.parley')))).toMatch(/flipped\.parley is cut short or damaged/);

    expect(listing(targetDir)).toEqual(unchanged);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(targetDir, 'escape')) || existsSync(join(targetDir, '..', 'escape'))).toBe(false);
    // The good backup still restores over it.
    expect((await restore(good)).code).toBe(0);
  });
});
