// External JWT issuers configured by env (§3.2): the seeds' shared-secret setup and the
// Supabase preset. Users of another system call Parley with the token they already have.
import { ConfigError } from './errors.js';
import { parseBoolean, parseUrl } from './parsers.js';

export interface ExternalIssuer {
  /** Stored with each user it creates: users are unique per (issuer name, external id). */
  name: string;
  algorithm: 'HS256';
  secret: string;
  /** The `iss` a token must carry; null accepts tokens without one (tried in configuration order). */
  issuer: string | null;
  audience: string | null;
  requireExp: boolean;
  clockToleranceS: number;
}

type Read = <T>(name: string, parse: (raw: string) => T, fallback: T) => T;

const text = (raw: string) => raw;
const MIN_SECRET_BYTES = 16;

function checkSecret(name: string, secret: string): string {
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) throw new ConfigError(`${name} must be at least ${MIN_SECRET_BYTES} bytes`);
  return secret;
}

export function loadExternalIssuers(read: Read): ExternalIssuer[] {
  const issuers: ExternalIssuer[] = [];
  const secret = read('EXTERNAL_JWT_SECRET', text, null as string | null);
  const requireExp = read('EXTERNAL_JWT_REQUIRE_EXP', parseBoolean, true);
  if (secret) {
    issuers.push({
      name: 'external',
      algorithm: 'HS256',
      secret: checkSecret('EXTERNAL_JWT_SECRET', secret),
      issuer: read('EXTERNAL_JWT_ISSUER', text, null as string | null),
      audience: read('EXTERNAL_JWT_AUDIENCE', text, null as string | null),
      requireExp,
      clockToleranceS: 30,
    });
  }
  const supabaseSecret = read('SUPABASE_JWT_SECRET', text, null as string | null);
  if (supabaseSecret) {
    const url = read('SUPABASE_URL', (raw) => parseUrl(raw, ['http', 'https']).replace(/\/+$/, ''), null as string | null);
    issuers.push({
      name: 'supabase',
      algorithm: 'HS256',
      secret: checkSecret('SUPABASE_JWT_SECRET', supabaseSecret),
      issuer: url ? `${url}/auth/v1` : null,
      audience: 'authenticated',
      requireExp: true,
      clockToleranceS: 30,
    });
  }
  return issuers;
}
