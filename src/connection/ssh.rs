//! The `ssh` connection: the system OpenSSH client, one multiplexed master per host.
