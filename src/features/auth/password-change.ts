// A signed-in user replaces their password. Whoever learnt the old one may hold sessions made with
// it: they end with the change, on every instance, and the session that made it goes on. The
// current password is asked for, so an access token alone (stolen, or a device left signed in)
// cannot lock its owner out; its guesses count against the account as failed sign-ins do.
import { AppError } from '../../errors/app-error.js';
import type { ChangePasswordBody } from './auth.schemas.js';
import type { AuthServiceDeps } from './auth.service.js';
import type { Principal } from './principal.js';

const wrongPassword = () => new AppError('wrong_password', 'The current password is not right; nothing was changed');

export function createPasswordChange(deps: AuthServiceDeps) {
  const { users, sessions, passwords, revocations, limiter, clock, settings } = deps;
  // The sign-in limit's counter: guesses here and at sign-in add up.
  const loginAccount = { name: 'login_account', rule: settings.limits.loginAccount };

  async function changePassword(caller: Principal, input: ChangePasswordBody): Promise<void> {
    const user = caller.kind === 'user' && caller.sessionId ? await users.findById(caller.actorId) : undefined;
    if (!user?.passwordHash || user.issuer !== null) {
      throw new AppError('forbidden', 'This account signs in through its own issuer; change the password there');
    }
    const account = `user:${user.id}`;
    await limiter.consume(loginAccount, account);
    const check = await passwords.verify(user.passwordHash, input.current_password);
    if (!check.ok) throw wrongPassword();
    await limiter.release(loginAccount, account);
    const next = await passwords.hash(input.new_password);
    const now = clock.now();
    const keep = caller.sessionId!;
    await sessions.transaction(async (tx) => {
      // Two changes at once both checked the old password: only the first replaces it.
      if (!(await users.within(tx).replacePasswordHash(user.id, user.passwordHash!, next, now))) throw wrongPassword();
      await sessions.within(tx).revokeOthers(user.id, keep, 'password_changed', now);
    });
    // Every instance forgets what it remembered of the user's sessions; their replies go on.
    await revocations.announce({ user: user.id, deactivated: false });
  }

  return { changePassword };
}
