// `parley slugs show|release <slug>`: what a slug names, and freeing one a chatbot gave up. A slug
// given up stays its account's (migrations/0031_released_slugs.sql), for as long as nobody frees
// it: an operator settling a name (a trademark, a squatter's slugs, an account removed) frees it
// here. With the embedded database, stop the server first (one process per PGlite folder).
import { USAGE } from './cli-usage.js';
import type { SqlRunner } from './db/client.js';

export const SLUGS_USAGE = USAGE.slugs;

const SLUG = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const ACTIONS = ['show', 'release'] as const;
type Action = (typeof ACTIONS)[number];

/** The command line, checked before the database is opened (or created, in a new DATA_DIR). */
export function parseSlugsArguments(argv: string[]): { action: Action; slug: string } {
  const [action, given, ...rest] = argv;
  if (!action || !(ACTIONS as readonly string[]).includes(action) || given === undefined || rest.length > 0) throw new Error(`usage: ${SLUGS_USAGE}`);
  // Slugs are stored lowercased; a slug as a page writes it may have capitals.
  const slug = given.toLowerCase();
  if (slug.length > 64 || !SLUG.test(slug)) throw new Error(`"${given}" is no slug (lowercase letters, digits and inner hyphens, at most 64): nothing was changed`);
  return { action: action as Action, slug };
}

type Use = { id: string; name: string; is_public: boolean; username: string };
type Hold = { username: string | null; released_at: Date | string };

async function lookUp(tx: SqlRunner, slug: string): Promise<{ use?: Use; hold?: Hold }> {
  // Row security is forced on the owner too: chatbots and users are read in the admin scope.
  await tx.query("SELECT set_config('app.scope', 'admin', true)");
  const [use] = await tx.query<Use>('SELECT c.id, c.name, c.is_public, u.username FROM chatbots c JOIN users u ON u.id = c.user_id WHERE c.slug = $1', [slug]);
  const [hold] = await tx.query<Hold>('SELECT u.username, r.released_at FROM released_slugs r LEFT JOIN users u ON u.id = r.held_by WHERE r.slug = $1', [slug]);
  return { use, hold };
}

const since = (hold: Hold) => new Date(hold.released_at).toISOString();
const holder = (hold: Hold) => (hold.username === null ? 'an account since removed' : hold.username);
const usedBy = (use: Use) => `chatbot "${use.name}" (${use.id}, ${use.is_public ? 'public' : 'private'}) of ${use.username}`;

/** Returns the line to print; throws with a one-line reason when nothing could be done. */
export async function runSlugsCommand(argv: string[], sql: SqlRunner): Promise<string> {
  const { action, slug } = parseSlugsArguments(argv);
  if (action === 'show') {
    const { use, hold } = await sql.transaction((tx) => lookUp(tx, slug));
    if (use) return `${slug}: used by ${usedBy(use)}`;
    if (hold) return `${slug}: given up by ${holder(hold)} on ${since(hold)}, held for that account (parley slugs release ${slug} frees it)`;
    return `${slug}: free`;
  }
  return sql.transaction(async (tx) => {
    // The slug's turn, as a chatbot named or renamed at this moment takes it (chatbot_slug_turns).
    await tx.query('SELECT chatbot_slug_turns($1, NULL)', [slug]);
    const { use, hold } = await lookUp(tx, slug);
    if (use) throw new Error(`${slug} is used by ${usedBy(use)}: nothing was changed (its owner may rename or delete the chatbot)`);
    if (!hold) return `${slug} was not held: it is free`;
    await tx.query('DELETE FROM released_slugs WHERE slug = $1', [slug]);
    return `${slug} is free: held by ${holder(hold)} since ${since(hold)}, now any account may take it`;
  });
}
