import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { configError } from '../helpers/config-error.js';
import { resolveJwtSecret } from '../../src/config/secrets.js';
import { CONFIG_VARIABLES } from '../../src/config/variables.js';


/** One line naming the variable (as a whole word) and saying what it expects. */
function expectNamed(error: ConfigError, variable: string, expects: RegExp): void {
  expect(error.message).not.toContain('\n');
  expect(error.message).toMatch(new RegExp(`(^|[^A-Z_])${variable}([^A-Z_]|$)`));
  expect(error.message).toMatch(expects);
}

describe('loadConfig defaults (§12)', () => {
  it('serves on 127.0.0.1:8000 with data in ./data and the documented limits', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 8000,
      host: '127.0.0.1',
      dataDir: './data',
      databaseUrl: null,
      jwtSecret: null,
      accessTokenTtlMs: 15 * 60 * 1000,
      refreshTokenTtlMs: 30 * 24 * 60 * 60 * 1000,
      refreshReuseGraceMs: 10 * 1000,
      bodyLimit: 1024 * 1024,
      authLocal: true,
      trustProxy: false,
      logPretty: false,
      redisUrl: null,
      redisFailureMode: 'open',
      pgliteSharedBuffers: '8MB',
      pgliteWasmOptimize: false,
    });
    expect(config.rateLimits).toEqual({
      loginAccount: { limit: 10, windowMs: 60_000 },
      loginIp: { limit: 30, windowMs: 60_000 },
      registerIp: { limit: 10, windowMs: 3_600_000 },
      refreshSession: { limit: 10, windowMs: 60_000 },
      messagesUser: { limit: 60, windowMs: 60_000 },
      knowledgeUser: { limit: 30, windowMs: 60_000 },
      publicVisitor: { limit: 20, windowMs: 60_000 },
      publicIp: { limit: 60, windowMs: 60_000 },
      publicChatbot: { limit: 600, windowMs: 60_000 },
      apiKey: { limit: 600, windowMs: 60_000 },
      apiKeyUser: { limit: 60, windowMs: 60_000 },
    });
    expect(config.messagesPerDay).toBeNull();
    expect(config).toMatchObject({ contextTokenBudget: 8000, maxMessageChars: 32_000, sseHeartbeatMs: 15_000, sseWriteTimeoutMs: 30_000 });
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', HOST: '', ACCESS_TOKEN_TTL: '' })).toMatchObject({ port: 8000, host: '127.0.0.1', accessTokenTtlMs: 900_000 });
  });

  it('parses the documented value forms', () => {
    const config = loadConfig({
      PORT: '9000',
      ACCESS_TOKEN_TTL: '30s',
      REFRESH_TOKEN_TTL: '12h',
      BODY_LIMIT: '512kb',
      RATE_LIMIT_LOGIN_ACCOUNT: '30/60s',
      RATE_LIMIT_LOGIN_IP: 'off',
      RATE_LIMIT_REGISTER_IP: '5/1d',
      AUTH_LOCAL: 'false',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgresql://app:pw@db.example:5432/parley',
      REDIS_URL: 'rediss://cache.example:6380',
      REDIS_FAILURE_MODE: 'closed',
      PGLITE_WASM_OPTIMIZE: 'true',
    });
    expect(config).toMatchObject({
      port: 9000,
      accessTokenTtlMs: 30_000,
      refreshTokenTtlMs: 12 * 3_600_000,
      bodyLimit: 512_000,
      authLocal: false,
      logLevel: 'debug',
      databaseUrl: 'postgresql://app:pw@db.example:5432/parley',
      redisUrl: 'rediss://cache.example:6380',
      redisFailureMode: 'closed',
      pgliteWasmOptimize: true,
    });
    expect(config.rateLimits).toEqual({
      loginAccount: { limit: 30, windowMs: 60_000 },
      loginIp: null,
      registerIp: { limit: 5, windowMs: 86_400_000 },
      refreshSession: { limit: 10, windowMs: 60_000 },
      messagesUser: { limit: 60, windowMs: 60_000 },
      knowledgeUser: { limit: 30, windowMs: 60_000 },
      publicVisitor: { limit: 20, windowMs: 60_000 },
      publicIp: { limit: 60, windowMs: 60_000 },
      publicChatbot: { limit: 600, windowMs: 60_000 },
      apiKey: { limit: 600, windowMs: 60_000 },
      apiKeyUser: { limit: 60, windowMs: 60_000 },
    });
    expect(loadConfig({ USAGE_MESSAGES_PER_DAY: '500' }).messagesPerDay).toBe(500);
    expect(loadConfig({ USAGE_MESSAGES_PER_DAY: 'off' }).messagesPerDay).toBeNull();
    expect(() => loadConfig({ USAGE_MESSAGES_PER_DAY: '0' })).toThrow(/USAGE_MESSAGES_PER_DAY/);
    expect(loadConfig({ BODY_LIMIT: '1MiB' }).bodyLimit).toBe(1024 * 1024);
    expect(loadConfig({}).pgliteFreezeAge).toBe(100_000_000);
    expect(loadConfig({ PGLITE_FREEZE_AGE: '1000' }).pgliteFreezeAge).toBe(1_000);
    expect(loadConfig({}).maxConcurrentTurns).toBe('auto');
    expect(loadConfig({ MAX_CONCURRENT_TURNS: '400' }).maxConcurrentTurns).toBe(400);
    expect(loadConfig({ MAX_CONCURRENT_TURNS: 'off' }).maxConcurrentTurns).toBeNull();
  });
});

describe('aliases from the seed systems', () => {
  it('accepts API_PORT, API_HOST, SECRET_KEY and ALLOWED_ORIGINS', () => {
    const config = loadConfig({
      API_PORT: '9001',
      API_HOST: '0.0.0.0',
      SECRET_KEY: 'seed secret key value',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(config).toMatchObject({ port: 9001, host: '0.0.0.0', jwtSecret: 'seed secret key value' });
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });

  it('lets the primary name win when both are set', () => {
    const config = loadConfig({
      PORT: '9000',
      API_PORT: '9001',
      HOST: '10.0.0.1',
      API_HOST: '0.0.0.0',
      JWT_SECRET: 'primary secret',
      SECRET_KEY: 'alias secret',
      CORS_ORIGINS: 'https://primary.example',
      ALLOWED_ORIGINS: 'https://alias.example',
    });
    expect(config).toMatchObject({ port: 9000, host: '10.0.0.1', jwtSecret: 'primary secret' });
    expect(config.corsOrigins).toEqual(['https://primary.example']);
  });

  it('names the alias that was actually set when its value is malformed', () => {
    expectNamed(configError({ API_PORT: 'abc' }), 'API_PORT', /integer/);
  });
});

describe('malformed values stop start-up with one line naming the variable', () => {
  it('PORT=abc names PORT and says it wants an integer port', () => {
    const error = configError({ PORT: 'abc' });
    expect(error).toBeInstanceOf(ConfigError);
    expectNamed(error, 'PORT', /integer/);
    expect(error.message).toMatch(/65535/);
  });

  it.each([
    ['PORT', '70000', /integer/],
    ['PORT', '80.5', /integer/],
    ['ACCESS_TOKEN_TTL', '15 minutes', /duration/],
    ['REFRESH_TOKEN_TTL', '-1d', /duration/],
    ['DATABASE_WAIT', 'forever', /duration/],
    ['RATE_LIMIT_LOGIN_ACCOUNT', 'ten/1m', /rate/],
    ['RATE_LIMIT_LOGIN_IP', '30', /rate/],
    ['RATE_LIMIT_REGISTER_IP', '10/0s', /rate/],
    ['AUTH_LOCAL', 'maybe', /true or false/],
    ['TRUST_PROXY', '11', /number of proxies/],
    ['TRUST_PROXY', '10.0.0.0/33', /CIDR/],
    ['TRUST_PROXY', 'the balancer', /true, false/],
    ['LOG_PRETTY', 'very', /true or false/],
    ['PGLITE_WASM_OPTIMIZE', 'fast', /true or false/],
    ['PGLITE_FREEZE_AGE', '999', /integer/],
    ['PGLITE_FREEZE_AGE', '2000000000', /integer/],
    ['LOG_LEVEL', 'loud', /info/],
    ['REDIS_FAILURE_MODE', 'sometimes', /open.*closed/],
    ['NODE_ENV', 'staging', /production/],
    ['BODY_LIMIT', 'big', /size/],
    ['DATABASE_URL', 'mysql://x', /postgres/],
    ['MAX_CONCURRENT_TURNS', '0', /auto, off, or a whole number/],
    ['MAX_CONCURRENT_TURNS', 'lots', /auto, off, or a whole number/],
  ])('%s=%s', (variable, value, expects) => {
    expectNamed(configError({ [variable]: value }), variable, expects);
  });

  it('never echoes a secret value in the message', () => {
    const database = configError({ DATABASE_URL: 'mysql://admin:hunter2-db-pass@db.example/app' });
    expectNamed(database, 'DATABASE_URL', /postgres/);
    expect(database.message).not.toContain('hunter2-db-pass');
    expect(database.message).not.toContain('mysql://admin');

    const redis = configError({ REDIS_URL: 'http://:redis-pass-42@cache.example' });
    expectNamed(redis, 'REDIS_URL', /redis/);
    expect(redis.message).not.toContain('redis-pass-42');

    const secret = 'short-secret-31-bytes-abcdefghi';
    expect(Buffer.byteLength(secret)).toBe(31);
    const jwt = configError({ NODE_ENV: 'production', JWT_SECRET: secret });
    expect(jwt.message).not.toContain(secret);
    const alias = configError({ NODE_ENV: 'production', SECRET_KEY: secret });
    expect(alias.message).not.toContain(secret);
  });

  it('never echoes the password of an address that carries one, whatever its variable', () => {
    // A model proxy or a key set behind basic auth is reached as https://user:password@host.
    for (const variable of ['LLM_BASE_URL', 'EXTERNAL_JWKS_URL', 'SUPABASE_URL']) {
      const error = configError({ [variable]: 'ftp://proxy-user:proxy-pass-77@llm.example/v1' });
      expectNamed(error, variable, /http/);
      expect(error.message).not.toContain('proxy-pass-77');
      expect(error.message).toContain('llm.example');
    }
    const unescaped = configError({ LLM_BASE_URL: 'ftp://proxy-user:pass@with@at-88@llm.example/v1' });
    expect(unescaped.message).not.toMatch(/with|at-88/);
  });
});

describe('JWT_SECRET in production', () => {
  it('is required', () => {
    expectNamed(configError({ NODE_ENV: 'production' }), 'JWT_SECRET', /32/);
  });

  it('must be at least 32 bytes', () => {
    expectNamed(configError({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(31) }), 'JWT_SECRET', /32/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).jwtSecret).toBe('x'.repeat(32));
    // Bytes, not characters: 16 two-byte characters are 32 bytes.
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'é'.repeat(16) }).nodeEnv).toBe('production');
  });

  it('may come from the SECRET_KEY alias', () => {
    expect(loadConfig({ NODE_ENV: 'production', SECRET_KEY: 'k'.repeat(48) }).jwtSecret).toBe('k'.repeat(48));
    expectNamed(configError({ NODE_ENV: 'production', SECRET_KEY: 'k'.repeat(10) }), 'JWT_SECRET', /32/);
  });

  it('is optional outside production', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).jwtSecret).toBeNull();
    expect(loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'short' }).jwtSecret).toBe('short');
  });
});

describe('resolveJwtSecret', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-secret-'));
    dirs.push(dir);
    return dir;
  };

  it('generates a development secret once, stores it with mode 0600, and reuses it', () => {
    const dataDir = join(tempDir(), 'not-yet-created');
    const config = loadConfig({ DATA_DIR: dataDir });
    const first = resolveJwtSecret(config);
    expect(first.generated).toBe(true);
    expect(Buffer.byteLength(first.secret)).toBeGreaterThanOrEqual(32);

    const file = join(dataDir, 'jwt-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);

    const second = resolveJwtSecret(loadConfig({ DATA_DIR: dataDir }));
    expect(second).toEqual({ secret: first.secret, generated: false });
  });

  it('uses JWT_SECRET when set and writes nothing', () => {
    const dataDir = tempDir();
    const resolved = resolveJwtSecret(loadConfig({ DATA_DIR: dataDir, JWT_SECRET: 'configured secret' }));
    expect(resolved).toEqual({ secret: 'configured secret', generated: false });
    expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(false);
  });
});

describe('README.md', () => {
  it('documents every configuration variable and alias', () => {
    const path = new URL('../../README.md', import.meta.url);
    expect(existsSync(path), 'README.md is missing').toBe(true);
    const readme = readFileSync(path, 'utf8');
    const names = CONFIG_VARIABLES.flatMap((variable) => [variable.name, ...(variable.aliases ?? [])]);
    // A whole word: PORT is not documented by API_PORT alone.
    const missing = names.filter((name) => !new RegExp(`(^|[^A-Za-z0-9_])${name}([^A-Za-z0-9_]|$)`).test(readme));
    expect(missing).toEqual([]);
  });
});
