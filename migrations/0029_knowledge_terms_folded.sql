-- Terms are made without the accents of Latin and Greek letters, with "ß" as "ss", and without a
-- French or Italian elided article in front or an "'s" after (letter-folding.ts): "ecole" finds
-- "école", "ΩΡΑΡΙΟ" finds "Ωράριο", "Strasse" finds "Straße", "école" finds "l'école", "Parley"
-- finds "Parley's". Chunks stored before keep "l'école" and "straße", which a question now never
-- asks for: their terms are made again the same way, with the same ranges and elisions. Lexemes that become equal are merged by the cast,
-- positions and all. Only chunks holding a letter of those ranges or an apostrophe (doubled in the
-- text of a tsvector) are read again. Row security, forced on the table, holds its owner too where
-- the owner is no superuser (a managed PostgreSQL): it is lifted for this transaction only, which
-- holds the table (as in 0028).
ALTER TABLE knowledge_chunks NO FORCE ROW LEVEL SECURITY;
UPDATE knowledge_chunks
   SET search = (
     SELECT coalesce(string_agg('''' || replace(replace(v.term, '\', '\\'), '''', '''''') || '''' || v.at, ' '), '')::tsvector
       FROM (SELECT regexp_replace(
                      regexp_replace(
                        replace(normalize(regexp_replace(normalize(u.lexeme, NFD),
                                                         '([a-z\u00c0-\u024f\u1e00-\u1eff\u0370-\u03ff\u1f00-\u1fff])[\u0300-\u036f]+', '\1', 'g'),
                                          NFC),
                                'ß', 'ss'),
                        '^(c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu|dell|dall|nell|sull|all|un|quest|quell)''(?=[^''])', ''),
                      '(.)''s$', '\1') AS term,
                    CASE WHEN u.positions IS NULL THEN '' ELSE ':' || array_to_string(u.positions, ',') END AS at
               FROM unnest(search) AS u) v
   )
 WHERE search::text ~ '[\u00c0-\u024f\u0300-\u03ff\u1e00-\u1fff]|''''';
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;
