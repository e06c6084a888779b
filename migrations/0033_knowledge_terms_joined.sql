-- A word joined by dots, underscores or colons (`max_tokens`, `config.yaml`, `app:start`) is a
-- term whole and each of its parts a term of its own, at the same position, as search-text.ts
-- makes them now: a question in plain words ("max tokens") finds the document that writes the
-- name joined. Chunks stored before hold the whole only: each part of their joined lexemes is
-- added, made singular by the rules of 0029, leaving out parts of one character, of digits only
-- and with an apostrophe ("U.S.A", "3.14" stay whole only). Lexemes that become equal are merged
-- by the cast, positions and all. Only chunks holding a joined lexeme are written. Row security is
-- lifted for this transaction only, as in 0028.
ALTER TABLE knowledge_chunks NO FORCE ROW LEVEL SECURITY;
UPDATE knowledge_chunks
   SET search = (
     SELECT coalesce(string_agg('''' || replace(replace(v.term, '\', '\\'), '''', '''''') || '''' || v.at, ' '), '')::tsvector
       FROM (SELECT u.lexeme AS term,
                    CASE WHEN u.positions IS NULL THEN '' ELSE ':' || array_to_string(u.positions, ',') END AS at
               FROM unnest(search) AS u
             UNION ALL
             SELECT p.term, p.at
               FROM (SELECT CASE WHEN right(s.part, 1) <> 's' THEN s.part
                                 WHEN s.part !~ '^[a-z]{4,}$' OR s.part ~ '(ss|us|is)$' THEN s.part
                                 WHEN length(s.part) >= 5 AND s.part ~ '[^ae]ies$' THEN left(s.part, -3) || 'y'
                                 WHEN s.part ~ '(ch|sh|ss|x|zz)es$' THEN left(s.part, -2)
                                 WHEN s.part ~ '[^aeo]es$' THEN left(s.part, -1)
                                 WHEN s.part ~ '[^s]s$' THEN left(s.part, -1)
                                 ELSE s.part END AS term,
                            s.lexeme, s.at
                       FROM (SELECT j.part, u.lexeme,
                                    CASE WHEN u.positions IS NULL THEN '' ELSE ':' || array_to_string(u.positions, ',') END AS at
                               FROM unnest(search) AS u,
                                    regexp_split_to_table(u.lexeme, '[._:]+') AS j(part)
                              WHERE u.lexeme ~ '[._:]' AND strpos(j.part, '''') = 0) s) p
              WHERE p.term <> p.lexeme AND length(p.term) > 1 AND p.term !~ '^[0-9٠-٩۰-۹०-९]+$') v
   )
 WHERE EXISTS (SELECT 1 FROM unnest(search) AS u WHERE u.lexeme ~ '[._:]');
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;
