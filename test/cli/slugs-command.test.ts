// `parley slugs show|release <slug>`: a slug a chatbot gave up stays its account's (migrations/0031)
// until an operator frees it, for a name in dispute, a squatter's slugs or an account removed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSlugsCommand } from '../../src/cli-slugs.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { cliProcesses } from '../helpers/cli-process.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
/** A slug of this run's own (test files share nothing, but a PostgreSQL run keeps its database). */
const fresh = (base: string) => `${base}-${process.pid}-${Date.now().toString(36)}-${++n}`;
const slugs = (...argv: string[]) => runSlugsCommand(argv, t.database.sql);
const create = (user: RegisteredUser, payload: Record<string, unknown>) => t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload });
const remove = (user: RegisteredUser, id: string) => t.request({ method: 'DELETE', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken) });

describe('parley slugs show', () => {
  it('names the chatbot using a slug, the account holding one given up, or says it is free', async () => {
    const owner = await registerUser(t);
    const slug = fresh('acme-shown');
    expect(await slugs('show', slug)).toBe(`${slug}: free`);
    const bot = await createChatbot(t, owner, { name: 'Acme Shown', slug, is_public: true });
    expect(await slugs('show', slug.toUpperCase())).toBe(`${slug}: used by chatbot "Acme Shown" (${bot.id}, public) of ${owner.username}`);
    expect((await remove(owner, bot.id)).statusCode).toBe(204);
    expect(await slugs('show', slug)).toMatch(new RegExp(`^${slug}: given up by ${owner.username} on \\d{4}-\\d\\d-\\d\\dT[^ ]+Z, held for that account \\(parley slugs release ${slug} frees it\\)$`));
  });
});

describe('parley slugs release', () => {
  it('frees a slug given up, so another account may take it', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    const slug = fresh('acme-freed');
    const bot = await createChatbot(t, owner, { name: 'Acme', slug });
    await remove(owner, bot.id);
    expect((await create(other, { name: 'Acme too', slug })).statusCode).toBe(409);

    expect(await slugs('release', slug)).toMatch(new RegExp(`^${slug} is free: held by ${owner.username} since \\S+Z, now any account may take it$`));
    expect(await slugs('show', slug)).toBe(`${slug}: free`);
    const taken = await create(other, { name: 'Acme too', slug });
    expect(taken.statusCode, taken.body).toBe(201);
    expect(taken.json().slug).toBe(slug);
  });

  it('frees a slug held for an account removed from the database', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    const slug = fresh('acme-orphan');
    await createChatbot(t, owner, { name: 'Acme', slug });
    await t.database.sql.query('DELETE FROM users WHERE id = $1', [owner.id]);
    expect(await slugs('show', slug)).toMatch(new RegExp(`^${slug}: given up by an account since removed on `));
    expect((await create(other, { name: 'Acme', slug })).statusCode).toBe(409);
    expect(await slugs('release', slug)).toMatch(/is free: held by an account since removed since/);
    expect((await create(other, { name: 'Acme', slug })).statusCode).toBe(201);
  });

  it('refuses a slug a chatbot uses, and changes nothing', async () => {
    const [owner, other] = await Promise.all([registerUser(t), registerUser(t)]);
    const slug = fresh('acme-used');
    const bot = await createChatbot(t, owner, { name: 'Acme Used', slug });
    await expect(slugs('release', slug)).rejects.toThrow(`${slug} is used by chatbot "Acme Used" (${bot.id}, private) of ${owner.username}: nothing was changed`);
    expect((await create(other, { name: 'Acme', slug })).statusCode).toBe(409);
    // Still held once the chatbot goes: the refusal freed nothing ahead of time.
    await remove(owner, bot.id);
    expect((await create(other, { name: 'Acme', slug })).statusCode).toBe(409);
  });

  it('says a slug nobody holds is free, and refuses what is no slug or no command', async () => {
    const slug = fresh('never-held');
    expect(await slugs('release', slug)).toBe(`${slug} was not held: it is free`);
    await expect(slugs('release', 'Not a slug!')).rejects.toThrow('"Not a slug!" is no slug');
    await expect(slugs('release', '-edge')).rejects.toThrow('is no slug');
    await expect(slugs('release', 'a'.repeat(65))).rejects.toThrow('is no slug');
    await expect(slugs('take', slug)).rejects.toThrow('usage: parley slugs show|release <slug>');
    await expect(slugs('release')).rejects.toThrow('usage: parley slugs');
    await expect(slugs('release', slug, 'extra')).rejects.toThrow('usage: parley slugs');
  });
});

describe('parley slugs, as an operator runs it', () => {
  const cli = cliProcesses();
  afterAll(() => cli.cleanUp());

  it('reads the embedded database a server made, and prints one line', { timeout: 60_000 }, async () => {
    const dataDir = cli.tempDir('parley-slugs-');
    expect((await cli.run(['migrate'], { DATA_DIR: dataDir })).code).toBe(0);
    const shown = await cli.run(['slugs', 'show', 'Acme-Support'], { DATA_DIR: dataDir });
    expect(shown).toMatchObject({ code: 0, stdout: 'acme-support: free\n', stderr: '' });
    const refused = await cli.run(['slugs', 'release', 'acme support'], { DATA_DIR: dataDir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('parley: "acme support" is no slug (lowercase letters, digits and inner hyphens, at most 64): nothing was changed\n');
  });
});
