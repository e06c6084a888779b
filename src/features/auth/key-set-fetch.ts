// An issuer's key set is a few kilobytes. Its server is someone else's: one that answers without
// end (broken, or hostile) had the whole fetch timeout to fill memory — 1.5 GB in 5 s over
// loopback — before one string of it was parsed. Reading stops at a bound instead.
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/** Far above any real key set (Google's, with several RSA keys, is ~2 KB). */
export const MAX_KEY_SET_BYTES = 512 * 1024;

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** `fetch` whose answer's body is read in full here, and refused past `maxBytes`. */
export async function fetchKeySet(url: string | URL, init: RequestInit = {}, maxBytes = MAX_KEY_SET_BYTES): Promise<Response> {
  const response = await fetch(url, init);
  const tooLarge = () => new Error(`the key set is larger than ${Math.round(maxBytes / 1024)} KB`);
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    return new Response(null, { status: response.status, headers: response.headers });
  }
  if (Number(response.headers.get('content-length')) > maxBytes) {
    await response.body.cancel().catch(() => {});
    throw tooLarge();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new Response(Buffer.concat(chunks), { status: response.status, headers: response.headers });
}

export interface RemoteKeySetOptions {
  /** Least time between two fetches, counted from every attempt, failed ones too. */
  cooldownMs: number;
  /**
   * While no set was ever fetched: least time between two failed attempts. Shorter than the
   * cooldown, so users are let in soon after the key server is back, but a flood of tokens is
   * still not a flood of requests to a key server that fails.
   */
  retryMs: number;
  /** Age after which the set is fetched again, kept for as long as that fails. */
  maxAgeMs: number;
  timeoutMs: number;
  /** A stale set could not be refreshed and is still used. */
  onStaleKept(error: unknown): void;
}

/**
 * The key set could not be had from its server (unreachable, an error status, a redirect, not a
 * key set, too large, too slow): an outage on the issuer's side, not a fault of the token. Every
 * other error while getting a token's key is about the token or the key it names.
 */
export class KeySetUnavailable extends Error {
  override name = 'KeySetUnavailable';
}

async function readKeySet(url: string, timeoutMs: number): Promise<JWTVerifyGetKey> {
  const response = await fetchKeySet(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json, application/jwk-set+json' },
  });
  if (response.status !== 200) throw new Error(`the key server answered ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch (cause) {
    throw new Error('the key set is not JSON', { cause });
  }
  // Refuses anything that is not a key set (JWKSInvalid).
  return createLocalJWKSet(body as JSONWebKeySet);
}

/**
 * An issuer's key set, fetched on first need and kept here rather than in jose's remote set:
 * that one counts its cooldown from successful fetches only (so while the key server failed,
 * every made-up `kid` sent it one more request) and drops a set past its age even when the
 * fetch replacing it fails (so an outage at that moment refused every user).
 *
 * Fetch failures are thrown as `KeySetUnavailable`; what the set says about a token (no such
 * key, a key that cannot verify) is thrown as it comes.
 */
export function createRemoteKeySet(url: string, options: RemoteKeySetOptions): JWTVerifyGetKey {
  let keys: JWTVerifyGetKey | null = null;
  let fetchedAt = -Infinity;
  let triedAt = -Infinity;
  let lastFailure: unknown = null;
  let pending: Promise<void> | null = null;

  // One fetch at a time; requests arriving meanwhile share it.
  const refresh = (): Promise<void> =>
    (pending ??= (async () => {
      triedAt = Date.now();
      try {
        keys = await readKeySet(url, options.timeoutMs);
        fetchedAt = Date.now();
        lastFailure = null;
      } catch (error) {
        lastFailure = error;
        throw new KeySetUnavailable(describe(error), { cause: error });
      } finally {
        pending = null;
      }
    })());
  const coolingDown = () => Date.now() < triedAt + options.cooldownMs;

  /** With no set yet there is nothing to fall back on; a failed fetch is tried again after `retryMs`. */
  async function firstSet(): Promise<void> {
    if (pending) return pending;
    if (lastFailure !== null && Date.now() < triedAt + options.retryMs) {
      throw new KeySetUnavailable(`${describe(lastFailure)} (tried again shortly)`, { cause: lastFailure });
    }
    return refresh();
  }

  return async (header, token) => {
    if (!keys) await firstSet();
    else if (Date.now() >= fetchedAt + options.maxAgeMs && !coolingDown()) await refresh().catch(options.onStaleKept);
    try {
      return await keys!(header, token);
    } catch (error) {
      // An unknown kid may be a rotation: fetch again, unless a fetch was tried a moment ago.
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (pending) await pending;
      else if (!coolingDown()) await refresh();
      else throw error;
      return keys!(header, token);
    }
  };
}
