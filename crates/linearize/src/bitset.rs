//! A fixed-size set of small integers, used to record which operations are linearized.
//! It keeps a Zobrist fingerprint up to date, so hashing it costs O(1) however large it is.

use std::hash::{Hash, Hasher};

/// A set of indices below the length it was created with.
#[derive(Debug, Clone)]
pub(crate) struct Bitset {
    words: Box<[u64]>,
    /// XOR of `member_key(i)` over the members `i`.
    fingerprint: u64,
}

impl Bitset {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)].into_boxed_slice(),
            fingerprint: 0,
        }
    }

    pub(crate) fn insert(&mut self, index: usize) {
        if !self.contains(index) {
            self.words[index / 64] |= 1 << (index % 64);
            self.fingerprint ^= member_key(index);
        }
    }

    pub(crate) fn remove(&mut self, index: usize) {
        if self.contains(index) {
            self.words[index / 64] &= !(1 << (index % 64));
            self.fingerprint ^= member_key(index);
        }
    }

    pub(crate) fn contains(&self, index: usize) -> bool {
        self.words[index / 64] & (1 << (index % 64)) != 0
    }

    /// Whether every member of `self` is also in `other` (both of the same length).
    pub(crate) fn is_subset_of(&self, other: &Self) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(mine, theirs)| mine & !theirs == 0)
    }
}

impl PartialEq for Bitset {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.words == other.words
    }
}

impl Eq for Bitset {}

impl Hash for Bitset {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint);
    }
}

/// A well-mixed pseudo-random key for member `index` (SplitMix64 finalizer).
fn member_key(index: usize) -> u64 {
    let mut z = (index as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_contains_across_words() {
        let mut set = Bitset::new(130);
        set.insert(0);
        set.insert(64);
        set.insert(129);
        assert!(set.contains(0) && set.contains(64) && set.contains(129));
        assert!(!set.contains(1) && !set.contains(128));
        set.remove(64);
        assert!(!set.contains(64));
    }

    #[test]
    fn subset_relation() {
        let mut small = Bitset::new(100);
        let mut large = Bitset::new(100);
        small.insert(3);
        large.insert(3);
        large.insert(99);
        assert!(small.is_subset_of(&large));
        assert!(!large.is_subset_of(&small));
        assert!(Bitset::new(100).is_subset_of(&small));
    }

    #[test]
    fn equal_sets_hash_alike_whatever_the_order_of_insertion() {
        let hash = |set: &Bitset| {
            let mut hasher = std::hash::DefaultHasher::new();
            set.hash(&mut hasher);
            hasher.finish()
        };
        let (mut forward, mut backward) = (Bitset::new(200), Bitset::new(200));
        [1, 70, 150].iter().for_each(|&i| forward.insert(i));
        [150, 70, 1, 9].iter().for_each(|&i| backward.insert(i));
        backward.remove(9);
        backward.remove(9);
        assert_eq!(forward, backward);
        assert_eq!(hash(&forward), hash(&backward));
        forward.insert(2);
        assert_ne!(forward, backward);
    }

    #[test]
    fn empty_set_of_length_zero() {
        let set = Bitset::new(0);
        assert!(set.is_subset_of(&Bitset::new(0)));
    }
}
