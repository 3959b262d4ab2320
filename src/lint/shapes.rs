//! The data Forklift hands a hook, per source provider: the `workload.yml` its controller writes
//! (the inventory service's record of the VM, marshalled with yaml.v2), the inventory JSON that
//! record came from, and `plan.yml` (the Plan's spec). The files live in `data/forklift/` and are
//! compiled in, so `lint` and `dry-run --inventory-json` need nothing beside the binary.
//!
//! They are facts about Forklift's Go types, produced by those types (see
//! `data/forklift/README.md` for how to regenerate them when the types change). A shape's values
//! are illustrative; its keys and nesting are the contract a hook's variable paths must follow.

use crate::Value;
use std::sync::OnceLock;

/// A source provider Forklift migrates from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Vsphere,
    Ovirt,
    Openstack,
    Ova,
    Ocp,
    Hyperv,
    Nutanix,
}

impl Provider {
    /// Every provider, in the order findings list them.
    pub const ALL: [Provider; 7] = [
        Provider::Vsphere,
        Provider::Ovirt,
        Provider::Openstack,
        Provider::Ova,
        Provider::Ocp,
        Provider::Hyperv,
        Provider::Nutanix,
    ];

    /// The name Forklift's Provider `type` uses (and the CLI accepts).
    pub fn name(self) -> &'static str {
        match self {
            Provider::Vsphere => "vsphere",
            Provider::Ovirt => "ovirt",
            Provider::Openstack => "openstack",
            Provider::Ova => "ova",
            Provider::Ocp => "ocp",
            Provider::Hyperv => "hyperv",
            Provider::Nutanix => "nutanix",
        }
    }

    /// The provider a CLI word names.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The `workload.yml` Forklift writes for a VM of this provider.
    pub fn workload(self) -> &'static Value {
        &shapes()[self as usize].workload
    }

    /// The inventory service's JSON that [`Provider::workload`] was made from.
    pub fn inventory(self) -> &'static Value {
        &shapes()[self as usize].inventory
    }

    fn files(self) -> (&'static str, &'static str) {
        match self {
            Provider::Vsphere => (
                include_str!("../../data/forklift/vsphere.workload.yml"),
                include_str!("../../data/forklift/vsphere.inventory.json"),
            ),
            Provider::Ovirt => (
                include_str!("../../data/forklift/ovirt.workload.yml"),
                include_str!("../../data/forklift/ovirt.inventory.json"),
            ),
            Provider::Openstack => (
                include_str!("../../data/forklift/openstack.workload.yml"),
                include_str!("../../data/forklift/openstack.inventory.json"),
            ),
            Provider::Ova => (
                include_str!("../../data/forklift/ova.workload.yml"),
                include_str!("../../data/forklift/ova.inventory.json"),
            ),
            Provider::Ocp => (
                include_str!("../../data/forklift/ocp.workload.yml"),
                include_str!("../../data/forklift/ocp.inventory.json"),
            ),
            Provider::Hyperv => (
                include_str!("../../data/forklift/hyperv.workload.yml"),
                include_str!("../../data/forklift/hyperv.inventory.json"),
            ),
            Provider::Nutanix => (
                include_str!("../../data/forklift/nutanix.workload.yml"),
                include_str!("../../data/forklift/nutanix.inventory.json"),
            ),
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The Plan's spec as `plan.yml` holds it (the same for every provider).
pub fn plan() -> &'static Value {
    static PLAN: OnceLock<Value> = OnceLock::new();
    PLAN.get_or_init(|| load_yaml(include_str!("../../data/forklift/plan.yml"), "plan.yml"))
}

struct Shape {
    workload: Value,
    inventory: Value,
}

fn shapes() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        Provider::ALL
            .iter()
            .map(|p| {
                let (workload, inventory) = p.files();
                Shape {
                    workload: load_yaml(workload, &format!("{p}.workload.yml")),
                    inventory: serde_json::from_str(inventory)
                        .unwrap_or_else(|e| panic!("data/forklift/{p}.inventory.json: {e}")),
                }
            })
            .collect()
    })
}

/// The compiled-in files are the project's own data: a broken one is a build defect, caught by
/// the tests that load every shape.
fn load_yaml(text: &str, name: &str) -> Value {
    match crate::yaml::load_str(text, name) {
        Ok(node) => node.to_value(),
        Err(e) => panic!("data/forklift/{name}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_a_workload_and_its_inventory_record() {
        for p in Provider::ALL {
            assert!(p.workload().is_object(), "{p}");
            assert!(p.inventory().is_object(), "{p}");
            assert_eq!(Provider::from_name(p.name()), Some(p));
        }
        assert!(plan().get("provider").is_some());
    }

    #[test]
    fn the_shapes_hold_forklift_surprises() {
        // The paths hook authors get wrong, as Forklift really writes them.
        let vsphere = Provider::Vsphere.workload();
        assert!(vsphere.pointer("/vm/vm1/vm0/name").is_some());
        assert!(vsphere.pointer("/vm/ipaddress").is_some());
        assert!(Provider::Ovirt
            .workload()
            .pointer("/xvm/vm/vm1/vm0/name")
            .is_some());
        assert!(Provider::Openstack.workload().get("vm").is_none());
        assert!(Provider::Hyperv.workload().get("name").is_some());
        assert!(Provider::Ocp.workload().get("object").is_some());
    }
}
