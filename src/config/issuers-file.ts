// AUTH_ISSUERS_FILE: several external issuers in one JSON file, each with its key, pinned
// algorithms, claim mapping and an optional role claim. Checked in full at start-up.
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { DEFAULT_JWKS_ALGORITHMS, JWKS_ALGORITHMS, type ExternalIssuer } from './issuer-types.js';

interface FileIssuer {
  name?: unknown;
  secret?: unknown;
  jwks_url?: unknown;
  algorithms?: unknown;
  issuer?: unknown;
  audience?: unknown;
  require_exp?: unknown;
  clock_tolerance_s?: unknown;
  claims?: { user_id?: unknown; username?: unknown };
  role?: { claim?: unknown; admin_values?: unknown };
}

const FIELDS = new Set(['name', 'secret', 'jwks_url', 'algorithms', 'issuer', 'audience', 'require_exp', 'clock_tolerance_s', 'claims', 'role']);

function strings(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === 'string' && item !== '')) {
    throw new ConfigError(`AUTH_ISSUERS_FILE: ${where} must be a non-empty list of strings`);
  }
  return value as string[];
}

function optionalString(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value === '') throw new ConfigError(`AUTH_ISSUERS_FILE: ${where} must be a string`);
  return value;
}

function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ConfigError(`AUTH_ISSUERS_FILE: ${where} must be true or false`);
  return value;
}

function clockTolerance(value: unknown, where: string): number {
  if (value === undefined) return 30;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 600) {
    throw new ConfigError(`AUTH_ISSUERS_FILE: ${where} must be a whole number of seconds from 0 to 600`);
  }
  return value;
}

function toIssuer(raw: FileIssuer, index: number): ExternalIssuer {
  const at = `issuer ${index + 1}`;
  const unknown = Object.keys(raw).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) throw new ConfigError(`AUTH_ISSUERS_FILE: ${at} has unknown fields: ${unknown.join(', ')}`);
  const name = optionalString(raw.name, `${at}.name`);
  if (!name || !/^[a-z0-9][a-z0-9_-]{0,39}$/.test(name)) throw new ConfigError(`AUTH_ISSUERS_FILE: ${at}.name must be 1–40 of a-z, 0-9, _ and -`);
  const base = {
    name,
    issuer: optionalString(raw.issuer, `${name}.issuer`),
    audience: optionalString(raw.audience, `${name}.audience`),
    requireExp: optionalBoolean(raw.require_exp, `${name}.require_exp`) ?? true,
    clockToleranceS: clockTolerance(raw.clock_tolerance_s, `${name}.clock_tolerance_s`),
    userIdClaims: raw.claims?.user_id === undefined ? undefined : strings(raw.claims.user_id, `${name}.claims.user_id`),
    usernameClaims: raw.claims?.username === undefined ? undefined : strings(raw.claims.username, `${name}.claims.username`),
    roleClaim: raw.role === undefined ? undefined : { claim: optionalString(raw.role.claim, `${name}.role.claim`)!, adminValues: strings(raw.role.admin_values, `${name}.role.admin_values`) },
  };
  if (base.roleClaim && !base.roleClaim.claim) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name}.role.claim is required`);
  const secret = optionalString(raw.secret, `${name}.secret`);
  const jwksUrl = optionalString(raw.jwks_url, `${name}.jwks_url`);
  if ((secret === null) === (jwksUrl === null)) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name} needs exactly one of secret and jwks_url`);
  if (secret !== null) {
    if (Buffer.byteLength(secret) < 16) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name}.secret must be at least 16 bytes`);
    return { ...base, kind: 'secret', algorithms: ['HS256'], secret };
  }
  const known: readonly string[] = JWKS_ALGORITHMS;
  const algorithms = raw.algorithms === undefined ? [...DEFAULT_JWKS_ALGORITHMS] : strings(raw.algorithms, `${name}.algorithms`);
  if (!algorithms.every((alg) => known.includes(alg))) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name}.algorithms must be among ${JWKS_ALGORITHMS.join(', ')}`);
  if (!/^https?:\/\//.test(jwksUrl!)) throw new ConfigError(`AUTH_ISSUERS_FILE: ${name}.jwks_url must be an http(s) URL`);
  return { ...base, kind: 'jwks', algorithms, jwksUrl: jwksUrl! };
}

export function loadIssuersFile(path: string): ExternalIssuer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`AUTH_ISSUERS_FILE: cannot read ${path} as JSON (${(error as Error).message.slice(0, 120)})`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { issuers?: unknown })?.issuers;
  if (!Array.isArray(list)) throw new ConfigError('AUTH_ISSUERS_FILE: expected an array of issuers (or {"issuers": [...]})');
  return list.map((raw, index) => toIssuer((raw ?? {}) as FileIssuer, index));
}
