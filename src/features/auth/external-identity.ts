// Users of another system (§3.2) arrive with that system's JWT. A token is routed to an issuer
// by its `iss`, verified with that issuer's pinned algorithm and key, mapped to a user id and
// username, and the local user is created or updated to match.
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { ExternalIssuer } from '../../config/issuers-config.js';
import { AppError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { breaksLine, NOT_ONE_LINE_MESSAGE } from '../../lib/one-line.js';
import { isBlank, unstorableText } from '../../lib/text.js';
import type { UserRow } from '../../db/schema.js';
import type { UsersRepo } from '../users/users.repo.js';
import { createRemoteKeySet, KeySetUnavailable } from './key-set-fetch.js';
import { userPrincipal, type Principal } from './principal.js';
import type { Revocations } from './revocations.js';
import { ACCESS_TOKEN_ISSUER } from './tokens.js';

export interface ExternalIdentities {
  /** Whether this token is for an external issuer rather than one of Parley's own. */
  claims(token: string): boolean;
  authenticate(token: string): Promise<Principal>;
}

const MAX_NAME = 200;
const MAX_CACHED = 10_000;
const JWKS_COOLDOWN_MS = 30_000;
// While no key set was ever fetched, a failed fetch is tried again this soon (not per request).
const JWKS_FIRST_RETRY_MS = 5_000;
// A key the issuer withdraws (leaked, or rotated out) stops verifying within this time. The set
// in hand is kept while its refresh fails, so an outage of the key server locks nobody out.
const JWKS_MAX_AGE_MS = 10 * 60_000;
// A token without `kid` is tried against at most this many keys of its kind: enough for an
// issuer mid-rotation, few enough that a forged token cannot cost a verification per published key.
const MOST_KEYS_TRIED = 8;
// Providers' key ids are tens of characters (thumbprints, UUIDs); one far longer names no key of
// any set, and a forged token's must not cost a fetch of the key set.
const MAX_KID_LENGTH = 1024;
type Log = { warn(fields: object, message: string): void };
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
const invalid = (detail: string) => new AppError('invalid_token', detail);

/** An issuer's key server could not give its keys: an outage on their side, not a bad token. */
class KeysUnavailable extends Error {
  override name = 'KeysUnavailable';
}

/**
 * A remote set is fetched on first need, cached, and refetched for an unknown key id at most once
 * per cooldown (failed attempts included), so a flood of made-up `kid`s costs one request, and
 * cached keys outlive an outage, past their age too. Only a failed fetch is an outage: a key of
 * the set that cannot verify the token (a private key, a broken one) makes the token a bad one.
 */
function remoteKeys(issuer: string, url: string, log: Log): JWTVerifyGetKey {
  const remote = createRemoteKeySet(url, {
    cooldownMs: JWKS_COOLDOWN_MS,
    retryMs: JWKS_FIRST_RETRY_MS,
    maxAgeMs: JWKS_MAX_AGE_MS,
    timeoutMs: 5000,
    onStaleKept: (error) => log.warn({ issuer, err: { message: describe(error) } }, 'external issuer keys could not be refreshed; the last ones fetched are still used'),
  });
  return async (header, token) => {
    if (typeof header.kid === 'string' && header.kid.length > MAX_KID_LENGTH) throw new errors.JWKSNoMatchingKey();
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof KeySetUnavailable) throw new KeysUnavailable(`the key set at ${url} could not be fetched`, { cause: error });
      throw error;
    }
  };
}

/**
 * `trim`: names are shown, so spaces around them are dropped, and one of only spaces and invisible
 * characters (zero-width ones, fillers) is passed over as no name; ids are kept exactly (see idClaim).
 */
function stringClaim(payload: JWTPayload, names: string[], trim = true): { claim: string; value: string } | null {
  for (const claim of names) {
    const value = payload[claim];
    if (typeof value === 'string' && (trim ? !isBlank(value) : value.trim() !== '')) return { claim, value: trim ? value.trim() : value };
    // A numeric user id (the seeds' main system) is taken as its decimal string.
    if (claim === 'user_id' && typeof value === 'number' && Number.isSafeInteger(value)) return { claim, value: String(value) };
  }
  return null;
}

/**
 * The first id claim the token carries. One that is there but is no id (a number past 2^53,
 * already rounded by JSON parsing, a float, a boolean, an object) refuses the token: passing over
 * it to the next claim would sign this user in as whoever that claim names, and users whose ids
 * round alike as one. Absent, null and blank claims are passed over. An id is kept exactly as
 * sent: trimmed, " 42" and "42" (two people at the issuer) signed in as one user.
 */
function idClaim(payload: JWTPayload, names: string[]): { claim: string; value: string } | null {
  for (const claim of names) {
    const value = payload[claim];
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) continue;
    const found = stringClaim(payload, [claim], false);
    if (!found) throw invalid(`The token's ${claim} claim is not a string${claim === 'user_id' ? ' or a whole number below 2^53' : ''}`);
    return found;
  }
  return null;
}

/**
 * PostgreSQL refuses NUL in text and stores a lone surrogate as U+FFFD, so `X\ud800` and
 * `X\udc00` would become one stored id: two external users signing in as one account.
 */
function storable(found: { claim: string; value: string }): string {
  const reason = unstorableText(found.value);
  if (reason) throw invalid(`The token's ${found.claim} claim ${reason}`);
  return found.value;
}

const DEFAULT_ID_CLAIMS = ['user_id', 'sub'];
const DEFAULT_NAME_CLAIMS = ['username', 'preferred_username', 'email'];

/** Whether the issuer's role claim (a string or a list) holds one of its admin values. */
function claimsAdmin(issuer: ExternalIssuer, payload: JWTPayload): boolean {
  if (!issuer.roleClaim) return false;
  const value = payload[issuer.roleClaim.claim];
  const values = Array.isArray(value) ? value : [value];
  return values.some((item) => typeof item === 'string' && issuer.roleClaim!.adminValues.includes(item));
}

function identityOf(issuer: ExternalIssuer, payload: JWTPayload) {
  const idClaims = issuer.userIdClaims ?? DEFAULT_ID_CLAIMS;
  const nameClaims = issuer.usernameClaims ?? DEFAULT_NAME_CLAIMS;
  const id = idClaim(payload, idClaims);
  if (!id) throw invalid(`The token carries no user id (${idClaims.join(' or ')})`);
  const name = stringClaim(payload, nameClaims);
  if (!name) throw invalid(`The token carries no username (${nameClaims.join(', ')})`);
  const externalId = storable(id);
  const username = storable(name);
  if (externalId.length > MAX_NAME || username.length > MAX_NAME) throw invalid('The token\'s user id or username is too long');
  // The username is shown as one line (a widget visitor's name in the owner's inbox, a public
  // chatbot's owner, the CLI), and the issuer's users often choose it: held to the rule a name a
  // visitor types is. The id is not shown as a name, and is kept exactly (see idClaim).
  if (breaksLine(username)) throw invalid(`The token's ${name.claim} claim ${NOT_ONE_LINE_MESSAGE}`);
  // The email is optional: one that cannot be stored or shown is dropped, as an over-long one is.
  const email = typeof payload.email === 'string' && payload.email.length <= MAX_NAME && !unstorableText(payload.email) && !breaksLine(payload.email) ? payload.email : null;
  return { issuer: issuer.name, externalId, username, email, issuedAt: issuedAt(payload) };
}

// 9999-12-31T23:59:59Z: PostgreSQL's timestamps and JavaScript's dates hold every second up to it.
const LATEST_IAT = 253_402_300_799;

/**
 * When the token was issued, which orders its username and email against those stored (see
 * users.repo). jose has checked that an `iat` is a number; one no date can hold (negative, past
 * year 9999) cannot be ordered, as a token without `iat` cannot.
 */
function issuedAt(payload: JWTPayload): Date | null {
  const { iat } = payload;
  return typeof iat === 'number' && iat >= 0 && iat <= LATEST_IAT ? new Date(iat * 1000) : null;
}

function verifyOptions(issuer: ExternalIssuer, now: Date) {
  return {
    algorithms: issuer.algorithms,
    issuer: issuer.issuer ?? undefined,
    audience: issuer.audience ?? undefined,
    requiredClaims: issuer.requireExp ? ['exp'] : [],
    clockTolerance: issuer.clockToleranceS,
    currentDate: now,
  };
}

/** The token may well be good, so the client is told to try again rather than to sign in again. */
function issuerUnavailable(issuer: string, error: KeysUnavailable, log: Log): AppError {
  log.warn({ issuer, err: { message: `${error.message}: ${describe(error.cause)}` } }, 'external issuer keys unavailable');
  return new AppError('issuer_unavailable', 'The identity provider\'s keys cannot be fetched right now; try again shortly', { cause: error });
}

/**
 * jose hands back a set's keys for the caller to try when a token without `kid` matches several
 * (an issuer that names no keys, mid-rotation); the first that verifies it wins.
 */
async function verifyWithSet(token: string, keys: JWTVerifyGetKey, options: JWTVerifyOptions) {
  try {
    return await jwtVerify(token, keys, options);
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    let tried = 0;
    for await (const key of error) {
      if (++tried > MOST_KEYS_TRIED) break;
      try {
        return await jwtVerify(token, key, options);
      } catch (failure) {
        if (!(failure instanceof errors.JWSSignatureVerificationFailed)) throw failure;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/**
 * What is wrong with a token its issuer signed (jose checks claims only after the signature), so
 * a client tells an expired token from a bad one and an operator sees which configured value the
 * provider's tokens do not match. Null for every other fault: a token nobody here signed is told
 * nothing about its claims.
 */
function claimFault(error: unknown): AppError | null {
  if (error instanceof errors.JWTExpired) return invalid('The access token has expired');
  if (!(error instanceof errors.JWTClaimValidationFailed)) return null;
  if (error.claim === 'nbf') return invalid('The access token is not valid yet (nbf)');
  if (error.reason === 'missing') return invalid(`The token carries no ${error.claim} claim, which this server requires`);
  return invalid(`The token's ${error.claim} claim is not one this server accepts`);
}

function createVerifier(issuers: ExternalIssuer[], clock: Clock, log: Log) {
  const keys = new Map(
    issuers.map((issuer) => [issuer.name, issuer.kind === 'secret' ? new TextEncoder().encode(issuer.secret) : remoteKeys(issuer.name, issuer.jwksUrl, log)]),
  );

  /** Issuers that name the token's `iss`, else those that name none, in configuration order. */
  function candidates(iss: unknown): ExternalIssuer[] {
    const named = typeof iss === 'string' ? issuers.filter((issuer) => issuer.issuer === iss) : [];
    return named.length > 0 ? named : issuers.filter((issuer) => issuer.issuer === null);
  }

  return async function verify(token: string): Promise<{ issuer: ExternalIssuer; payload: JWTPayload }> {
    let iss: unknown;
    try {
      // A header that is not a JSON object is refused here, before any issuer is tried.
      decodeProtectedHeader(token);
      iss = decodeJwt(token).iss;
      // Parley's own access tokens are never taken for external ones. (By iss, not by typ: an
      // external provider may issue RFC 9068 `at+jwt` access tokens too.)
      if (iss === ACCESS_TOKEN_ISSUER) throw invalid('The access token is not valid');
    } catch {
      throw invalid('The access token is not valid');
    }
    const tried = candidates(iss);
    // Saying so reveals only what the token itself says; it names the `iss` to compare with EXTERNAL_JWT_ISSUER.
    if (tried.length === 0) throw invalid(iss === undefined ? 'The token carries no iss claim, which this server requires' : 'The token\'s iss claim names no issuer this server accepts');
    let outage: { issuer: string; error: KeysUnavailable } | null = null;
    let signedButRefused: AppError | null = null;
    for (const issuer of tried) {
      try {
        const key = keys.get(issuer.name)!;
        const options = verifyOptions(issuer, clock.now());
        const { payload } = key instanceof Uint8Array ? await jwtVerify(token, key, options) : await verifyWithSet(token, key, options);
        return { issuer, payload };
      } catch (error) {
        // Another issuer may still verify it.
        if (error instanceof KeysUnavailable) outage = { issuer: issuer.name, error };
        signedButRefused ??= claimFault(error);
      }
    }
    // An issuer's signature on it outweighs another issuer's outage: that is whose token it is.
    if (signedButRefused) throw signedButRefused;
    if (outage) throw issuerUnavailable(outage.issuer, outage.error, log);
    throw invalid('The access token is not valid');
  };
}

export function createExternalIdentities(deps: {
  issuers: ExternalIssuer[];
  users: UsersRepo;
  clock: Clock;
  cacheMs: number;
  /** The synced user is remembered only while every revocation reaches this instance. */
  revocations: Pick<Revocations, 'heard' | 'listen'>;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}): ExternalIdentities {
  const { issuers, users, clock, revocations, log } = deps;
  const verify = createVerifier(issuers, clock, log);
  const cache = new Map<string, { user: UserRow; until: number }>();
  // Bumped by every revocation: a user read before one arrived is not kept.
  let epoch = 0;
  revocations.listen((revoked) => {
    epoch += 1;
    if (!revoked) cache.clear();
    else if ('user' in revoked) for (const [key, entry] of cache) if (entry.user.id === revoked.user) cache.delete(key);
  });

  return {
    claims(token) {
      if (issuers.length === 0) return false;
      try {
        return decodeJwt(token).iss !== ACCESS_TOKEN_ISSUER;
      } catch {
        return false;
      }
    },
    async authenticate(token) {
      const { issuer, payload } = await verify(token);
      const identity = identityOf(issuer, payload);
      // The token's `iat` is part of the key: a token that brings a newer name back reaches the
      // database, not the user remembered for an older token of that name (users.repo orders them).
      const key = [identity.issuer, identity.externalId, identity.username, identity.email ?? '', identity.issuedAt?.getTime() ?? ''].join('\u0000');
      const now = Date.now();
      const remember = deps.cacheMs > 0 && revocations.heard();
      const hit = remember ? cache.get(key) : undefined;
      let user = hit && hit.until > now ? hit.user : null;
      if (!user) {
        const started = epoch;
        const synced = await users.syncExternal(identity, clock.now());
        user = synced.user;
        if (synced.change !== 'none') log.info({ issuer: identity.issuer, external_id: identity.externalId, user_id: user.id }, `external user ${synced.change}`);
        if (remember && started === epoch && revocations.heard()) {
          if (cache.size >= MAX_CACHED) cache.clear();
          cache.set(key, { user, until: now + deps.cacheMs });
        }
      }
      if (!user.isActive) throw invalid('This account is deactivated');
      // A mapped role claim makes this request an admin's; it never demotes a promoted user.
      const role = user.role === 'admin' || claimsAdmin(issuer, payload) ? 'admin' : 'user';
      return userPrincipal({ id: user.id, username: user.username, role }, null);
    },
  };
}
