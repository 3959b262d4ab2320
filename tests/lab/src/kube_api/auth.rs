//! Bearer-token authentication and rule-based authorization, shaped like RBAC.
//!
//! - The `Authorization` scheme is matched case-insensitively, as the real server does
//!   (`Bearer` from kubectl and kube-rs, `bearer` from the Python client).
//! - Each token maps to one user name (`system:serviceaccount:NS:SA`) and a list of [`Rule`]s.
//!   A request is allowed when any rule matches its verb, resource, namespace and name.
//! - Like RBAC, a rule restricted to resource names never allows `list`, `watch` or `create`
//!   (those requests have no name), and a rule bound to a namespace never allows a request that
//!   spans all namespaces.
//! - The denial message is the API server's: `User "U" cannot VERB resource "R" in API group "G"
//!   in the namespace "NS"` (or `at the cluster scope`).

use std::collections::HashMap;

/// One permission: verbs on resources, in one namespace or all, on some names or all.
///
/// Verbs and resources accept `*`. A resource is its plural (`secrets`), which matches in any
/// API group, or `plural.group` (`plans.forklift.konveyor.io`) to name one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub resources: Vec<String>,
    /// `None`: every namespace, and requests that span all namespaces.
    pub namespace: Option<String>,
    /// `None`: every name.
    pub names: Option<Vec<String>>,
}

impl Rule {
    /// `verbs` on `resources` in every namespace, for every name.
    pub fn new(verbs: &[&str], resources: &[&str]) -> Rule {
        Rule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            namespace: None,
            names: None,
        }
    }

    /// Everything, everywhere (a cluster-admin token).
    pub fn all() -> Rule {
        Rule::new(&["*"], &["*"])
    }

    /// Restricts the rule to one namespace.
    pub fn in_namespace(mut self, namespace: &str) -> Rule {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// Restricts the rule to some resource names (`resourceNames` in RBAC).
    pub fn named(mut self, names: &[&str]) -> Rule {
        self.names = Some(names.iter().map(|n| n.to_string()).collect());
        self
    }

    fn allows(&self, request: &Attributes<'_>) -> bool {
        self.allows_verb(request.verb)
            && self.allows_resource(request.group, request.resource)
            && self.allows_namespace(request.namespace)
            && self.allows_name(request.name)
    }

    fn allows_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    fn allows_resource(&self, group: &str, resource: &str) -> bool {
        self.resources.iter().any(|r| {
            r == "*"
                || r == resource
                || r.split_once('.')
                    .is_some_and(|(plural, g)| plural == resource && g == group)
        })
    }

    fn allows_namespace(&self, namespace: Option<&str>) -> bool {
        match (&self.namespace, namespace) {
            (None, _) => true,
            (Some(allowed), Some(asked)) => allowed == asked,
            (Some(_), None) => false,
        }
    }

    fn allows_name(&self, name: Option<&str>) -> bool {
        match (&self.names, name) {
            (None, _) => true,
            (Some(names), Some(asked)) => names.iter().any(|n| n == asked),
            (Some(_), None) => false,
        }
    }
}

/// What a resource request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// A token's owner.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub user: String,
    pub rules: Vec<Rule>,
}

impl Grant {
    pub fn allows(&self, request: &Attributes<'_>) -> bool {
        self.rules.iter().any(|rule| rule.allows(request))
    }
}

/// The tokens the server accepts.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    grants: HashMap<String, Grant>,
}

impl Tokens {
    pub fn insert(&mut self, token: String, grant: Grant) {
        self.grants.insert(token, grant);
    }

    /// The grant for an `Authorization` header value, if it is a known bearer token.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<&Grant> {
        let token = bearer_token(authorization?)?;
        self.grants.get(token)
    }
}

/// The token of `Bearer TOKEN`, with the scheme in any case.
pub(crate) fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The reason part of a 403 message, worded as kube-apiserver words it.
pub(crate) fn denial_reason(user: &str, request: &Attributes<'_>) -> String {
    let scope = match request.namespace {
        Some(ns) => format!("in the namespace {ns:?}"),
        None => "at the cluster scope".to_string(),
    };
    format!(
        "User {user:?} cannot {} resource {:?} in API group {:?} {scope}",
        request.verb, request.resource, request.group
    )
}

/// `system:serviceaccount:NS:SA`.
pub fn service_account(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_secret<'a>(namespace: Option<&'a str>, name: Option<&'a str>) -> Attributes<'a> {
        Attributes {
            verb: if name.is_some() { "get" } else { "list" },
            group: "",
            resource: "secrets",
            namespace,
            name,
        }
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn named_rules_allow_only_their_names_and_never_list() {
        let grant = Grant {
            user: "u".into(),
            rules: vec![Rule::new(&["get", "list"], &["secrets"])
                .in_namespace("ns")
                .named(&["key"])],
        };
        assert!(grant.allows(&get_secret(Some("ns"), Some("key"))));
        assert!(!grant.allows(&get_secret(Some("ns"), Some("other"))));
        assert!(!grant.allows(&get_secret(Some("other"), Some("key"))));
        assert!(!grant.allows(&get_secret(Some("ns"), None)));
    }

    #[test]
    fn namespaced_rules_do_not_allow_all_namespaces() {
        let grant = Grant {
            user: "u".into(),
            rules: vec![Rule::new(&["list"], &["secrets"]).in_namespace("ns")],
        };
        assert!(grant.allows(&get_secret(Some("ns"), None)));
        assert!(!grant.allows(&get_secret(None, None)));
    }

    #[test]
    fn group_qualified_resources_match_only_their_group() {
        let rule = Rule::new(&["get"], &["plans.forklift.konveyor.io"]);
        let mut plan = get_secret(Some("ns"), Some("p"));
        plan.resource = "plans";
        plan.group = "forklift.konveyor.io";
        assert!(rule.allows(&plan));
        plan.group = "other.io";
        assert!(!rule.allows(&plan));
    }

    #[test]
    fn denial_reason_matches_the_real_wording() {
        let user = service_account("ns", "sa");
        assert_eq!(
            denial_reason(&user, &get_secret(Some("ns"), Some("x"))),
            r#"User "system:serviceaccount:ns:sa" cannot get resource "secrets" in API group "" in the namespace "ns""#
        );
        assert_eq!(
            denial_reason(&user, &get_secret(None, None)),
            r#"User "system:serviceaccount:ns:sa" cannot list resource "secrets" in API group "" at the cluster scope"#
        );
    }
}
