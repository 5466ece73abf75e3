//! The genesis file: the founding operators and the network's rules, whose
//! hash names the network.
//!
//! Rules every peer must apply alike (vote windows, quorum, claim length)
//! live here and nowhere else: two peers that disagreed on them would
//! compute different outcomes from the same records, so a different rule
//! is a different network.

use std::collections::BTreeSet;

use super::record::{NetworkId, OperatorId, RecordError};

/// The rules of a network; every field has a default, and only the ones a
/// genesis file changes enter the network's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Seconds after an entry is made during which votes on it are
    /// committed (`vote.commit`).
    pub commit_s: u64,
    /// Seconds after the commit window during which votes are revealed
    /// (`vote.reveal`).
    pub reveal_s: u64,
    /// The quorum's floor: revealed votes needed at least (`vote.quorum`),
    /// unless fewer operators are enrolled.
    pub quorum_min: u64,
    /// The quorum's share of the enrolled operators (`vote.quorum_share`,
    /// written `1/3`); the quorum is the larger of the two, at most
    /// everyone enrolled.
    pub quorum_share: (u64, u64),
    /// The longest a task claim may last (`task.claim_max`).
    pub claim_max_s: u64,
    /// Entries in a domain without a synthesis before a synthesis task
    /// opens (`task.synthesis_after`).
    pub synthesis_after: u64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            commit_s: 24 * 3600,
            reveal_s: 24 * 3600,
            quorum_min: 5,
            quorum_share: (1, 3),
            claim_max_s: 24 * 3600,
            synthesis_after: 10,
        }
    }
}

impl Rules {
    /// Revealed votes needed for an outcome when `enrolled` operators are
    /// enrolled: the larger of the floor and the share, never more than
    /// everyone.
    pub fn quorum(&self, enrolled: usize) -> usize {
        let n = enrolled as u64;
        let (num, den) = self.quorum_share;
        let share = (n * num).div_ceil(den.max(1));
        usize::try_from(self.quorum_min.max(share).min(n).max(1)).unwrap_or(usize::MAX)
    }

    /// Reports (or lifts) needed to quarantine (or free) an operator
    /// network-wide: two thirds of the quorum, rounded up.
    pub fn quarantine_threshold(&self, enrolled: usize) -> usize {
        (2 * self.quorum(enrolled)).div_ceil(3)
    }

    fn lines(&self) -> Vec<(&'static str, String)> {
        let d = Rules::default();
        let mut out = Vec::new();
        if self.claim_max_s != d.claim_max_s {
            out.push(("task.claim_max", self.claim_max_s.to_string()));
        }
        if self.synthesis_after != d.synthesis_after {
            out.push(("task.synthesis_after", self.synthesis_after.to_string()));
        }
        if self.commit_s != d.commit_s {
            out.push(("vote.commit", self.commit_s.to_string()));
        }
        if self.quorum_min != d.quorum_min {
            out.push(("vote.quorum", self.quorum_min.to_string()));
        }
        if self.quorum_share != d.quorum_share {
            let (n, m) = self.quorum_share;
            out.push(("vote.quorum_share", format!("{n}/{m}")));
        }
        if self.reveal_s != d.reveal_s {
            out.push(("vote.reveal", self.reveal_s.to_string()));
        }
        out
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let number = |v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("`{name}` takes a whole number, not `{v}`"))
        };
        let seconds = |v: &str| -> Result<u64, String> {
            let (digits, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                Some((i, _)) => v.split_at(i),
                None => (v, "s"),
            };
            let scale = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => {
                    return Err(format!(
                        "`{name}`: `{v}` is not a duration (30s, 10m, 6h, 1d)"
                    ));
                }
            };
            let n = number(digits)?;
            if n == 0 || n.saturating_mul(scale) > 365 * 86_400 {
                return Err(format!("`{name}` must be between 1 s and 365 days"));
            }
            Ok(n * scale)
        };
        match name {
            "vote.commit" => self.commit_s = seconds(value)?,
            "vote.reveal" => self.reveal_s = seconds(value)?,
            "task.claim_max" => self.claim_max_s = seconds(value)?,
            "vote.quorum" => {
                self.quorum_min = number(value)?;
                if !(1..=1000).contains(&self.quorum_min) {
                    return Err("`vote.quorum` must be between 1 and 1000".into());
                }
            }
            "task.synthesis_after" => {
                self.synthesis_after = number(value)?;
                if !(1..=10_000).contains(&self.synthesis_after) {
                    return Err("`task.synthesis_after` must be between 1 and 10000".into());
                }
            }
            "vote.quorum_share" => {
                let (n, m) = value
                    .split_once('/')
                    .ok_or("`vote.quorum_share` is a fraction such as 1/3")?;
                let (n, m) = (number(n.trim())?, number(m.trim())?);
                if m == 0 || n > m || m > 1000 {
                    return Err("`vote.quorum_share` must be a fraction from 0/1 to 1/1".into());
                }
                self.quorum_share = (n, m);
            }
            _ => return Err(format!("`{name}` is not a rule")),
        }
        Ok(())
    }
}

/// The founders, the rules, and the network they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    operators: BTreeSet<OperatorId>,
    rules: Rules,
}

impl Genesis {
    /// Parses the file: one operator id (64 hex digits) per line, or a
    /// rule as `name = value`; `#` starts a comment; blank lines are
    /// ignored. At least one id, at most 1000.
    pub fn parse(text: &str) -> Result<Genesis, String> {
        let mut operators = BTreeSet::new();
        let mut rules = Rules::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some((name, value)) = line.split_once('=') {
                rules
                    .set(name.trim(), value.trim())
                    .map_err(|e| format!("line {}: {e}", n + 1))?;
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
        Ok(Genesis { operators, rules })
    }

    /// The founding operators.
    pub fn operators(&self) -> &BTreeSet<OperatorId> {
        &self.operators
    }

    /// The network's rules.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// The network's id: BLAKE3 over the sorted ids, one per line, then
    /// the rules that differ from the defaults, so the same founders and
    /// rules name the same network whatever the file's order or comments.
    pub fn network(&self) -> NetworkId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"nocturne agent network v1\n");
        for id in &self.operators {
            hasher.update(id.to_string().as_bytes());
            hasher.update(b"\n");
        }
        for (name, value) in self.rules.lines() {
            hasher.update(format!("{name} = {value}\n").as_bytes());
        }
        NetworkId(*hasher.finalize().as_bytes())
    }

    /// The canonical text (what a peer writes to its data directory).
    pub fn to_text(&self) -> String {
        let mut text: String = self.operators.iter().map(|id| format!("{id}\n")).collect();
        for (name, value) in self.rules.lines() {
            text.push_str(&format!("{name} = {value}\n"));
        }
        text
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

    #[test]
    fn rules_name_another_network_and_survive_the_canonical_text() {
        let a = "a".repeat(64);
        let plain = Genesis::parse(&format!("{a}\n")).expect("parse");
        let defaults = Genesis::parse(&format!("{a}\nvote.commit = 1d\n")).expect("parse");
        assert_eq!(
            plain.network(),
            defaults.network(),
            "a default changes nothing"
        );
        let fast = Genesis::parse(&format!(
            "{a}\nvote.commit = 30s\nvote.reveal = 2m\nvote.quorum = 3\nvote.quorum_share = 1/2\n"
        ))
        .expect("parse");
        assert_ne!(fast.network(), plain.network());
        assert_eq!(fast.rules().commit_s, 30);
        assert_eq!(fast.rules().reveal_s, 120);
        let again = Genesis::parse(&fast.to_text()).expect("parse");
        assert_eq!(again, fast);
        assert_eq!(again.network(), fast.network());
        for bad in [
            "vote.commit = 0s",
            "vote.commit = 5x",
            "nope = 1",
            "vote.quorum_share = 3/2",
        ] {
            assert!(Genesis::parse(&format!("{a}\n{bad}\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_quorum_is_the_floor_or_the_share_and_never_more_than_everyone() {
        let r = Rules::default();
        assert_eq!(r.quorum(1), 1);
        assert_eq!(r.quorum(3), 3);
        assert_eq!(r.quorum(7), 5);
        assert_eq!(r.quorum(30), 10);
        assert_eq!(r.quarantine_threshold(7), 4);
        assert_eq!(r.quarantine_threshold(3), 2);
        assert_eq!(r.quarantine_threshold(1), 1);
    }
}
