// docs/deploy.md holds only what runs: every code block is marked, every marked block has a test
// that runs it (this file and its siblings in test/docs/), every variable it names is one Parley
// reads, the env fragments load through Parley's configuration, the systemd unit passes
// `systemd-analyze verify` and keeps the promises the guide makes for it, and the proxy
// configurations carry the directives event streams and TRUST_PROXY need.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DRAIN_AFTER_GRACE_MS } from '../../src/compose.js';
import { loadConfig } from '../../src/config/config.js';
import { CONFIG_VARIABLES } from '../../src/config/variables.js';
import { DOCUMENT_BODY_LIMIT } from '../../src/features/knowledge/knowledge.schemas.js';
import { envOf, guideBlock, parseGuide, readGuide, removeTempDirs, ROOT, tempDir } from './guide.js';

afterAll(removeTempDirs);

/** Which test file runs each tested block (each must name the block it runs). */
const RUNNERS: Record<string, string> = {
  'self-hosted-roles': 'deploy-postgres.test.ts',
  'production-env': 'install.ts',
  migrate: 'deploy-postgres.test.ts',
  serve: 'install.ts',
  ready: 'deploy-postgres.test.ts',
  smoke: 'deploy-postgres.test.ts',
  metrics: 'deploy-postgres.test.ts',
  'row-security-check': 'deploy-postgres.test.ts',
  'supabase-roles': 'deploy-managed.test.ts',
  'supabase-direct': 'deploy-managed.test.ts',
  'supabase-app-login': 'deploy-managed.test.ts',
  'supabase-transaction-pooler': 'deploy-managed.test.ts',
  'supabase-jwt': 'deploy-managed.test.ts',
  'supabase-token': 'deploy-managed.test.ts',
  'neon-direct': 'deploy-managed.test.ts',
  'neon-app-login': 'deploy-managed.test.ts',
  'neon-pooled': 'deploy-managed.test.ts',
  'instances-env': 'deploy-instances.test.ts',
  'systemd-unit': 'deploy-guide.test.ts',
  nginx: 'deploy-guide.test.ts',
  caddy: 'deploy-guide.test.ts',
  'sse-check': 'deploy-proxy.test.ts',
  'model-openai': 'deploy-guide.test.ts',
  'model-compatible': 'deploy-proxy.test.ts',
  'model-ollama': 'deploy-guide.test.ts',
  'model-openrouter': 'deploy-guide.test.ts',
};

/** Upper-case words in the guide that are not Parley's variables, and why. */
const NOT_VARIABLES: Record<string, string> = {
  ON_ERROR_STOP: "psql's own variable, in the command that runs the SQL",
  MALLOC_ARENA_MAX: "glibc's allocator, read by the C library before Parley starts (bin/parley.js's #! line)",
  // glibc spells these two with a last underscore (MALLOC_MMAP_THRESHOLD_), looked up without it.
  MALLOC_MMAP_THRESHOLD: "glibc's allocator, read by the C library before Parley starts",
  MALLOC_TRIM_THRESHOLD: "glibc's allocator, read by the C library before Parley starts",
  SQL_ASCII: "a PostgreSQL encoding, which Parley refuses (test/db/database-encoding.test.ts)",
};

const variable = (name: string) => CONFIG_VARIABLES.find((v) => v.name === name || v.aliases?.includes(name));
const defaultOf = (name: string) => variable(name)!.default.replace(/`/g, '');

/** The smallest production environment the env fragments are added to. */
const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48) };

describe('docs/deploy.md: its blocks', () => {
  const blocks = parseGuide(readGuide());

  it('marks every code block, names each tested block once, and runs each of them', () => {
    const names = blocks.filter((b) => b.name).map((b) => b.name!);
    expect(new Set(names).size, 'a name marks two blocks').toBe(names.length);
    expect([...names].sort()).toEqual(Object.keys(RUNNERS).sort());
    for (const [name, file] of Object.entries(RUNNERS)) {
      const source = readFileSync(join(ROOT, 'test', 'docs', file), 'utf8');
      expect(source, `${file} does not run the block "${name}"`).toContain(`'${name}'`);
    }
  });

  it('leaves few blocks untested, each saying why', () => {
    const untested = blocks.filter((b) => !b.name);
    expect(untested.length).toBeLessThanOrEqual(2);
    for (const block of untested) expect(block.reason!.length, `docs/deploy.md:${block.line}`).toBeGreaterThanOrEqual(40);
  });

  it('names only variables Parley reads (src/config/variables.ts)', () => {
    const guide = readGuide();
    const named = new Set<string>();
    for (const match of guide.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?:_…)?/g)) named.add(match[0]);
    for (const match of guide.matchAll(/(?:^|[\s=(])([A-Z][A-Z0-9_]*)=/gm)) named.add(match[1]!);
    const unknown = [...named].filter((name) => {
      if (NOT_VARIABLES[name.replace(/_$/, '')]) return false;
      if (name.endsWith('_…')) return !CONFIG_VARIABLES.some((v) => v.name.startsWith(name.slice(0, -1)));
      return !variable(name);
    });
    expect(unknown).toEqual([]);
    expect(named.size).toBeGreaterThan(30);
  });
});

describe('docs/deploy.md: the env fragments load as the guide says', () => {
  it('Supabase and Neon, direct and through a transaction pooler: PostgreSQL URLs with sslmode only', () => {
    const pooled = ['supabase-transaction-pooler', 'neon-pooled'];
    for (const name of ['supabase-direct', 'neon-direct', ...pooled]) {
      const env = envOf(name);
      const config = loadConfig({ ...PRODUCTION, ...env });
      expect(config.databaseAppRole).toBe('parley_app');
      for (const url of [config.databaseUrl!, ...(config.databaseAppUrl ? [config.databaseAppUrl] : [])].map((u) => new URL(u))) {
        expect([...url.searchParams.keys()], name).toEqual(['sslmode']);
        expect(url.searchParams.get('sslmode')).toBe('require');
      }
      // Through a pooler, requests log in as parley_app themselves, with no named statements.
      expect(config.databasePrepare, name).toBe(!pooled.includes(name));
      expect(config.databaseAppUrl !== null, name).toBe(pooled.includes(name));
    }
    expect(new URL(envOf('neon-direct').DATABASE_URL!).hostname).not.toContain('-pooler');
    expect(new URL(envOf('neon-pooled').DATABASE_URL!).hostname).not.toContain('-pooler');
    expect(new URL(envOf('neon-pooled').DATABASE_APP_URL!).hostname).toContain('-pooler');
    expect(new URL(envOf('supabase-transaction-pooler').DATABASE_APP_URL!).port).toBe('6543');
  });

  it('the Supabase preset: tokens from the project, audience authenticated', () => {
    const config = loadConfig({ ...PRODUCTION, ...envOf('supabase-jwt') });
    expect(config.externalIssuers).toEqual([
      expect.objectContaining({ name: 'supabase', kind: 'secret', issuer: 'https://your-project-ref.supabase.co/auth/v1', audience: 'authenticated' }),
    ]);
  });

  it('several instances: Redis, failing open', () => {
    const config = loadConfig({ ...PRODUCTION, ...envOf('instances-env') });
    expect(config.redisUrl).toBe('redis://10.0.0.5:6379');
    expect(config.redisFailureMode).toBe('open');
  });

  it('models: OpenAI, an OpenAI-compatible server, Ollama, OpenRouter', () => {
    const llm = (name: string) => loadConfig({ ...PRODUCTION, ...envOf(name) }).llm;
    expect(llm('model-openai')).toMatchObject({ provider: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-your-key', model: 'gpt-4o-mini', models: ['gpt-4o-mini', 'gpt-4o'] });
    expect(llm('model-compatible')).toMatchObject({ provider: 'openai-compatible', baseUrl: 'http://10.0.0.20:8001/v1', apiKey: 'the-key-given-to-vllm', model: 'Qwen/Qwen2.5-7B-Instruct', timeoutMs: 60_000 });
    expect(llm('model-ollama')).toMatchObject({ provider: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: null, model: 'llama3.2' });
    expect(llm('model-openrouter')).toMatchObject({ provider: 'openrouter', baseUrl: 'https://openrouter.ai/api/v1', apiKey: 'sk-or-your-key', model: 'anthropic/claude-3.5-haiku' });
  });
});

/** `key=value` lines of a unit file's [Service] section, in order (keys may repeat). */
function serviceSettings(unit: string): Array<[string, string]> {
  const service = unit.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  return service
    .split('\n')
    .filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as [string, string]);
}

const seconds = (value: string) => {
  const match = /^(\d+)(ms|s|min)?$/.exec(value.trim());
  if (!match) throw new Error(`not a systemd time span this test reads: ${value}`);
  return Number(match[1]) * (match[2] === 'ms' ? 0.001 : match[2] === 'min' ? 60 : 1);
};

describe('docs/deploy.md: the systemd unit', () => {
  const unit = guideBlock('systemd-unit');
  const settings = serviceSettings(unit);
  const one = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v);

  it('passes systemd-analyze verify, with the install folder and environment file of this machine', () => {
    // Without systemd-analyze (a machine without systemd), the keys below are what is checked.
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) return;
    const dir = tempDir('parley-unit-');
    writeFileSync(join(dir, 'parley.env'), 'NODE_ENV=production\n');
    const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
    const local = unit.split('/opt/parley').join(ROOT.replace(/\/$/, '')).split('/etc/parley/parley.env').join(join(dir, 'parley.env')).split('/usr/bin/node').join(node);
    writeFileSync(join(dir, 'parley.service'), local);
    const verified = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'parley.service')], { encoding: 'utf8' });
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stderr).toBe('');
  });

  it('starts bin/parley.js serve from the install folder, with variables Parley reads', () => {
    const [execStart] = one('ExecStart');
    const [, ...rest] = execStart!.split(/\s+/);
    const flags = rest.slice(0, -2);
    const [script, command] = rest.slice(-2);
    // The environment and Node.js flags npm start and npx parley get from the script's own #! line
    // (glibc's allocator settings and the young generation's cap: docs/decisions.md), and so do the
    // unit and the guide's way to serve by hand.
    const shebang = readFileSync(join(ROOT, 'bin/parley.js'), 'utf8').split('\n', 1)[0]!;
    const allocator = one('Environment').filter((line) => line.startsWith('MALLOC_'));
    expect(allocator).toHaveLength(1);
    expect(shebang).toBe(`#!/usr/bin/env -S ${allocator[0]} node ${flags.join(' ')}`);
    expect(flags.length).toBeGreaterThan(0);
    expect(guideBlock('serve')).toContain(`exec env ${allocator[0]} node ${flags.join(' ')} bin/parley.js serve`);
    expect(script!.startsWith('/opt/parley/')).toBe(true);
    expect(existsSync(join(ROOT, script!.slice('/opt/parley/'.length)))).toBe(true);
    expect(command).toBe('serve');
    expect(one('WorkingDirectory')).toEqual(['/opt/parley']);
    expect(one('EnvironmentFile')).toEqual(['/etc/parley/parley.env']);
    const environment = one('Environment');
    expect(environment.length).toBeGreaterThan(0);
    for (const assignment of environment.filter((line) => !line.startsWith('MALLOC_'))) expect(variable(assignment.split('=')[0]!), assignment).toBeDefined();
  });

  it('restarts on failure, stops with SIGTERM, waits longer than the shutdown takes, allows many streams', () => {
    expect(one('Restart')).toEqual(['on-failure']);
    expect(one('KillSignal')).toEqual(['SIGTERM']);
    expect(Number(one('LimitNOFILE')[0])).toBeGreaterThanOrEqual(65_536);
    // server.ts: the grace, then stores and final events (DRAIN_AFTER_GRACE_MS each), cutting
    // connections 1 s later, then closing the database (client.ts close(): 5 s).
    const grace = Number(/SHUTDOWN_GRACE_MS=(\d+)/.exec(guideBlock('production-env'))?.[1] ?? defaultOf('SHUTDOWN_GRACE_MS'));
    const longest = grace + 2 * DRAIN_AFTER_GRACE_MS + 1_000 + 5_000;
    expect(seconds(one('TimeoutStopSec')[0]!) * 1000).toBeGreaterThan(longest);
    expect(readGuide()).toContain(`\`SHUTDOWN_GRACE_MS\` plus those ${(longest - grace) / 1000} s`);
  });
});

describe('docs/deploy.md: the proxies', () => {
  const heartbeatS = Number(defaultOf('SSE_HEARTBEAT_MS')) / 1000;
  // A reply that is not streamed sends nothing until the model answered, after every retry.
  const slowestWholeReplyS = (Number(defaultOf('LLM_TIMEOUT_MS')) * (Number(defaultOf('LLM_MAX_RETRIES')) + 1)) / 1000;

  it('nginx: no buffering, HTTP/1.1 kept alive upstream, long reads, X-Forwarded-For replaced, Host kept', () => {
    const conf = guideBlock('nginx');
    const directive = (name: string) => [...conf.matchAll(new RegExp(`^\\s*${name}\\s+([^;]+);`, 'gm'))].map((m) => m[1]!.trim());
    expect(directive('proxy_buffering')).toEqual(['off']);
    expect(directive('proxy_http_version')).toEqual(['1.1']);
    expect(directive('proxy_set_header')).toEqual(expect.arrayContaining(['Connection ""', 'Host $host', 'X-Forwarded-For $remote_addr', 'X-Forwarded-Proto $scheme']));
    expect(conf).not.toMatch(/^\s*proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for/m);
    expect(Number(directive('keepalive')[0])).toBeGreaterThan(0);
    for (const timeout of [...directive('proxy_read_timeout'), ...directive('proxy_send_timeout')]) {
      expect(seconds(timeout)).toBeGreaterThan(heartbeatS);
      expect(seconds(timeout)).toBeGreaterThanOrEqual(slowestWholeReplyS);
    }
    expect(directive('proxy_read_timeout')).toHaveLength(1);
    expect(directive('client_max_body_size')).toEqual(['1m', '6m']);
    expect(defaultOf('BODY_LIMIT')).toBe('1MiB');
    // The knowledge upload's own location takes its whole body limit, and only that route matches it.
    expect(6 * 1024 * 1024).toBeGreaterThanOrEqual(DOCUMENT_BODY_LIMIT);
    const upload = new RegExp(/location ~ (\S+) \{\s*client_max_body_size 6m;/.exec(conf)![1]!);
    expect(upload.test('/v1/chatbots/3f1c/knowledge')).toBe(true);
    for (const other of ['/v1/chatbots/3f1c', '/v1/chatbots/3f1c/knowledge/9a2b', '/v1/chatbots/3f1c/keys']) expect(upload.test(other), other).toBe(false);
    expect(conf).toContain('server 127.0.0.1:8000;');
    // nginx is not part of the test machine's set-up: without it, the directives above are what is checked.
    if (spawnSync('nginx', ['-v']).status !== 0) return;
    const dir = tempDir('parley-nginx-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=parley.example.com', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const site = guideBlock('nginx').replace(/\/etc\/letsencrypt\/live\/parley\.example\.com\/fullchain\.pem/, join(dir, 'cert.pem')).replace(/\/etc\/letsencrypt\/live\/parley\.example\.com\/privkey\.pem/, join(dir, 'key.pem'));
    writeFileSync(join(dir, 'nginx.conf'), `error_log stderr;\npid ${dir}/nginx.pid;\nevents {}\nhttp {\naccess_log off;\n${site}}\n`);
    const tested = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    expect(tested.status, tested.stderr).toBe(0);
  });

  it('Caddy: the same upstream, health-checked on /ready, flushed at once', () => {
    const caddyfile = guideBlock('caddy');
    expect(caddyfile).toMatch(/^\s*reverse_proxy 127\.0\.0\.1:8000 \{$/m);
    expect(caddyfile).toMatch(/^\s*health_uri \/ready$/m);
    expect(caddyfile).toMatch(/^\s*flush_interval -1$/m);
    // Caddy sets no read timeout on upstreams unless told: none here either.
    expect(caddyfile).not.toMatch(/read_timeout/);
    const caddy = spawnSync('caddy', ['version']).status === 0;
    // Caddy is not part of the test machine's set-up: without it, the directives above are what is checked.
    if (!caddy) return;
    const dir = tempDir('parley-caddy-');
    writeFileSync(join(dir, 'Caddyfile'), caddyfile);
    const adapted = spawnSync('caddy', ['adapt', '--adapter', 'caddyfile', '--config', join(dir, 'Caddyfile')], { encoding: 'utf8' });
    expect(adapted.status, adapted.stderr).toBe(0);
  });
});
