//! The search's memory of visited configurations: which known and unknown operations are
//! placed, and the model state. A configuration counts as visited when one with the same
//! known operations and state, but a subset of the unknown operations used up, was seen:
//! that one can do everything this one can.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::bitset::Bitset;

/// Visited configurations, bucketed by a fingerprint of (known set, state).
pub(crate) struct Cache<S> {
    buckets: HashMap<u64, Vec<Place<S>>, BuildHasherDefault<PassThrough>>,
}

impl<S> Default for Cache<S> {
    fn default() -> Self {
        Self {
            buckets: HashMap::default(),
        }
    }
}

/// A (known set, state) pair and the unknown sets it was visited with, none a subset of another.
struct Place<S> {
    known: Bitset,
    state: S,
    unknown_sets: Vec<Bitset>,
}

impl<S: Clone + Eq + Hash> Cache<S> {
    /// Records the configuration unless one at least as capable was already visited;
    /// returns whether it was recorded.
    pub(crate) fn insert_if_new(&mut self, known: &Bitset, unknown: &Bitset, state: &S) -> bool {
        let bucket = self.buckets.entry(fingerprint(known, state)).or_default();
        let Some(place) = bucket
            .iter_mut()
            .find(|place| place.known == *known && place.state == *state)
        else {
            bucket.push(Place {
                known: known.clone(),
                state: state.clone(),
                unknown_sets: vec![unknown.clone()],
            });
            return true;
        };
        if place
            .unknown_sets
            .iter()
            .any(|visited| visited.is_subset_of(unknown))
        {
            return false;
        }
        place
            .unknown_sets
            .retain(|visited| !unknown.is_subset_of(visited));
        place.unknown_sets.push(unknown.clone());
        true
    }
}

fn fingerprint<S: Hash>(known: &Bitset, state: &S) -> u64 {
    let mut hasher = FxHasher::default();
    known.hash(&mut hasher);
    state.hash(&mut hasher);
    hasher.finish()
}

/// The multiply-rotate hash rustc uses internally: fast, and good enough for fingerprints.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Keys are fingerprints already, so the map need not hash them again.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&byte| self.write_u8(byte));
    }

    fn write_u8(&mut self, byte: u8) {
        self.0 = self.0.rotate_left(8) ^ u64::from(byte);
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = word;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(len: usize, members: &[usize]) -> Bitset {
        let mut set = Bitset::new(len);
        members.iter().for_each(|&member| set.insert(member));
        set
    }

    #[test]
    fn same_configuration_is_not_new_twice() {
        let mut cache = Cache::default();
        assert!(cache.insert_if_new(&set(10, &[1]), &set(3, &[]), &"s"));
        assert!(!cache.insert_if_new(&set(10, &[1]), &set(3, &[]), &"s"));
        assert!(cache.insert_if_new(&set(10, &[1]), &set(3, &[]), &"t"));
        assert!(cache.insert_if_new(&set(10, &[2]), &set(3, &[]), &"s"));
    }

    #[test]
    fn using_up_more_unknown_operations_is_subsumed() {
        let mut cache = Cache::default();
        assert!(cache.insert_if_new(&set(10, &[1]), &set(3, &[0]), &"s"));
        assert!(!cache.insert_if_new(&set(10, &[1]), &set(3, &[0, 2]), &"s"));
        assert!(cache.insert_if_new(&set(10, &[1]), &set(3, &[2]), &"s"));
        // Fewer used up than a visited one: new, and it subsumes that one from now on.
        assert!(cache.insert_if_new(&set(10, &[1]), &set(3, &[]), &"s"));
        assert!(!cache.insert_if_new(&set(10, &[1]), &set(3, &[1]), &"s"));
    }
}
