-- Terms are made as letter-folding.ts makes them: without the accents of Latin and Greek letters,
-- with "ß" as "ss" and "ı" as "i", and without a French or Italian elided article in front, an
-- "'s" after, or a Turkish case ending after a name. "ecole" finds "école", "ΩΡΑΡΙΟ" "Ωράριο",
-- "Strasse" "Straße", "Kadikoy" "Kadıköy", "école" "l'école", "Parley" "Parley's", "İstanbul"
-- "İstanbul'da". Chunks stored before keep "l'école" and "straße", which a question now never asks
-- for: their terms are made again the same way, with the same ranges, elisions and endings.
-- Lexemes that become equal are merged by the cast, positions and all. Only chunks holding a letter
-- of those ranges or an apostrophe (doubled in the text of a tsvector) are read again, and in them
-- only the lexemes past ASCII or with an apostrophe are worked on. Row security,
-- forced on the table, holds its owner too where the owner is no superuser (a managed PostgreSQL):
-- it is lifted for this transaction only, which holds the table (as in 0028).
ALTER TABLE knowledge_chunks NO FORCE ROW LEVEL SECURITY;
UPDATE knowledge_chunks
   SET search = (
     SELECT coalesce(string_agg('''' || replace(replace(v.term, '\', '\\'), '''', '''''') || '''' || v.at, ' '), '')::tsvector
       FROM (SELECT CASE WHEN strpos(f.folded, '''') = 0 THEN f.folded
                         ELSE regexp_replace(regexp_replace(regexp_replace(f.folded,
                                '^(c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu|dell|dall|nell|sull|all|un|quest|quell)''(?=[^''])', ''),
                                '(.)''s$', '\1'),
                                '^([^'']+)''(y?[aeiu]|n?[iu]n|[dt][ae](n|ki)?|l[ae]r[a-z]*|y?l[ae]|c[ae])$', '\1') END AS term,
                    f.at
               FROM (SELECT CASE WHEN u.lexeme !~ '[\u0080-\U0010ffff]' THEN u.lexeme
                                 ELSE replace(translate(normalize(regexp_replace(normalize(u.lexeme, NFD),
                                        '([a-z\u00c0-\u024f\u1e00-\u1eff\u0370-\u03ff\u1f00-\u1fff])[\u0300-\u036f]+', '\1', 'g'), NFC),
                                        'ı', 'i'), 'ß', 'ss') END AS folded,
                            CASE WHEN u.positions IS NULL THEN '' ELSE ':' || array_to_string(u.positions, ',') END AS at
                       FROM unnest(search) AS u) f) v
   )
 WHERE search::text ~ '[\u00c0-\u024f\u0300-\u03ff\u1e00-\u1fff]|''''';
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;
