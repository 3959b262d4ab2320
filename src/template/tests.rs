//! Ansible's tests for minijinja.
