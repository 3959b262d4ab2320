//! Ansible's lookups for minijinja.
