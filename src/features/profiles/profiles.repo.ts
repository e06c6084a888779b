import { eq } from 'drizzle-orm';
import { profiles } from '../../db/schema.js';
import type { Scoped } from '../../db/scope.js';
import type { ProfileFields } from './profiles.schemas.js';

export interface ProfilesRepo {
  /** The user's profile, or undefined when they never saved one. */
  find(userId: string): Promise<ProfileFields | undefined>;
  /** Stores the whole profile, replacing what was there. */
  save(userId: string, fields: ProfileFields, now: Date): Promise<ProfileFields>;
  /**
   * The profile of the active user with this username (any case), only when they have a public
   * chatbot using it; fields never written read as empty. Undefined otherwise.
   */
  findPublic(username: string): Promise<(ProfileFields & { username: string }) | undefined>;
}

const columns = {
  name: profiles.name,
  location: profiles.location,
  bio: profiles.bio,
  skills: profiles.skills,
  experience: profiles.experience,
  interests: profiles.interests,
};

// The chatbot condition is also the public-profile scope's policy (migrations/0007); stating it
// here too keeps the query's meaning plain. Usernames are unique per issuer, not overall: a local
// account comes first, then the earliest external one, so the answer is the same every time.
const PUBLIC_PROFILE = `
SELECT u.username,
       coalesce(p.name, '') AS name, coalesce(p.location, '') AS location, coalesce(p.bio, '') AS bio,
       coalesce(p.skills, '') AS skills, coalesce(p.experience, '') AS experience, coalesce(p.interests, '') AS interests
  FROM users u LEFT JOIN profiles p ON p.user_id = u.id
 WHERE lower(u.username) = lower($1) AND u.is_active
   AND EXISTS (SELECT 1 FROM chatbots c WHERE c.user_id = u.id AND c.is_public AND c.use_profile)
 ORDER BY u.issuer IS NOT NULL, u.created_at, u.id
 LIMIT 1`;

export function createProfilesRepo(scoped: Scoped): ProfilesRepo {
  return {
    async find(userId) {
      const [row] = await scoped.user(userId, ({ db }) => db.select(columns).from(profiles).where(eq(profiles.userId, userId)).limit(1));
      return row;
    },
    async save(userId, fields, now) {
      const [row] = await scoped.user(userId, ({ db }) =>
        db
          .insert(profiles)
          .values({ userId, ...fields, createdAt: now, updatedAt: now })
          .onConflictDoUpdate({ target: profiles.userId, set: { ...fields, updatedAt: now } })
          .returning(columns),
      );
      return row!;
    },
    async findPublic(username) {
      const [row] = await scoped.system('public-profile', ({ sql }) => sql.query<ProfileFields & { username: string }>(PUBLIC_PROFILE, [username]));
      return row;
    },
  };
}
