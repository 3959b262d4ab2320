//! Variable scopes and Ansible's precedence
//! (<https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_variables.html#understanding-variable-precedence>).
//!
//! Lowest to highest, as [`Layers::merge`] applies them: role defaults < inventory group
//! vars < inventory host vars < host facts < play vars < play `vars_files` < role vars <
//! block vars < task vars < `include_vars` < `set_fact`/registered < role params < include
//! params < extra vars (`-e`). Dicts are replaced whole (`hash_behaviour=replace`).
//!
//! Values are kept untemplated: the [`crate::template::Templar`] templates a variable when it
//! is read, so order inside `vars:` does not matter and `hostvars` is lazy too.
//!
//! Facts are kept as modules return them (`ansible_hostname`, `getent_passwd`): the
//! `ansible_facts` variable holds them without the `ansible_` prefix, and every fact is also a
//! top-level variable (`INJECT_FACTS_AS_VARS`).

use crate::{Map, Value};

/// The value the engine gives `hostvars` in a task's variables, and the name of the run's
/// lookup that answers it: the templating layer then reads `hostvars` lazily, building a host's
/// variables only when a template reads that host. The lookup, given `[host]`, answers
/// `[variables, unsafe names]` (nothing for an unknown host); given no term, every host's name.
pub const LAZY_HOSTVARS: &str = "__hook_runner_lazy_hostvars__";

/// Per-host variables that live for the whole run (across plays).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostState {
    /// Gathered or module-returned facts, keys as returned.
    pub facts: Map,
    /// `set_fact` values and registered results.
    pub set_facts: Map,
    /// `include_vars` values.
    pub include_vars: Map,
}

impl HostState {
    /// Stores a registered result (at `set_fact` precedence, and like it data: see
    /// [`HostState::unsafe_names`]).
    pub fn register(&mut self, name: &str, value: Value) {
        self.set_facts.insert(name.to_string(), value);
    }

    /// Stores `set_fact` values (already templated when the task ran).
    pub fn set_fact(&mut self, facts: Map) {
        self.set_facts.extend(facts);
    }

    /// The top-level variables that must not be templated when read: registered results,
    /// `set_fact` values and facts. Their values were produced by a task: a registered
    /// stdout that holds `{{ ... }}` is text, never a template to run. (ansible-core marks
    /// registered results unsafe and carries that mark through the templating that makes a
    /// `set_fact` value; hook-runner does not follow the mark through templating, so it
    /// treats every `set_fact` value as final.)
    pub fn unsafe_names(&self) -> Vec<Value> {
        let mut names: Vec<Value> = self.set_facts.keys().cloned().map(Value::String).collect();
        names.extend(self.facts.keys().cloned().map(Value::String));
        names.push(Value::String("ansible_facts".into()));
        names
    }
}

/// The variable sources of one task on one host, by precedence (lowest first).
#[derive(Debug, Default)]
pub struct Layers<'a> {
    pub role_defaults: Vec<&'a Map>,
    /// Inventory group and host vars, already merged by the inventory.
    pub inventory: Option<&'a Map>,
    pub facts: Option<&'a Map>,
    pub play_vars: Option<&'a Map>,
    pub vars_files: Option<&'a Map>,
    pub role_vars: Vec<&'a Map>,
    pub block_vars: Vec<&'a Map>,
    pub task_vars: Option<&'a Map>,
    pub include_vars: Option<&'a Map>,
    pub set_facts: Option<&'a Map>,
    pub role_params: Vec<&'a Map>,
    pub include_params: Vec<&'a Map>,
    pub extra_vars: Option<&'a Map>,
}

impl Layers<'_> {
    /// All layers merged, higher precedence replacing lower (top-level keys).
    pub fn merge(&self) -> Map {
        let mut out = Map::new();
        let mut add = |m: &Map| {
            for (k, v) in m {
                out.insert(k.clone(), v.clone());
            }
        };
        self.role_defaults.iter().for_each(|m| add(m));
        self.inventory.into_iter().for_each(&mut add);
        if let Some(facts) = self.facts {
            add(&fact_vars(facts));
        }
        self.play_vars.into_iter().for_each(&mut add);
        self.vars_files.into_iter().for_each(&mut add);
        self.role_vars.iter().for_each(|m| add(m));
        self.block_vars.iter().for_each(|m| add(m));
        self.task_vars.into_iter().for_each(&mut add);
        self.include_vars.into_iter().for_each(&mut add);
        self.set_facts.into_iter().for_each(&mut add);
        self.role_params.iter().for_each(|m| add(m));
        self.include_params.iter().for_each(|m| add(m));
        self.extra_vars.into_iter().for_each(&mut add);
        out
    }
}

/// Facts as variables: `ansible_facts` (prefix stripped) plus each fact at the top level.
pub fn fact_vars(facts: &Map) -> Map {
    let mut out = Map::new();
    let mut namespaced = Map::new();
    for (k, v) in facts {
        let short = match k.strip_prefix("ansible_") {
            Some(rest) if k != "ansible_local" => rest.to_string(),
            _ => k.clone(),
        };
        namespaced.insert(short, v.clone());
        out.insert(k.clone(), v.clone());
    }
    out.insert("ansible_facts".into(), Value::Object(namespaced));
    out
}

/// `ansible_version` as ansible-core 2.18.0 reports it.
pub fn ansible_version() -> Value {
    serde_json::json!({
        "full": "2.18.0",
        "major": 2,
        "minor": 18,
        "revision": 0,
        "string": "2.18.0"
    })
}

/// Run-wide magic variables (the same for every host of a play).
#[derive(Debug, Clone, Default)]
pub struct PlayMagic {
    pub playbook_dir: String,
    pub inventory_dir: Option<String>,
    pub check_mode: bool,
    pub diff_mode: bool,
    pub verbosity: u8,
    pub omit: String,
    /// `groups`.
    pub groups: Map,
    pub play_hosts: Vec<String>,
    pub play_hosts_all: Vec<String>,
    pub play_batch: Vec<String>,
    pub play_name: String,
}

/// Adds the magic variables of `host` to `vars` (they sit above everything but are not
/// overridable in practice; Ansible sets them last too).
pub fn add_magic(vars: &mut Map, magic: &PlayMagic, host: &str, group_names: Vec<String>) {
    vars.insert("inventory_hostname".into(), Value::String(host.to_string()));
    let short = host.split('.').next().unwrap_or(host).to_string();
    vars.insert("inventory_hostname_short".into(), Value::String(short));
    vars.insert(
        "group_names".into(),
        Value::Array(group_names.into_iter().map(Value::String).collect()),
    );
    add_play_magic(vars, magic);
}

/// The magic variables that do not depend on a host (what ansible-core's variable manager
/// gives when asked for a play's variables without a host: `groups`, `ansible_play_*`,
/// `playbook_dir`, `omit`...).
pub fn add_play_magic(vars: &mut Map, magic: &PlayMagic) {
    let strs = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
    vars.insert("groups".into(), Value::Object(magic.groups.clone()));
    vars.insert("ansible_play_hosts".into(), strs(&magic.play_hosts));
    vars.insert("play_hosts".into(), strs(&magic.play_hosts));
    vars.insert("ansible_play_hosts_all".into(), strs(&magic.play_hosts_all));
    vars.insert("ansible_play_batch".into(), strs(&magic.play_batch));
    vars.insert(
        "ansible_play_name".into(),
        Value::String(magic.play_name.clone()),
    );
    vars.insert(
        "playbook_dir".into(),
        Value::String(magic.playbook_dir.clone()),
    );
    if let Some(dir) = &magic.inventory_dir {
        vars.insert("inventory_dir".into(), Value::String(dir.clone()));
    }
    vars.insert("ansible_check_mode".into(), Value::Bool(magic.check_mode));
    vars.insert("ansible_diff_mode".into(), Value::Bool(magic.diff_mode));
    vars.insert("ansible_verbosity".into(), Value::from(magic.verbosity));
    vars.insert("ansible_version".into(), ansible_version());
    vars.insert("omit".into(), Value::String(magic.omit.clone()));
    vars.insert(
        "ansible_run_tags".into(),
        Value::Array(vec![Value::String("all".into())]),
    );
    vars.insert("ansible_skip_tags".into(), Value::Array(vec![]));
}

/// Parses `-e` values: `k=v k2=v2`, JSON/YAML text (`{...}`), or `@file` (YAML/JSON).
pub fn parse_extra_vars(values: &[String]) -> Result<Map, String> {
    let mut out = Map::new();
    for raw in values {
        let text = raw.trim();
        if let Some(file) = text.strip_prefix('@') {
            let node =
                crate::yaml::load_file(std::path::Path::new(file)).map_err(|e| e.to_string())?;
            match node.to_value() {
                Value::Object(m) => out.extend(m),
                Value::Null => {}
                _ => {
                    return Err(format!(
                        "Invalid extra vars data in file {file}: it must be a mapping"
                    ))
                }
            }
        } else if text.starts_with('{') || text.starts_with('-') && text.contains('\n') {
            let node = crate::yaml::load_str(text, "<extra vars>").map_err(|e| e.to_string())?;
            match node.to_value() {
                Value::Object(m) => out.extend(m),
                _ => return Err(format!("Invalid extra vars data supplied: '{text}' could not be made into a dictionary")),
            }
        } else if !text.is_empty() {
            let parsed = crate::playbook::kv::parse_kv(text, false);
            if parsed.contains_key("_raw_params") {
                return Err(format!("Invalid extra vars data supplied. '{text}' could not be made into a dictionary"));
            }
            out.extend(parsed);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn precedence_order_is_ansibles() {
        let defaults = map(json!({"a": "default", "b": "default", "c": "default"}));
        let inventory = map(json!({"a": "inventory", "b": "inventory"}));
        let play = map(json!({"a": "play", "d": "play"}));
        let task = map(json!({"d": "task", "e": "task"}));
        let set_facts = map(json!({"e": "set_fact", "f": "set_fact"}));
        let extra = map(json!({"f": "extra"}));
        let layers = Layers {
            role_defaults: vec![&defaults],
            inventory: Some(&inventory),
            play_vars: Some(&play),
            task_vars: Some(&task),
            set_facts: Some(&set_facts),
            extra_vars: Some(&extra),
            ..Layers::default()
        };
        let merged = layers.merge();
        assert_eq!(merged["a"], json!("play"));
        assert_eq!(merged["b"], json!("inventory"));
        assert_eq!(merged["c"], json!("default"));
        assert_eq!(merged["d"], json!("task"));
        assert_eq!(merged["e"], json!("set_fact"));
        assert_eq!(merged["f"], json!("extra"));
    }

    #[test]
    fn dicts_are_replaced_not_merged() {
        let low = map(json!({"d": {"x": 1, "y": 2}}));
        let high = map(json!({"d": {"x": 3}}));
        let layers = Layers {
            play_vars: Some(&low),
            task_vars: Some(&high),
            ..Layers::default()
        };
        assert_eq!(layers.merge()["d"], json!({"x": 3}));
    }

    #[test]
    fn facts_are_namespaced_and_injected() {
        let facts = map(json!({"ansible_hostname": "vm1", "getent_passwd": {"root": []}}));
        let vars = fact_vars(&facts);
        assert_eq!(vars["ansible_hostname"], json!("vm1"));
        assert_eq!(vars["ansible_facts"]["hostname"], json!("vm1"));
        assert_eq!(vars["ansible_facts"]["getent_passwd"], json!({"root": []}));
        assert_eq!(vars["getent_passwd"], json!({"root": []}));
    }

    #[test]
    fn extra_vars_forms() {
        let m = parse_extra_vars(&["a=1 b='x y'".into(), "{\"c\": [1, 2]}".into()]).unwrap();
        assert_eq!(Value::Object(m), json!({"a": "1", "b": "x y", "c": [1, 2]}));
        assert!(parse_extra_vars(&["justaword".into()]).is_err());
    }

    #[test]
    fn registered_set_fact_and_fact_values_are_unsafe_include_vars_are_not() {
        let mut state = HostState::default();
        state.register("result", json!({"stdout": "{{ x }}"}));
        state.set_fact(map(json!({"copied": "{{ x }}"})));
        state.facts = map(json!({"ansible_hostname": "vm1"}));
        state.include_vars = map(json!({"lazy": "{{ x }}"}));
        let names = state.unsafe_names();
        for n in ["result", "copied", "ansible_hostname", "ansible_facts"] {
            assert!(names.contains(&json!(n)), "{n} in {names:?}");
        }
        assert!(!names.contains(&json!("lazy")));
        // A set_fact over a registered name keeps it data.
        state.set_fact(map(json!({"result": "{{ y }}"})));
        assert!(state.unsafe_names().contains(&json!("result")));
    }

    #[test]
    fn play_magic_has_no_host_variables() {
        let magic = PlayMagic {
            play_hosts: vec!["a".into()],
            ..PlayMagic::default()
        };
        let mut vars = Map::new();
        add_play_magic(&mut vars, &magic);
        assert_eq!(vars["ansible_play_hosts"], json!(["a"]));
        assert!(!vars.contains_key("inventory_hostname"));
        assert!(!vars.contains_key("group_names"));
        add_magic(&mut vars, &magic, "web.example", vec!["g".into()]);
        assert_eq!(vars["inventory_hostname_short"], json!("web"));
        assert_eq!(vars["group_names"], json!(["g"]));
    }
}
