-- Terms are made as letter-folding.ts makes them: without the accents of Latin and Greek letters,
-- with "ß" as "ss" and "ı" as "i"; without a French or Italian elided article in front, an "'s"
-- after, or a Turkish case ending after a name; and a plural as its singular. "ecole" finds
-- "école", "ΩΡΑΡΙΟ" "Ωράριο", "Strasse" "Straße", "Kadikoy" "Kadıköy", "école" "l'école", "Parley"
-- "Parley's", "İstanbul" "İstanbul'da", "shoe" "shoes". Chunks stored before keep "l'école",
-- "straße" and "shoes", which a question now never asks for: their terms are made again the same
-- way, with the same ranges, elisions, endings and plural rules. Lexemes that become equal are
-- merged by the cast, positions and all. Only chunks holding a letter of those ranges, an
-- apostrophe (doubled in the text of a tsvector) or a word ending in "s" are read again, and in
-- them each step works only on the lexemes it can change. Row security, forced on the table, holds
-- its owner too where the owner is no superuser (a managed PostgreSQL): it is lifted for this
-- transaction only, which holds the table (as in 0028).
ALTER TABLE knowledge_chunks NO FORCE ROW LEVEL SECURITY;
UPDATE knowledge_chunks
   SET search = (
     SELECT coalesce(string_agg('''' || replace(replace(v.term, '\', '\\'), '''', '''''') || '''' || v.at, ' '), '')::tsvector
       FROM (SELECT CASE WHEN right(b.bare, 1) <> 's' THEN b.bare
                         WHEN b.bare !~ '^[a-z]{4,}$' OR b.bare ~ '(ss|us|is)$' THEN b.bare
                         WHEN length(b.bare) >= 5 AND b.bare ~ '[^ae]ies$' THEN left(b.bare, -3) || 'y'
                         WHEN b.bare ~ '(ch|sh|ss|x|zz)es$' THEN left(b.bare, -2)
                         WHEN b.bare ~ '[^aeo]es$' THEN left(b.bare, -1)
                         WHEN b.bare ~ '[^s]s$' THEN left(b.bare, -1)
                         ELSE b.bare END AS term,
                    b.at
               FROM (SELECT CASE WHEN strpos(f.folded, '''') = 0 THEN f.folded
                                 ELSE regexp_replace(regexp_replace(regexp_replace(f.folded,
                                        '^(c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu|dell|dall|nell|sull|all|un|quest|quell)''(?=[^''])', ''),
                                        '(.)''s$', '\1'),
                                        '^([^'']+)''(y?[aeiu]|n?[iu]n|[dt][ae](n|ki)?|l[ae]r[a-z]*|y?l[ae]|c[ae])$', '\1') END AS bare,
                            f.at
                       FROM (SELECT CASE WHEN u.lexeme !~ '[\u0080-\U0010ffff]' THEN u.lexeme
                                         ELSE replace(translate(normalize(regexp_replace(normalize(u.lexeme, NFD),
                                                '([a-z\u00c0-\u024f\u1e00-\u1eff\u0370-\u03ff\u1f00-\u1fff])[\u0300-\u036f]+', '\1', 'g'), NFC),
                                                'ı', 'i'), 'ß', 'ss') END AS folded,
                                    CASE WHEN u.positions IS NULL THEN '' ELSE ':' || array_to_string(u.positions, ',') END AS at
                               FROM unnest(search) AS u) f) b) v
   )
 WHERE search::text ~ '[\u00c0-\u024f\u0300-\u03ff\u1e00-\u1fff]|''''|s''';
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;
