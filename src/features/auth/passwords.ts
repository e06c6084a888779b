import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';

// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane. @node-rs/argon2 and
// @node-rs/bcrypt compute on libuv's thread pool, off the event loop. (bcryptjs computed imported
// hashes on the event loop: 40 wrong guesses on four cost-12 accounts held a signed-in user's
// request 18 s.)
const ARGON2 = { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const CURRENT_PARAMS = `$argon2id$v=19$m=${ARGON2.memoryCost},t=${ARGON2.timeCost},p=${ARGON2.parallelism}$`;

export interface PasswordCheck {
  ok: boolean;
  /** True when the stored hash is bcrypt or weaker argon2 and should be replaced. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(stored: string, password: string): Promise<PasswordCheck>;
  /** Spends the same work as a real verification, for callers that have no account. */
  verifyDummy(password: string): Promise<void>;
}

const isBcrypt = (stored: string) => /^\$2[aby]\$\d{2}\$/.test(stored);

export function createPasswordHasher(onOperation: (operation: 'hash' | 'verify') => void): PasswordHasher {
  // Computed up front so that the first unknown-user login costs no more than any other.
  const dummy = argon2Hash(randomBytes(32).toString('base64url'), ARGON2);

  async function verify(stored: string, password: string): Promise<PasswordCheck> {
    onOperation('verify');
    if (isBcrypt(stored)) {
      // bcrypt reads at most 72 bytes; a longer password would match on its prefix alone.
      if (Buffer.byteLength(password) > 72) return { ok: false, needsRehash: false };
      const ok = await bcryptVerify(password, stored).catch(() => false);
      return { ok, needsRehash: ok };
    }
    if (!stored.startsWith('$argon2')) return { ok: false, needsRehash: false };
    const ok = await argon2Verify(stored, password).catch(() => false);
    return { ok, needsRehash: ok && !stored.startsWith(CURRENT_PARAMS) };
  }

  return {
    async hash(password) {
      onOperation('hash');
      return argon2Hash(password, ARGON2);
    },
    verify,
    async verifyDummy(password) {
      await verify(await dummy, password);
    },
  };
}
