-- Deployments: what started an operation, when a revision last served, and whether its image was pruned.
ALTER TABLE operations ADD COLUMN trigger TEXT;
ALTER TABLE revisions ADD COLUMN activated_at INTEGER;
ALTER TABLE revisions ADD COLUMN image_pruned INTEGER NOT NULL DEFAULT 0;
