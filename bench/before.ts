/**
 * What main measured when issue 15 ("Small, quick and easy to run in production") was filed, so each
 * report shows its targets' figures beside the ones it measures. Start-up and idle memory are the
 * issue's own opening paragraph; the latency, stream and row-security figures are the reports of
 * that day (`git show 686e8a1:docs/benchmarks.md`, `…:docs/benchmarks-pglite.md`, both measured on
 * 2026-11-23 on a machine like this one, not necessarily the same one).
 */
export interface Before {
  fresh: string;
  restart: string;
  idleFresh: string;
  idleRestart: string;
  addedTurn: string;
  /** The turn's SQL was not measured apart then. */
  beyondSql: string;
  addedTtft: string;
  allClosed: string;
  rlsRatio: string;
}

export const BEFORE: { postgres: Before; pglite: Before } = {
  postgres: {
    fresh: '2.4 s',
    restart: '2.4 s',
    idleFresh: '168 MB',
    idleRestart: '168 MB',
    addedTurn: '7.10 ms',
    beyondSql: 'not measured apart; 7.10 ms added in all',
    addedTtft: '3.99 ms',
    allClosed: '3319 ms',
    rlsRatio: '0.92×',
  },
  pglite: {
    fresh: '4.9 s',
    restart: '2.1 s',
    idleFresh: '832 MB',
    idleRestart: '384 MB',
    addedTurn: '8.73 ms',
    beyondSql: 'n/a',
    addedTtft: '4.69 ms',
    allClosed: '3833 ms',
    rlsRatio: '0.83×',
  },
};

/** The figures for the database a run uses. */
export const beforeFor = (databaseUrl: string | undefined): Before => (databaseUrl ? BEFORE.postgres : BEFORE.pglite);
