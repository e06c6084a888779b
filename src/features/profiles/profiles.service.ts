import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { unstorableText } from '../../lib/text.js';
import { countTokensWithin } from '../../llm/tokens.js';
import type { Principal } from '../auth/principal.js';
import { isShownName } from '../public/public-chatbots.service.js';
import { fieldText, profileFacts, renderProfile, shownFields } from './profile-text.js';
import type { ProfilesRepo } from './profiles.repo.js';
import { EMPTY_PROFILE, PROFILE_FIELDS, profileMaxTokens, type Profile, type ProfileFields, type ProfileInput, type PublicProfile } from './profiles.schemas.js';

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
  /** CONTEXT_TOKEN_BUDGET: what a turn sends the model, of which the profile may take a share. */
  contextTokenBudget: number;
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
  for (const { key } of PROFILE_FIELDS) fields[key] = fieldText(input[key] ?? '');
  return fields;
}

/**
 * Counted as the model is sent it, in every turn of a chatbot with use_profile: over the bound, the
 * profile would leave a turn's history little or no room (§6.2) and is refused rather than saved.
 */
function checkFits(fields: ProfileFields, contextTokenBudget: number) {
  const text = renderProfile(profileFacts(fields));
  if (text === null) return;
  const most = profileMaxTokens(contextTokenBudget);
  if (countTokensWithin(text, most) <= most) return;
  throw validationError(
    '',
    `the profile is too long for a chatbot to answer from: at most ${most} tokens in all (three eighths of the server's context budget; fewer characters in scripts such as Chinese than in English); shorten the longest fields`,
    { detail: `The profile is over ${most} tokens; nothing was saved` },
  );
}

export function createProfilesService(deps: ProfilesDeps): ProfilesService {
  const { profiles, clock } = deps;
  return {
    async get(caller) {
      const found = await profiles.find(ownerOf(caller));
      return found ? shownFields(found) : { ...EMPTY_PROFILE };
    },
    async replace(caller, input) {
      const owner = ownerOf(caller);
      const fields = fieldsOf(input);
      checkFits(fields, deps.contextTokenBudget);
      return profiles.save(owner, fields, clock.now());
    },
    async findPublic(username) {
      // A name that is an email address is never shown (nor found by), as on a chatbot's page:
      // found by it, the profile would tell anyone with a list of addresses whose they are.
      if (unstorableText(username) || !isShownName(username)) throw notShown();
      const found = await profiles.findPublic(username);
      if (!found) throw notShown();
      return shownFields(found);
    },
  };
}
