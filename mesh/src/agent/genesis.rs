//! The genesis file: the founding operators, whose hash names the network.

use std::collections::BTreeSet;

use super::record::{NetworkId, OperatorId, RecordError};

/// The founders and the network they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    operators: BTreeSet<OperatorId>,
}

impl Genesis {
    /// Parses the file: one operator id (64 hex digits) per line; `#`
    /// starts a comment; blank lines are ignored. At least one id, at most
    /// 1000.
    pub fn parse(text: &str) -> Result<Genesis, String> {
        let mut operators = BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let id: OperatorId = line
                .parse()
                .map_err(|e: RecordError| format!("line {}: {e}", n + 1))?;
            operators.insert(id);
        }
        if operators.is_empty() {
            return Err("the genesis file names no operator".into());
        }
        if operators.len() > 1000 {
            return Err("the genesis file names more than 1000 operators".into());
        }
        Ok(Genesis { operators })
    }

    /// The founding operators.
    pub fn operators(&self) -> &BTreeSet<OperatorId> {
        &self.operators
    }

    /// The network's id: BLAKE3 over the sorted ids, one per line, so the
    /// same founders name the same network whatever the file's order or
    /// comments.
    pub fn network(&self) -> NetworkId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"nocturne agent network v1\n");
        for id in &self.operators {
            hasher.update(id.to_string().as_bytes());
            hasher.update(b"\n");
        }
        NetworkId(*hasher.finalize().as_bytes())
    }

    /// The canonical text (what a peer writes to its data directory).
    pub fn to_text(&self) -> String {
        self.operators.iter().map(|id| format!("{id}\n")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_comments_do_not_change_the_network() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let one = Genesis::parse(&format!("# founders\n{a}\n{b} # second\n")).expect("parse");
        let two = Genesis::parse(&format!("\n{b}\n\n{a}\n")).expect("parse");
        assert_eq!(one.network(), two.network());
        let other = Genesis::parse(&format!("{a}\n")).expect("parse");
        assert_ne!(one.network(), other.network());
        assert!(Genesis::parse("# nobody\n").is_err());
        assert!(Genesis::parse("xyz\n").is_err());
    }
}
