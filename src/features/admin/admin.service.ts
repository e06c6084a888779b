// What admins see and change about users, with roles as requests act with them: ADMIN_USERNAMES
// outranks the stored role, so a change it would override is refused rather than silently kept.
// A change applies from the user's next request on every instance, and a deactivated user's
// running replies stop.
import type { ExternalIssuer } from '../../config/issuer-types.js';
import type { UserRow } from '../../db/schema.js';
import { AppError } from '../../errors/app-error.js';
import type { NamedAdmins } from '../auth/authenticate.js';
import type { Revocations } from '../auth/revocations.js';
import { toUser } from '../users/users.schemas.js';
import type { AdminRepo } from './admin.repo.js';
import type { AdminUser } from './admin.schemas.js';

/**
 * `issuers`: the external issuers configured now; a user's stored issuer name finds the role claim
 * that may make their requests an admin's.
 */
export function createAdminService(repo: AdminRepo, admins: NamedAdmins, revocations: Pick<Revocations, 'announce'>, issuers: readonly ExternalIssuer[] = []) {
  const roleClaims = new Map(issuers.flatMap((issuer) => (issuer.roleClaim ? [[issuer.name, { claim: issuer.roleClaim.claim, admin_values: issuer.roleClaim.adminValues }] as const] : [])));
  const shown = (row: UserRow): AdminUser => ({ ...toUser(row), role: admins.roleOf(row), role_claim: (row.issuer !== null && roleClaims.get(row.issuer)) || null });
  const noUser = () => new AppError('not_found', 'No user with this id');
  // An external user may be an admin by their token's role claim, which is not stored: only
  // their activity can be read again.
  const mayAct = (row: UserRow) => row.isActive && (row.role === 'admin' || admins.includes(row) || row.issuer !== null);

  /**
   * `actorId`: the admin making the change. `notAdmin`: the refusal for one demoted or deactivated
   * since their request was let in (by another admin's change made at the same moment).
   */
  async function updateUser(
    actorId: string,
    id: string,
    changes: { role?: 'user' | 'admin'; isActive?: boolean },
    now: Date,
    notAdmin: () => AppError,
  ): Promise<AdminUser> {
    // An admin locked out of their own account has no way back but the server's command line.
    if (id === actorId && (changes.role === 'user' || changes.isActive === false)) {
      throw new AppError('own_account', 'You cannot deactivate or demote your own account; another admin can, or `parley users` on the server');
    }
    if (changes.role === 'user') {
      const row = await repo.findUser(id);
      if (!row) throw noUser();
      if (admins.includes(row)) {
        throw new AppError('role_fixed_by_config', `${row.username} is an admin through ADMIN_USERNAMES; take them off that list to change their role`);
      }
    }
    const row = await repo.updateUser({ id: actorId, mayAct }, id, changes, now);
    if (row === 'refused') throw notAdmin();
    if (!row) throw noUser();
    // Whatever changed (active or not, role), every instance checks this user again.
    await revocations.announce({ user: row.id, deactivated: !row.isActive });
    return shown(row);
  }

  return { listUsers: repo.listUsers, stats: repo.stats, updateUser, shown };
}

export type AdminService = ReturnType<typeof createAdminService>;
