//! opm's channel rules on upgrade edges, written once for every type that
//! has them: the model's bundles, FBC channel entries, and the bundles a
//! channel policy links. `Channel.Head` is the one member that no member
//! replaces or skips (`skipRange` makes no edge); the replaces chain runs
//! from the head and, as in opm's `validateReplacesChain`, stops before a
//! bundle that some member skips.

use std::collections::BTreeSet;

/// The kinds of upgrade edge a channel entry has, as people name them
/// (catalog diffs and graph pictures draw them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    Replaces,
    Skips,
    SkipRange,
}

impl EdgeKind {
    pub fn word(self) -> &'static str {
        match self {
            EdgeKind::Replaces => "replaces",
            EdgeKind::Skips => "skips",
            EdgeKind::SkipRange => "skipRange",
        }
    }
}

/// A channel member's upgrade edges.
pub trait UpgradeEdges {
    fn name(&self) -> &str;
    /// Empty when the member replaces nothing.
    fn replaces(&self) -> &str;
    fn skips(&self) -> &[String];
}

/// The members that no member replaces or skips, in `members`' order.
pub fn heads<'a, T: UpgradeEdges + 'a>(members: impl IntoIterator<Item = &'a T> + Clone) -> Vec<&'a T> {
    let mut referenced: BTreeSet<&str> = BTreeSet::new();
    for member in members.clone() {
        if !member.replaces().is_empty() {
            referenced.insert(member.replaces());
        }
        referenced.extend(member.skips().iter().map(String::as_str));
    }
    members.into_iter().filter(|member| !referenced.contains(member.name())).collect()
}

/// The names some member skips.
pub fn skipped_names<'a, T: UpgradeEdges + 'a>(members: impl IntoIterator<Item = &'a T>) -> BTreeSet<&'a str> {
    members
        .into_iter()
        .flat_map(|member| member.skips().iter().map(String::as_str))
        .collect()
}

/// The replaces chain from a head.
pub struct ReplacesWalk<'a, T> {
    /// The head, the member it replaces, and so on.
    pub chain: Vec<&'a T>,
    /// opm's `replacesChainFromHead`: the head plus every replaces target
    /// followed, even one that is not in the channel (or the empty name of
    /// a tail).
    pub reached: BTreeSet<&'a str>,
}

/// Follows `replaces` from `head`, looking members up with `member_named`,
/// stopping before a name in `skipped`. A cycle is returned as opm prints
/// it: from the first repeated member back to itself.
pub fn walk_replaces<'a, T: UpgradeEdges>(
    head: &'a T,
    skipped: &BTreeSet<&str>,
    member_named: impl Fn(&str) -> Option<&'a T>,
) -> Result<ReplacesWalk<'a, T>, Vec<String>> {
    let mut reached: BTreeSet<&'a str> = BTreeSet::from([head.name()]);
    let mut chain: Vec<&'a T> = Vec::new();
    let mut current = Some(head);
    while let Some(member) = current {
        chain.push(member);
        let replaces = member.replaces();
        if skipped.contains(replaces) {
            break;
        }
        if reached.contains(replaces) {
            let start = chain.iter().position(|on_chain| on_chain.name() == replaces).unwrap_or(chain.len());
            let mut cycle: Vec<String> = chain[start..].iter().map(|on_chain| on_chain.name().to_string()).collect();
            cycle.push(replaces.to_string());
            return Err(cycle);
        }
        reached.insert(replaces);
        current = member_named(replaces);
    }
    Ok(ReplacesWalk { chain, reached })
}

impl UpgradeEdges for super::Bundle {
    fn name(&self) -> &str {
        &self.name
    }
    fn replaces(&self) -> &str {
        &self.replaces
    }
    fn skips(&self) -> &[String] {
        &self.skips
    }
}

impl UpgradeEdges for crate::fbc::ChannelEntry {
    fn name(&self) -> &str {
        &self.name
    }
    fn replaces(&self) -> &str {
        &self.replaces
    }
    fn skips(&self) -> &[String] {
        &self.skips
    }
}
