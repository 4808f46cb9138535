//! Saving a PostgreSQL database's state for someone else to load: `pg_dump` of its schemas.

use std::path::{Path, PathBuf};
use std::process::Command;
use venom_engine::WorldError;
use venom_scenario::{PgMechanism, PostgresSpec};

/// Dumps the schemas `spec` saves into `dir/postgres.sql` with `pg_dump` (plain SQL that
/// `psql -f` loads). The transaction proxy's state is an open transaction no other session
/// sees, so it cannot be dumped.
pub(crate) fn pg_dump(spec: &PostgresSpec, dir: &Path) -> Result<PathBuf, WorldError> {
    let PgMechanism::Snapshot { schemas } = &spec.mechanism else {
        return Err(WorldError::new(
            "the transaction proxy's state is an open transaction that pg_dump cannot see; \
             save the state with mechanism = \"snapshot\"",
        ));
    };
    let url = spec
        .url
        .resolve()
        .map_err(|e| WorldError::caused("cannot dump the PostgreSQL database", e))?;
    let target = dir.join("postgres.sql");
    let mut command = Command::new("pg_dump");
    command.arg("--no-owner").arg("--file").arg(&target);
    for schema in schemas {
        command.arg("--schema").arg(schema);
    }
    let output = command.arg("--dbname").arg(&url).output().map_err(|e| {
        WorldError::caused("cannot run pg_dump (is PostgreSQL's client installed?)", e)
    })?;
    if !output.status.success() {
        return Err(WorldError::new(format!(
            "pg_dump failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(target)
}
