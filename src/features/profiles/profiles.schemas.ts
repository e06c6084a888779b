import { Type, type Static } from 'typebox';

/**
 * The profile's fields in the order they are shown and sent to the model, with their limits in
 * code points (§12). Name and location are a line each; the rest are paragraphs. All of them
 * together stay near 2,500 tokens of English, well inside the default CONTEXT_TOKEN_BUDGET (8,000),
 * so a full profile still leaves room for the conversation.
 */
export const PROFILE_FIELDS = [
  { key: 'name', label: 'Name', maxLength: 100 },
  { key: 'location', label: 'Location', maxLength: 100 },
  { key: 'bio', label: 'Bio', maxLength: 2000 },
  { key: 'skills', label: 'Skills', maxLength: 2000 },
  { key: 'experience', label: 'Experience', maxLength: 4000 },
  { key: 'interests', label: 'Interests', maxLength: 2000 },
] as const;

/**
 * The most tokens the profile may take in the prompt, as the model reads it (labelled lines):
 * three eighths of CONTEXT_TOKEN_BUDGET (3,000 of the default 8,000). The limits above in
 * characters are about 2,500 tokens of English, but about a token a character in Chinese or
 * Japanese: a profile within them took 8,800 tokens there, more than the default budget, and the
 * chatbot answered with no history at all.
 */
export const profileMaxTokens = (contextTokenBudget: number) => Math.floor((contextTokenBudget * 3) / 8);

export type ProfileKey = (typeof PROFILE_FIELDS)[number]['key'];
export type ProfileFields = Record<ProfileKey, string>;

const limit = (key: ProfileKey) => PROFILE_FIELDS.find((field) => field.key === key)!.maxLength;
const text = (key: ProfileKey, description: string) => Type.String({ maxLength: limit(key), description });

const fields = {
  name: text('name', 'How the owner is called'),
  location: text('location', 'Where the owner is based'),
  bio: text('bio', 'A few sentences about the owner'),
  skills: text('skills', 'What the owner knows and does well'),
  experience: text('experience', 'Work, projects, education'),
  interests: text('interests', 'What the owner likes outside work'),
};

export const ProfileBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    location: Type.Optional(fields.location),
    bio: Type.Optional(fields.bio),
    skills: Type.Optional(fields.skills),
    experience: Type.Optional(fields.experience),
    interests: Type.Optional(fields.interests),
  },
  {
    additionalProperties: false,
    title: 'ProfileInput',
    description: `Replaces the whole profile: a field left out is stored empty, and so is one of only spaces or invisible characters (zero-width spaces and joiners, variation selectors, bidi marks). Surrounding whitespace is trimmed. Besides each field's limit in characters, the whole profile takes at most three eighths of the server's CONTEXT_TOKEN_BUDGET in tokens as the model reads it (3,000 by default: about 10,000 characters of English, fewer in scripts such as Chinese), so a chatbot answering from it keeps room for the conversation.`,
  },
);
export type ProfileInput = Static<typeof ProfileBody>;

const answerFields = {
  name: Type.String(),
  location: Type.String(),
  bio: Type.String(),
  skills: Type.String(),
  experience: Type.String(),
  interests: Type.String(),
};

export const ProfileSchema = Type.Object(answerFields, {
  title: 'Profile',
  description: 'Free text; a field never written is an empty string.',
});
export type Profile = Static<typeof ProfileSchema>;

export const PublicProfileSchema = Type.Object(
  { username: Type.String(), ...answerFields },
  { title: 'PublicProfile', description: "The owner's username and profile, nothing else." },
);
export type PublicProfile = Static<typeof PublicProfileSchema>;

/** Matched loosely here and checked by the service, so a name that cannot exist is the same 404. */
export const UsernameParams = Type.Object({ username: Type.String() });

export const EMPTY_PROFILE: ProfileFields = { name: '', location: '', bio: '', skills: '', experience: '', interests: '' };
