// Parley keeps text of every language, and searches, counts and compares it in SQL: a database in
// another encoding (SQL_ASCII or LATIN1, taken from the templates of a cluster made without a
// UTF-8 locale) failed its migrations halfway, naming only a character code. PGlite is always UTF8.

/** What to do, for the one line that refuses such a database. */
export const UTF8_DATABASE_FIX =
  "create one with CREATE DATABASE parley ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0 (or another UTF-8 locale the server has) and point DATABASE_URL at it";

/** The statement's columns: `encoding` and `name` of the database connected to, the server's `version` and its `num`. */
export const ENCODING_QUERY =
  "SELECT current_setting('server_encoding') AS encoding, current_database() AS name, current_setting('server_version') AS version, current_setting('server_version_num')::int AS num";

/** Why Parley cannot use the database, or null when its encoding is UTF8. */
export function encodingProblem(database: { encoding: string; name: string }): string | null {
  if (database.encoding.toUpperCase() === 'UTF8') return null;
  return `the database "${database.name}" is in encoding ${database.encoding}; Parley stores text of every language and needs UTF8`;
}
