//! Fact gathering for a play's hosts: one round trip through `modules::setup::gather`.
//!
//! Until the setup module lands this returns no facts (the play still reports the
//! `Gathering Facts` task as ok); the engine stores whatever comes back as the host's facts.

use crate::connection::{Become, ConnError, Connection};
use crate::Map;

/// Gathers the facts of the host behind `conn`.
pub(crate) async fn gather(conn: &dyn Connection, become_: Option<Become>) -> Result<Map, ConnError> {
    let _ = (conn, become_);
    Ok(Map::new())
}
