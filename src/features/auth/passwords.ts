import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';
import { AppError } from '../../errors/app-error.js';

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

/**
 * Password checks at once: a core's worth less than the machine has (at most libuv's 4 threads),
 * so a flood of sign-ins from many addresses (each within its limits) cannot take every core from
 * the requests of those already signed in. 33 checks a second held a signed-in user's turn at
 * 337 ms p50 on 2 cores, against 18 ms without them.
 */
const AT_ONCE = Math.max(1, Math.min(4, availableParallelism() - 1));
/** Checks that may wait for one of those (about 3 s of waiting at 50 ms a check); more are refused at once. */
const WAITING = 64 * AT_ONCE;

const TELL_EVERY_MS = 60_000;

export interface PasswordHasherDeps {
  onOperation(operation: 'hash' | 'verify'): void;
  log: { warn(fields: object, message: string): void };
  now?: () => number;
}

/** Runs password work at most AT_ONCE at a time, with at most WAITING queued behind; refusals are told at most once a minute. */
function createGate(deps: PasswordHasherDeps): <T>(work: () => Promise<T>) => Promise<T> {
  const now = deps.now ?? Date.now;
  let running = 0;
  const queue: Array<() => void> = [];
  let toldAt = Number.NEGATIVE_INFINITY;
  let refused = 0;
  const busy = (): AppError => {
    refused += 1;
    if (now() - toldAt >= TELL_EVERY_MS) {
      deps.log.warn(
        { code: 'sign_in_busy', at_once: AT_ONCE, waiting: WAITING, refused },
        'passwords to check arrive faster than this server checks them (a flood of sign-ins or guesses from many addresses?): more answer 503 sign_in_busy, unchecked',
      );
      toldAt = now();
      refused = 0;
    }
    return new AppError('sign_in_busy', 'Too many passwords are being checked right now; try again in a moment');
  };
  return async (work) => {
    if (running < AT_ONCE) running++;
    else if (queue.length >= WAITING) throw busy();
    // A finished check hands its place over directly, so `running` stays counted.
    else await new Promise<void>((resolve) => queue.push(resolve));
    try {
      return await work();
    } finally {
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
}

export function createPasswordHasher(deps: PasswordHasherDeps): PasswordHasher {
  const { onOperation } = deps;
  // Computed up front so that the first unknown-user login costs no more than any other.
  const dummy = argon2Hash(randomBytes(32).toString('base64url'), ARGON2);
  const gate = createGate(deps);

  const verify = (stored: string, password: string) => gate(() => check(stored, password));

  async function check(stored: string, password: string): Promise<PasswordCheck> {
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
    hash: (password) =>
      gate(async () => {
        onOperation('hash');
        return argon2Hash(password, ARGON2);
      }),
    verify,
    async verifyDummy(password) {
      await verify(await dummy, password);
    },
  };
}
