//! Ansible's filters for minijinja.
