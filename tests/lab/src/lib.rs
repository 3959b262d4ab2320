//! The test lab: the parts a hook meets in production, on this machine, for integration tests.
//!
//! - [`util`]: the prerequisite policy ([`require_root`]: a failure with `CI=true`, a loud skip
//!   otherwise), bounded polling, free ports, timing reports.
//! - [`netns::Netns`]: a network namespace with its own address in `10.213.X.0/24`, joinable to
//!   others, with link faults (`cut`/`restore`).
//! - [`ssh::SshHost`]: a private sshd with generated keys for the `hrtest` user (and root), on
//!   loopback or in a [`netns::Netns`].
//! - [`kube_api::KubeApi`]: an in-process Kubernetes API server (HTTPS, bearer tokens with
//!   per-token rules, discovery, get/list/create/update/patch/delete, real `Status` errors)
//!   that kubectl, kube-rs and the Python client accept.
//! - [`http_server::HttpServer`]: HTTP and HTTPS with its own CA (status codes, redirects, basic
//!   auth, JSON, large and hanging answers, client certificates) and [`http_server::HttpProxy`].
//! - [`pkgrepo`]: apt and RPM repositories of test packages built at test time, and a way to
//!   copy a tree onto a lab VM.
//! - [`pod::Pod`]: runs a command as a Forklift hook Job's container does (mounts, arbitrary UID
//!   without passwd entry, PID namespace, deadline, termination message).
//!
//! Everything the lab starts it stops by pid, and everything it creates it removes in `Drop`
//! (which also runs when a test panics).

pub mod http_server;
pub mod kube_api;
pub mod netns;
pub mod pkgrepo;
pub mod pod;
pub mod ssh;
pub mod util;
pub mod vm;

pub use netns::Netns;
pub use pod::{Pod, PodExit, PodOutput};
pub use ssh::SshHost;
pub use util::{in_ci, is_root, require, require_command, require_root, require_root_and};
