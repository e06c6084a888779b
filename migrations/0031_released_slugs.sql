-- A slug its chatbot gave up (the chatbot deleted, or its slug changed) stays its account's: pages
-- still embed `data-chatbot="<slug>"` and link `/c/<slug>`, and another account that took the
-- slug would have those pages' visitors chatting with its chatbot on the first site, in its words.
-- The account that gave it up may take it back; nobody else can, even once that account is gone
-- (`held_by` then names nobody, and the slug stays held).
--
-- Kept by triggers, so every way a chatbot goes (its owner, an admin, the account's deletion)
-- holds its slug, and every way one is named checks. Requests never read this table: it has row
-- security and no policy, and only these functions, running as the tables' owner, reach it.
-- `held_by` is no `user_id`, so as to stay out of the tenant tables' rules: it is no tenant's data.
CREATE TABLE released_slugs (
  slug        text PRIMARY KEY,
  held_by     uuid NOT NULL,
  released_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE released_slugs ENABLE ROW LEVEL SECURITY;

-- One slug's changes take turns: a slug given up and the same slug asked for by another account
-- at the same moment, the asking one waits and then sees it held. Two slugs (a rename) are taken
-- in order, so two renames into each other's slugs cannot deadlock.
CREATE FUNCTION chatbot_slug_turns(a text, b text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF b IS NULL OR a = b THEN
    PERFORM pg_advisory_xact_lock(hashtext('slug ' || a));
  ELSE
    PERFORM pg_advisory_xact_lock(hashtext('slug ' || least(a, b)));
    PERFORM pg_advisory_xact_lock(hashtext('slug ' || greatest(a, b)));
  END IF;
END $$;

CREATE FUNCTION chatbot_slug_held() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM chatbot_slug_turns(OLD.slug, NULL);
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM chatbot_slug_turns(NEW.slug, OLD.slug);
  ELSE
    PERFORM chatbot_slug_turns(NEW.slug, NULL);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM released_slugs WHERE slug = NEW.slug AND held_by <> NEW.user_id) THEN
      -- Read as the slug taken (chatbots.repo.ts answers 409 slug_taken).
      RAISE unique_violation USING MESSAGE = 'slug ' || NEW.slug || ' is held by the account that gave it up',
                                   CONSTRAINT = 'chatbots_slug_key';
    END IF;
    DELETE FROM released_slugs WHERE slug = NEW.slug;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO released_slugs (slug, held_by) VALUES (OLD.slug, OLD.user_id)
    ON CONFLICT (slug) DO UPDATE SET held_by = EXCLUDED.held_by, released_at = EXCLUDED.released_at;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER chatbots_slug_named BEFORE INSERT ON chatbots FOR EACH ROW EXECUTE FUNCTION chatbot_slug_held();
CREATE TRIGGER chatbots_slug_changed BEFORE UPDATE OF slug ON chatbots FOR EACH ROW
  WHEN (OLD.slug IS DISTINCT FROM NEW.slug) EXECUTE FUNCTION chatbot_slug_held();
CREATE TRIGGER chatbots_slug_given_up BEFORE DELETE ON chatbots FOR EACH ROW EXECUTE FUNCTION chatbot_slug_held();

-- The slugs from `base` (base, base-2, …) other accounts hold, for choosing a free one.
CREATE FUNCTION released_slugs_like(base text, asking uuid) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT slug FROM released_slugs
   WHERE (slug = base OR slug ~ ('^' || base || '-[0-9]+$')) AND held_by <> asking
$$;
