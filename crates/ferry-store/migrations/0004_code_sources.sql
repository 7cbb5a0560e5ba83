-- A source is now one of two kinds, {"Image": …} or {"Code": …}: wrap the image sources of existing specs.
UPDATE services SET spec = json_set(spec, '$.source', json_object('Image', json(json_extract(spec, '$.source'))))
    WHERE json_type(spec, '$.source.image') IS NOT NULL;
UPDATE revisions SET spec = json_set(spec, '$.source', json_object('Image', json(json_extract(spec, '$.source'))))
    WHERE json_type(spec, '$.source.image') IS NOT NULL;
-- What building a revision's code made: JSON of ferry_model::Build.
ALTER TABLE revisions ADD COLUMN build TEXT;
