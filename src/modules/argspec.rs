//! Module parameter specifications and their validation, as Ansible's `AnsibleModule` does it.
//!
//! Two passes: [`ArgSpec::check_names`] runs when the playbook is loaded, before anything runs,
//! on the raw (untemplated) arguments: unknown parameters and missing required ones fail there
//! with Ansible's wording. [`ArgSpec::normalize`] runs on the templated arguments: aliases become
//! canonical names, types are coerced as Ansible coerces them (`"yes"` → true, `"0644"` stays a
//! string for `raw`), choices are checked and defaults filled in.

use crate::Map;

/// A parameter's type, as in Ansible's argument specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    Int,
    Float,
    /// A path: a string with `~` left for the target to expand.
    Path,
    /// Anything, untouched (`mode`, `content`).
    Raw,
    /// A list; a comma-separated string is split.
    List,
    Dict,
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
    /// Allowed values (compared as strings), empty when any value goes.
    pub choices: &'static [&'static str],
    /// Default as YAML text (`"false"`, `"10"`), or `None`.
    pub default: Option<&'static str>,
    /// Values never printed (`no_log` in Ansible's spec).
    pub no_log: bool,
}

/// A module's parameters and the rules between them.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    pub params: &'static [Param],
    /// Takes free-form text (`command`, `shell`): kept as `_raw_params`.
    pub free_form: bool,
    pub mutually_exclusive: &'static [&'static [&'static str]],
    pub required_one_of: &'static [&'static [&'static str]],
}
