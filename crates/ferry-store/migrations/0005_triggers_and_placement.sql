-- What started an operation is now typed (ferry_model::Trigger, stored as `MANUAL`, `API`, `ROLLBACK`,
-- `GIT_PUSH <commit>`, `IMAGE_PUSH <digest>` or `SCALING`). Before, it was App Runner's event name, which
-- follows from the operation's type; every earlier operation was started by hand, or was a rollback.
UPDATE operations SET trigger = CASE WHEN trigger = 'ROLLBACK' THEN 'ROLLBACK' ELSE 'MANUAL' END;
-- Where an instance runs: its engine node, and its own address on the engine's network (health checks).
ALTER TABLE instances ADD COLUMN node TEXT;
ALTER TABLE instances ADD COLUMN probe_address TEXT;
