//! A client's prepared statements and portals as the shared upstream session knows them.

use super::sql::Special;
use super::tags::target;
use super::wire::{self, Msg};
use std::collections::HashMap;

/// A client's prepared statements and portals, named privately on the shared upstream session
/// (`c<id>_<name>`), with their statement when the proxy runs it specially.
#[derive(Debug)]
pub(super) struct Names {
    prefix: String,
    pub(super) statements: HashMap<String, Option<Special>>,
    pub(super) portals: HashMap<String, Option<Special>>,
}

impl Names {
    pub(super) fn new(client: i32) -> Names {
        Names {
            prefix: format!("c{client}_"),
            statements: HashMap::new(),
            portals: HashMap::new(),
        }
    }

    /// The upstream name of the client's statement or portal `name` (the unnamed ones are
    /// shared: turns never interleave).
    pub(super) fn upstream(&self, name: &str) -> String {
        if name.is_empty() {
            String::new()
        } else {
            format!("{}{name}", self.prefix)
        }
    }

    /// Whether `DEALLOCATE name` is about the client's own statement: one it prepared with
    /// `Parse`, or a name reserved by the proxy (`venom_…`, and `c<n>_…` like the other clients'
    /// statements upstream), which the client can only have prepared that way. Other names are
    /// SQL-level `PREPARE`d statements, shared by the session.
    pub(super) fn owns(&self, name: &str) -> bool {
        let renamed = name
            .strip_prefix('c')
            .and_then(|rest| rest.split_once('_'))
            .is_some_and(|(id, _)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        self.statements.contains_key(name) || name.starts_with("venom_") || renamed
    }

    /// `Close` messages for the client's named statements (or also portals), now forgotten.
    pub(super) fn close_named(&mut self, portals: bool) -> Vec<Msg> {
        let mut closes = Vec::new();
        let mut kinds = vec![(target::STATEMENT, &mut self.statements)];
        if portals {
            kinds.push((target::PORTAL, &mut self.portals));
        }
        for (kind, names) in kinds {
            for name in names.keys().filter(|name| !name.is_empty()) {
                closes.push(wire::close(kind, &format!("{}{name}", self.prefix)));
            }
            names.retain(|name, _| name.is_empty());
        }
        closes
    }

    /// `Close` messages for every named statement and portal of the client.
    pub(super) fn close_all(&self) -> Vec<Msg> {
        let statements = self.statements.keys().map(|n| (target::STATEMENT, n));
        let portals = self.portals.keys().map(|n| (target::PORTAL, n));
        statements
            .chain(portals)
            .filter(|(_, name)| !name.is_empty())
            .map(|(kind, name)| wire::close(kind, &self.upstream(name)))
            .collect()
    }
}
