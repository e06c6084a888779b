-- Terms are made without the characters nobody sees inside words (soft hyphens, direction marks,
-- joiners, word joiners, byte order marks) and with Turkish "İ" lowercased to a plain "i"
-- (search-text.ts INVISIBLE, DOTTED_I). Chunks stored before keep terms such as "öff­nungs­zeiten"
-- and "i̇stanbul", which a question now never asks for: their terms are made again the same way.
-- Lexemes that become equal are merged by the cast, positions and all. Row security, forced on the
-- table, holds its owner too where the owner is no superuser (a managed PostgreSQL): there the
-- update would see no chunk at all. It is lifted for this transaction only, which holds the table.
ALTER TABLE knowledge_chunks NO FORCE ROW LEVEL SECURITY;
UPDATE knowledge_chunks
   SET search = (
     SELECT coalesce(string_agg('''' || replace(replace(v.term, '\', '\\'), '''', '''''') || '''' || v.at, ' '), '')::tsvector
       FROM (SELECT regexp_replace(replace(u.lexeme, 'i' || chr(775), 'i'),
                                   '[\u00AD\u061C\u180E\u200C-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]', '', 'g') AS term,
                    CASE WHEN u.positions IS NULL THEN '' ELSE ':' || array_to_string(u.positions, ',') END AS at
               FROM unnest(search) AS u) v
   )
 WHERE search::text ~ ('[\u00AD\u061C\u180E\u200C-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]|i' || chr(775));
ALTER TABLE knowledge_chunks FORCE ROW LEVEL SECURITY;
