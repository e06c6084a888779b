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
    description: 'Replaces the whole profile: a field left out is stored empty. Surrounding whitespace is trimmed.',
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
