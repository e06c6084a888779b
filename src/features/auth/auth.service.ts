import type { RateRule } from '../../config/parsers.js';
import type { UserRow } from '../../db/schema.js';
import type { Access } from '../../db/client.js';
import { constraintName, isUniqueViolation } from '../../db/errors.js';
import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import type { UsersRepo } from '../users/users.repo.js';
import { nextFreeUsername, usernameBase } from '../users/usernames.js';
import { toUser, type User } from '../users/users.schemas.js';
import type { NamedAdmins } from './authenticate.js';
import type { PasswordHasher } from './passwords.js';
import type { Principal } from './principal.js';
import type { Revocations } from './revocations.js';
import { createPasswordChange } from './password-change.js';
import { openSuccessor, sealSuccessor } from './refresh-successor.js';
import type { SessionsRepo, SpentToken } from './sessions.repo.js';
import { hashRefreshToken, looksLikeRefreshToken, newRefreshToken, type AccessTokens } from './tokens.js';

export interface TokenAnswer {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
  user: User;
}

export interface RegisterInput {
  /** Without one, the username is made from the email. */
  username?: string;
  email?: string | null;
  password: string;
}

export interface ClientContext {
  ip: string;
}

export interface AuthServiceDeps {
  users: UsersRepo;
  sessions: SessionsRepo;
  passwords: PasswordHasher;
  tokens: AccessTokens;
  /** Ended sessions are announced to every instance (caches, running replies). */
  revocations: Pick<Revocations, 'announce'>;
  limiter: RateLimiter;
  clock: Clock;
  /** Answers show the role requests act with, ADMIN_USERNAMES included. */
  admins: NamedAdmins;
  settings: {
    refreshTokenTtlMs: number;
    refreshReuseGraceMs: number;
    limits: { loginAccount: RateRule | null; loginIp: RateRule | null; registerIp: RateRule | null; refreshSession: RateRule | null };
  };
}

// An address that signed in to an account recently is not locked out by failures
// from elsewhere, so an attacker cannot keep the real user out of their account.
const KNOWN_ADDRESS = 'login_known';
const KNOWN_ADDRESS_TTL_MS = 30 * 86_400_000;

// `error` is what OAuth2 clients of /v1/auth/token read (RFC 6749 §5.2), as on refused refreshes.
const invalidCredentials = () => new AppError('invalid_credentials', 'The username/email or password is incorrect', { extra: { error: 'invalid_grant' } });
const usernameTaken = (username: string) => new AppError('username_taken', `The username "${username}" is already taken`);
const emailTaken = () => new AppError('email_taken', 'An account with this email already exists; sign in instead');
const noName = () => validationError('username', 'is required when no email is given');
/** Which unique rule a failed insert broke (migrations/0001 and 0006 name them). */
function takenBy(error: unknown): 'username' | 'email' | null {
  if (!isUniqueViolation(error)) return null;
  const constraint = constraintName(error);
  if (constraint === 'users_local_username_key') return 'username';
  if (constraint === 'users_local_email_key') return 'email';
  return null;
}
// Two sign-ups made from one email's local part at once can pick the same name; the loser tries the next.
const MAX_MADE_UP_ATTEMPTS = 5;

const SESSION_ENDED = 'This session has ended; sign in again';
const invalidRefresh = (detail = 'The refresh token is not valid') =>
  new AppError('invalid_token', detail, { extra: { error: 'invalid_grant' } });

// A token presented within the grace is answered with the end of its line; the line is never
// longer than the refreshes one grace holds, so this bound is never reached in use.
const MAX_SUCCESSORS_FOLLOWED = 20;

type TokenIssuing = Pick<AuthServiceDeps, 'tokens' | 'clock' | 'admins' | 'settings'>;

async function answer(deps: TokenIssuing, repo: SessionsRepo, user: UserRow, sessionId: string): Promise<TokenAnswer> {
  const now = deps.clock.now();
  const refresh = newRefreshToken();
  await repo.addRefreshToken(sessionId, refresh.hash, now, new Date(now.getTime() + deps.settings.refreshTokenTtlMs));
  return withAccess(deps, user, sessionId, refresh.token);
}

async function withAccess(deps: TokenIssuing, user: UserRow, sessionId: string, refreshToken: string): Promise<TokenAnswer> {
  const access = await deps.tokens.sign({ userId: user.id, sessionId });
  const role = deps.admins.roleOf(user);
  return { access_token: access.token, token_type: 'bearer', expires_in: access.expiresIn, refresh_token: refreshToken, user: { ...toUser(user), role } };
}

async function startSession(deps: TokenIssuing & Pick<AuthServiceDeps, 'sessions'>, user: UserRow, repo: SessionsRepo = deps.sessions): Promise<TokenAnswer> {
  const session = await repo.create(user.id, deps.clock.now());
  return answer(deps, repo, user, session.id);
}

/** The account, its session and its refresh token, in the caller's transaction: all or nothing. */
async function createAccount(deps: AuthServiceDeps, tx: Access, input: { username?: string; email: string | null; passwordHash: string }) {
  const inTx = deps.users.within(tx);
  let username = input.username;
  if (!username) {
    const base = usernameBase(input.email!);
    username = nextFreeUsername(base, await inTx.localUsernamesLike(base));
  }
  const user = await inTx.insertLocal({ username, email: input.email, passwordHash: input.passwordHash }, deps.clock.now());
  return startSession(deps, user, deps.sessions.within(tx));
}

/**
 * The stored hash a password matches (the new one when it was re-hashed), or null. The same work
 * for an unknown account as for a wrong password: no timing oracle.
 */
function passwordMatch(deps: Pick<AuthServiceDeps, 'users' | 'passwords' | 'clock'>) {
  const { users, passwords, clock } = deps;
  return async function matchingHash(user: UserRow | undefined, password: string, again = true): Promise<string | null> {
    if (!user?.passwordHash) {
      await passwords.verifyDummy(password);
      return null;
    }
    const check = await passwords.verify(user.passwordHash, password);
    if (!check.ok || !user.isActive) return null;
    if (!check.needsRehash) return user.passwordHash;
    const rehashed = await passwords.hash(password);
    // Only over the hash checked: a password changed meanwhile must not be set back to this one.
    if (await users.replacePasswordHash(user.id, user.passwordHash, rehashed, clock.now())) return rehashed;
    // Replaced meanwhile, by a change or by another sign-in's re-hash of this same password.
    const current = again ? await users.findById(user.id) : undefined;
    return current ? matchingHash(current, password, false) : null;
  };
}

/** Registration and login: the ways into an account, each ending in a new session. */
function createSignIn(deps: AuthServiceDeps) {
  const { users, sessions, passwords, limiter, clock, settings } = deps;
  const policies = {
    loginAccount: { name: 'login_account', rule: settings.limits.loginAccount },
    loginIp: { name: 'login_ip', rule: settings.limits.loginIp },
    registerIp: { name: 'register_ip', rule: settings.limits.registerIp },
  };

  async function register(input: RegisterInput, client: ClientContext): Promise<TokenAnswer> {
    const email = input.email ?? null;
    if (!input.username && !email) throw noName();
    await limiter.consume(policies.registerIp, client.ip);
    // Cheap refusals first, before the deliberately slow hashing; the unique indexes decide races.
    if (input.username && (await users.findLocalByUsername(input.username))) throw usernameTaken(input.username);
    if (email && (await users.findLocalByEmail(email))) throw emailTaken();
    const passwordHash = await passwords.hash(input.password);
    for (let attempt = 1; ; attempt++) {
      try {
        return await sessions.transaction((tx) => createAccount(deps, tx, { username: input.username, email, passwordHash }));
      } catch (error) {
        const taken = takenBy(error);
        if (taken === 'email') throw emailTaken();
        if (taken !== 'username') throw error;
        if (input.username) throw usernameTaken(input.username);
        if (attempt >= MAX_MADE_UP_ATTEMPTS) throw error;
      }
    }
  }

  /** A session for the user, unless their password changed since it was checked (the old one no longer signs in). */
  async function signedIn(user: UserRow, hash: string): Promise<TokenAnswer | null> {
    const session = await sessions.createWhilePassword(user.id, hash, clock.now());
    return session ? answer(deps, sessions, user, session.id) : null;
  }

  const matchingHash = passwordMatch(deps);

  async function login(input: { identifier: string; password: string }, client: ClientContext) {
    await limiter.consume(policies.loginIp, client.ip);
    const identifier = input.identifier.toLowerCase();
    const user = identifier.includes('@') ? await users.findLocalByEmail(identifier) : await users.findLocalByUsername(identifier);
    // One counter per account however it is named (username or email); unknown names get
    // their own counter, so a 429 says nothing about whether an account exists.
    const account = user ? `user:${user.id}` : `name:${identifier}`;
    const known = await limiter.recalls(KNOWN_ADDRESS, `${account}|${client.ip}`);
    // The attempt is counted before the slow password check, not after it: guesses sent together
    // all passed a check made first and counted later (40 concurrent guesses, 40 checks at 3/1m).
    if (!known) await limiter.consume(policies.loginAccount, account);
    const hash = await matchingHash(user, input.password);
    const tokens = user && hash ? await signedIn(user, hash) : null;
    if (!tokens) {
      if (known) await limiter.record(policies.loginAccount, account);
      throw invalidCredentials();
    }
    // Only failures count against the account: the right password gives its attempt back.
    if (!known) await limiter.release(policies.loginAccount, account);
    await limiter.remember(KNOWN_ADDRESS, `${account}|${client.ip}`, KNOWN_ADDRESS_TTL_MS);
    return tokens;
  }

  return { register, login };
}

/** Using a session once signed in: refreshing its tokens, ending it, reading its user. */
function createSessionUse(deps: AuthServiceDeps) {
  const { users, sessions, revocations, limiter, clock, settings } = deps;
  const perSession = { name: 'refresh_session', rule: settings.limits.refreshSession };

  async function continueSession(sessionId: string, refreshToken: string): Promise<TokenAnswer> {
    const found = await sessions.findWithUser(sessionId);
    if (!found || found.session.revokedAt || !found.user.isActive) throw invalidRefresh(SESSION_ENDED);
    await sessions.touch(sessionId, clock.now());
    return withAccess(deps, found.user, sessionId, refreshToken);
  }

  /**
   * The token now in use in the line that replaced `presented`: each spent token holds its
   * successor, sealed for its own holder. Null when a link cannot be opened (rotated before
   * successors were kept).
   */
  async function currentToken(presented: string, spent: SpentToken): Promise<string | null> {
    let holder = presented;
    let row: SpentToken | undefined = spent;
    for (let step = 0; step < MAX_SUCCESSORS_FOLLOWED; step++) {
      const successor = row.successorSealed ? openSuccessor(row.successorSealed, holder) : null;
      if (!successor) return null;
      row = await sessions.findToken(hashRefreshToken(successor));
      if (!row) return null;
      if (!row.rotatedAt) return successor;
      holder = successor;
    }
    return null;
  }

  async function refresh(refreshToken: string): Promise<TokenAnswer> {
    if (!looksLikeRefreshToken(refreshToken)) throw invalidRefresh();
    const hash = hashRefreshToken(refreshToken);
    // Each rotation keeps a row, so rotations are counted per session before one is made. A
    // token already rotated is answered from stored rows (the grace, or reuse) and not counted.
    const presented = perSession.rule ? await sessions.findToken(hash) : undefined;
    if (presented && !presented.rotatedAt) await limiter.consume(perSession, presented.sessionId);
    const now = clock.now();
    const next = newRefreshToken();
    const expiresAt = new Date(now.getTime() + settings.refreshTokenTtlMs);
    const rotated = await sessions.rotate(hash, now, { tokenHash: next.hash, sealed: sealSuccessor(next.token, refreshToken), expiresAt });
    if (rotated === 'ended') throw invalidRefresh(SESSION_ENDED);
    // Its session and user were read live in the transaction that spent the token.
    if (rotated) return withAccess(deps, rotated.user, rotated.sessionId, next.token);

    const token = await sessions.findToken(hash);
    if (!token) throw invalidRefresh();
    if (!token.rotatedAt) throw invalidRefresh(token.expiresAt > now ? SESSION_ENDED : 'The refresh token has expired; sign in again');
    if (now.getTime() - token.rotatedAt.getTime() < settings.refreshReuseGraceMs) {
      // Two tabs refreshing with one token at once both get the session's current pair. A new
      // token per replay would let a stolen token fork a line of the session rotation never sees.
      const current = await currentToken(refreshToken, token);
      if (!current) throw invalidRefresh('This refresh token was already used; sign in again');
      return continueSession(token.sessionId, current);
    }
    await sessions.revoke(token.sessionId, 'refresh_token_reused', now);
    await revocations.announce({ session: token.sessionId });
    throw new AppError('refresh_token_reused', 'This refresh token was already used; the session has been ended for safety', {
      extra: { error: 'invalid_grant' },
    });
  }

  /** The signed-in user as stored, with the role this request acts with. */
  async function me(caller: Principal): Promise<User> {
    const row = caller.kind === 'user' ? await users.findById(caller.actorId) : undefined;
    if (!row) throw new AppError('invalid_token', 'This session has ended; sign in again');
    return { ...toUser(row), role: caller.role };
  }

  return { refresh, me };
}

/** Signing out: this session, or every session of the account. */
function createSignOut(deps: AuthServiceDeps) {
  const { sessions, revocations, clock } = deps;
  async function logout(caller: Principal, options: { everywhere?: boolean } = {}): Promise<void> {
    // An external user's session belongs to their own system; there is nothing here to end.
    if (!caller.sessionId) return;
    const now = clock.now();
    await sessions.revoke(caller.sessionId, 'logout', now);
    if (!options.everywhere) return revocations.announce({ session: caller.sessionId });
    await sessions.revokeOthers(caller.actorId, caller.sessionId, 'logout_everywhere', now);
    await revocations.announce({ user: caller.actorId, deactivated: false });
  }

  return { logout };
}

export function createAuthService(deps: AuthServiceDeps) {
  return { ...createSignIn(deps), ...createSessionUse(deps), ...createSignOut(deps), ...createPasswordChange(deps) };
}

export type AuthService = ReturnType<typeof createAuthService>;
