//! Embedded, append-only migrations, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

/// Every migration, in order. The schema version is the number of migrations applied.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../migrations/0001_initial.sql")),
    ("0002_settings", include_str!("../migrations/0002_settings.sql")),
    ("0003_deployments", include_str!("../migrations/0003_deployments.sql")),
    ("0004_code_sources", include_str!("../migrations/0004_code_sources.sql")),
    ("0005_triggers_and_placement", include_str!("../migrations/0005_triggers_and_placement.sql")),
    ("0006_automatic_deployments", include_str!("../migrations/0006_automatic_deployments.sql")),
    ("0007_autoscaling", include_str!("../migrations/0007_autoscaling.sql")),
    ("0008_secrets", include_str!("../migrations/0008_secrets.sql")),
    ("0009_tokens", include_str!("../migrations/0009_tokens.sql")),
    ("0010_custom_domains", include_str!("../migrations/0010_custom_domains.sql")),
    ("0011_access_keys", include_str!("../migrations/0011_access_keys.sql")),
    ("0012_connections", include_str!("../migrations/0012_connections.sql")),
    ("0013_tags", include_str!("../migrations/0013_tags.sql")),
    ("0014_observability", include_str!("../migrations/0014_observability.sql")),
];

pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(migration = name, "database migrated");
    }
    Ok(())
}
