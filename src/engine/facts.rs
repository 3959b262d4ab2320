//! Fact gathering for a play's hosts: one round trip through [`crate::modules::setup::gather`].
//! The engine stores what comes back as the host's facts (`ansible_facts.*` and the
//! top-level `ansible_*` mirrors, see [`crate::vars::fact_vars`]).

use crate::connection::{Become, ConnError, Connection};
use crate::Map;

/// Gathers the facts of the host behind `conn`.
pub(crate) async fn gather(
    conn: &dyn Connection,
    become_: Option<Become>,
) -> Result<Map, ConnError> {
    crate::modules::setup::gather(conn, become_).await
}
