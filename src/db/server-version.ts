// §1: any PostgreSQL ≥ 14. PostgreSQL 13 took every migration without a word, and a server would
// then have run on behaviour no test covers (13 is past its end of life): refused before anything
// is made, in the line `parley doctor` gives.

export const MIN_VERSION_NUM = 140_000;

export const OLDER_SERVER_FIX = 'upgrade the server, or point DATABASE_URL at a newer one';

/** Why Parley cannot use the server, or null when it is PostgreSQL 14 or later. */
export function versionProblem(server: { num: number; version: string }): string | null {
  return server.num >= MIN_VERSION_NUM ? null : `the server is PostgreSQL ${server.version}; Parley needs PostgreSQL 14 or later`;
}
