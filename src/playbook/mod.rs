//! playbook model
