import { AppError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { unstorableText } from '../../lib/text.js';
import type { Principal } from '../auth/principal.js';
import { isShownName } from '../public/public-chatbots.service.js';
import type { ProfilesRepo } from './profiles.repo.js';
import { EMPTY_PROFILE, PROFILE_FIELDS, type Profile, type ProfileFields, type ProfileInput, type PublicProfile } from './profiles.schemas.js';

export interface ProfilesService {
  get(caller: Principal): Promise<Profile>;
  /** Replaces the whole profile: a field left out is stored empty. */
  replace(caller: Principal, input: ProfileInput): Promise<Profile>;
  /** Anyone may ask; the answer is the same 404 for an unknown user and a profile not shown. */
  findPublic(username: string): Promise<PublicProfile>;
}

export interface ProfilesDeps {
  profiles: ProfilesRepo;
  clock: Clock;
}

// A path segment is not checked by the body validator: a username that cannot be stored
// (unstorableText: NUL would make PostgreSQL refuse the query, a lone surrogate could match no
// stored name) names no profile. (Over-long segments never reach here: the router answers 404
// past its parameter length.)

const notShown = () => new AppError('not_found', 'No public profile with this username');

/**
 * The profile is the signed-in user's own. Visitors and API keys act for a chatbot's owner
 * (`ownerId`) but are not that owner, so they may neither read nor write it here.
 */
function ownerOf(caller: Principal): string {
  if (caller.kind !== 'user') throw new AppError('forbidden', 'Only a signed-in user has a profile');
  return caller.ownerId;
}

function fieldsOf(input: ProfileInput): ProfileFields {
  const fields = { ...EMPTY_PROFILE };
  for (const { key } of PROFILE_FIELDS) fields[key] = (input[key] ?? '').trim();
  return fields;
}

export function createProfilesService(deps: ProfilesDeps): ProfilesService {
  const { profiles, clock } = deps;
  return {
    async get(caller) {
      return (await profiles.find(ownerOf(caller))) ?? { ...EMPTY_PROFILE };
    },
    async replace(caller, input) {
      return profiles.save(ownerOf(caller), fieldsOf(input), clock.now());
    },
    async findPublic(username) {
      // A name that is an email address is never shown (nor found by), as on a chatbot's page:
      // found by it, the profile would tell anyone with a list of addresses whose they are.
      if (unstorableText(username) || !isShownName(username)) throw notShown();
      const found = await profiles.findPublic(username);
      if (!found) throw notShown();
      return found;
    },
  };
}
