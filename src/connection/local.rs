//! The `local` connection: scripts run on the controller with `/bin/sh -c`.
