//! The service registry as `istioctl analyze` sees it (`analyzers/util/service_lookup.go`):
//! ServiceEntry hosts and Kubernetes Services, each scoped to the namespaces it is exported
//! to, and `GetDestinationHost`, which finds the one a host names.

use std::collections::HashMap;

use crate::host;
use crate::kubernetes::KubeService;
use crate::resource::{Resource, Resources};
use crate::service_entry::ServiceEntry;

/// Scope of an entry visible from every namespace.
const ALL: &str = "*";

/// What a registry host belongs to.
#[derive(Clone, Copy, Debug)]
pub(super) enum Target<'a> {
    /// A ServiceEntry of the input.
    Entry(&'a Resource<ServiceEntry>),
    /// A Kubernetes Service of the input.
    Service(&'a KubeService),
}

impl Target<'_> {
    /// The port numbers, in declaration order.
    pub(super) fn ports(&self) -> Vec<u32> {
        match self {
            Target::Entry(se) => se.spec.ports.iter().map(|p| p.number).collect(),
            Target::Service(s) => s.ports.iter().map(|p| p.port).collect(),
        }
    }
}

/// Registry hosts keyed by `(scope, fqdn)`, as `InitServiceEntryHostMap` builds them: a later
/// entry for the same key replaces the earlier one (Kubernetes Services, added last, win over
/// ServiceEntries), and insertion order is kept so that lookups are deterministic.
#[derive(Debug, Default)]
pub(super) struct Registry<'a> {
    entries: Vec<(String, String, Target<'a>)>,
    index: HashMap<(String, String), usize>,
}

/// `ConvertHostToFQDN`: a short name (no `.`, not a wildcard) completed with the namespace.
pub(super) fn fqdn(namespace: &str, h: &str) -> String {
    host::resolve_short_name(h, namespace)
}

impl<'a> Registry<'a> {
    /// The registry of the ServiceEntries and Kubernetes Services of the input.
    pub(super) fn new(resources: &'a Resources) -> Self {
        let mut reg = Registry::default();
        for se in &resources.service_entries {
            let ns = se.namespace();
            let mut exports_to_all = false;
            for h in &se.spec.hosts {
                let key = fqdn(ns, h);
                if se.spec.export_to.is_empty() || exports_to_all {
                    reg.insert(ALL, &key, Target::Entry(se));
                    continue;
                }
                for e in &se.spec.export_to {
                    match e.as_str() {
                        ALL => {
                            reg.insert(ALL, &key, Target::Entry(se));
                            exports_to_all = true;
                        }
                        "." => reg.insert(ns, &key, Target::Entry(se)),
                        other => reg.insert(other, &key, Target::Entry(se)),
                    }
                    if exports_to_all {
                        break;
                    }
                }
            }
        }
        for s in &resources.kubernetes.services {
            reg.insert(ALL, &s.fqdn(), Target::Service(s));
        }
        reg
    }

    fn insert(&mut self, scope: &str, fqdn: &str, target: Target<'a>) {
        let key = (scope.to_owned(), fqdn.to_owned());
        if let Some(&i) = self.index.get(&key) {
            self.entries[i].2 = target;
        } else {
            self.index.insert(key, self.entries.len());
            self.entries
                .push((scope.to_owned(), fqdn.to_owned(), target));
        }
    }

    fn get(&self, scope: &str, fqdn: &str) -> Option<Target<'a>> {
        self.index
            .get(&(scope.to_owned(), fqdn.to_owned()))
            .map(|&i| self.entries[i].2)
    }

    /// `GetDestinationHost`: the registry entry that `h`, written in a resource of
    /// `source_ns` exported to `export_to`, refers to. Exact hosts exported to all
    /// namespaces first, then exact hosts exported to the resource's scope (its own
    /// namespace, or each `exportTo` entry), then wildcard registry hosts visible from
    /// `source_ns` whose suffix ends the host.
    pub(super) fn lookup(
        &self,
        source_ns: &str,
        export_to: &[String],
        h: &str,
    ) -> Option<Target<'a>> {
        let name = fqdn(source_ns, h);
        if let Some(t) = self.get(ALL, &name) {
            return Some(t);
        }
        if export_to.is_empty() {
            if let Some(t) = self.get(source_ns, &name) {
                return Some(t);
            }
        } else {
            for e in export_to {
                let scope = if e == "." { source_ns } else { e.as_str() };
                if let Some(t) = self.get(scope, &name) {
                    return Some(t);
                }
            }
        }
        let bare = name.strip_prefix('*').unwrap_or(&name);
        self.entries
            .iter()
            .filter(|(scope, _, _)| scope == ALL || scope == source_ns)
            .find(|(_, reg_host, _)| {
                reg_host
                    .strip_prefix('*')
                    .is_some_and(|suffix| bare.ends_with(suffix))
            })
            .map(|(_, _, t)| *t)
    }

    /// Whether some registry host visible from `source_ns` lies inside the wildcard `h`.
    pub(super) fn covers_any(&self, source_ns: &str, h: &str) -> bool {
        host::is_wildcard(h)
            && self
                .entries
                .iter()
                .filter(|(scope, _, _)| scope == ALL || scope == source_ns)
                .any(|(_, reg_host, _)| host::subset_of(reg_host, h))
    }
}
