import { createHash, randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { PARLEY_TOKEN_ISSUER } from '../../config/issuer-types.js';
import { AppError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';

export const ACCESS_TOKEN_ISSUER = PARLEY_TOKEN_ISSUER;
export const ACCESS_TOKEN_AUDIENCE = 'parley-api';
// RFC 9068 media type for access tokens; refresh tokens are opaque and never JWTs.
const ACCESS_TOKEN_TYP = 'at+jwt';

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

export interface AccessTokens {
  sign(claims: AccessClaims): Promise<{ token: string; expiresIn: number }>;
  verify(token: string): Promise<AccessClaims>;
}

const VERIFIED_CACHE = 10_000;
const CLOCK_TOLERANCE_S = 5;

export function createAccessTokens(options: { secret: string; ttlMs: number; clock: Clock }): AccessTokens {
  const key = new TextEncoder().encode(options.secret);
  const expiresIn = Math.floor(options.ttlMs / 1000);
  // The signature check (WebCrypto HMAC) is the costliest part of a request here; a token
  // string already verified in full is accepted again until its own expiry. Keyed by the whole
  // token, signature included, so a changed token is checked afresh.
  const verified = new Map<string, AccessClaims & { exp: number }>();

  return {
    async sign({ userId, sessionId }) {
      const now = Math.floor(options.clock.now().getTime() / 1000);
      const token = await new SignJWT({ sid: sessionId, typ: 'access' })
        .setProtectedHeader({ alg: 'HS256', typ: ACCESS_TOKEN_TYP })
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setSubject(userId)
        .setIssuedAt(now)
        .setExpirationTime(now + expiresIn)
        .sign(key);
      return { token, expiresIn };
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (options.clock.now().getTime() / 1000 <= known.exp + CLOCK_TOLERANCE_S) return { userId: known.userId, sessionId: known.sessionId };
        verified.delete(token);
      }
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: ACCESS_TOKEN_ISSUER,
          audience: ACCESS_TOKEN_AUDIENCE,
          typ: ACCESS_TOKEN_TYP,
          requiredClaims: ['sub', 'sid', 'exp', 'iat'],
          currentDate: options.clock.now(),
          clockTolerance: CLOCK_TOLERANCE_S,
        });
        if (payload.typ !== 'access' || typeof payload.sid !== 'string' || !isUuid(payload.sid) || !isUuid(payload.sub ?? '')) {
          throw new AppError('invalid_token', 'The access token is not valid');
        }
        const claims = { userId: payload.sub!, sessionId: payload.sid };
        if (verified.size >= VERIFIED_CACHE) verified.clear();
        verified.set(token, { ...claims, exp: payload.exp! });
        return claims;
      } catch (error) {
        if (error instanceof AppError) throw error;
        const detail = error instanceof joseErrors.JWTExpired ? 'The access token has expired' : 'The access token is not valid';
        throw new AppError('invalid_token', detail);
      }
    },
  };
}

const REFRESH_PREFIX = 'prt_';
const REFRESH_FORMAT = /^prt_[A-Za-z0-9_-]{43}$/;

/** An opaque 256-bit refresh token; only its SHA-256 is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = REFRESH_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export const looksLikeRefreshToken = (token: string): boolean => REFRESH_FORMAT.test(token);
