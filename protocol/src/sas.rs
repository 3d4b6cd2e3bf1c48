//! The short authentication string: four words from the handshake hash.
//!
//! Both people read their four words aloud. If a man in the middle ran two
//! handshakes, the hashes differ and so do the words.

use std::fmt;

/// Words per string.
pub const SAS_WORDS: usize = 4;

/// 256 short, distinct, easy-to-say words; one byte of the hash picks one.
const WORDS: [&str; 256] = [
    "acid", "acorn", "actor", "adobe", "agent", "album", "alpha", "amber", "anchor", "angel", "apple",
    "april", "arena", "argon", "arrow", "atlas", "attic", "aunt", "autumn", "avocado", "badge", "bagel",
    "baker", "bamboo", "banjo", "barley", "basil", "beach", "beacon", "bear", "beetle", "bell", "berry",
    "bison", "blade", "blanket", "bloom", "blue", "bonus", "book", "border", "bottle", "bounce", "brave",
    "bread", "brick", "bridge", "bronze", "brook", "brush", "bucket", "buddy", "bugle", "butter", "button",
    "cabin", "cactus", "camel", "candle", "canoe", "canyon", "captain", "carbon", "carpet", "castle",
    "cedar", "cello", "chalk", "cherry", "chess", "chief", "chili", "cider", "circle", "citrus", "clay",
    "cliff", "clock", "cloud", "clover", "cobra", "coconut", "comet", "copper", "coral", "cotton", "cougar",
    "crane", "crayon", "cricket", "crystal", "cube", "cup", "cycle", "daisy", "dance", "dawn", "delta",
    "desert", "diamond", "dingo", "dolphin", "domino", "dragon", "dream", "drum", "dune", "eagle", "easel",
    "echo", "eclipse", "elbow", "elder", "ember", "emerald", "engine", "falcon", "fable", "feather", "fern",
    "fiddle", "field", "finch", "flag", "flame", "flute", "forest", "fossil", "fox", "frost", "fudge",
    "galaxy", "garden", "garlic", "gecko", "ginger", "glacier", "globe", "gold", "goose", "grape", "gravel",
    "guitar", "hammer", "harbor", "hazel", "helmet", "heron", "hockey", "honey", "hornet", "husky", "igloo",
    "indigo", "iris", "island", "ivory", "jacket", "jaguar", "jasmine", "jelly", "jewel", "jungle", "kayak",
    "kettle", "kiwi", "koala", "ladder", "lagoon", "lantern", "lemon", "lily", "lime", "linen", "lion",
    "lizard", "llama", "lobster", "lotus", "lunar", "magnet", "mango", "maple", "marble", "meadow", "melon",
    "mint", "mirror", "mocha", "monkey", "moose", "mosaic", "motor", "mountain", "mustard", "napkin",
    "nectar", "needle", "nickel", "noodle", "nutmeg", "oasis", "ocean", "olive", "onion", "opal", "orange",
    "orbit", "orchid", "otter", "oyster", "paddle", "panda", "panther", "paper", "parrot", "peach", "pearl",
    "pebble", "pepper", "piano", "pilot", "pine", "planet", "plum", "polar", "pony", "poppy", "puzzle",
    "quartz", "quill", "rabbit", "radar", "raven", "ribbon", "river", "robin", "rocket", "ruby", "saddle",
    "salmon", "sandal", "saturn", "scarf", "seal", "shadow", "shell", "silver", "sketch", "sparrow", "spice",
    "spider", "spruce", "squid", "star", "stone",
];

/// Four words both sides display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sas([&'static str; SAS_WORDS]);

impl Sas {
    /// Derives the words from a handshake hash.
    #[must_use]
    pub fn from_hash(hash: &[u8; 32]) -> Self {
        Self(std::array::from_fn(|i| WORDS[usize::from(hash[i])]))
    }

    /// The words in order.
    #[must_use]
    pub const fn words(&self) -> &[&'static str; SAS_WORDS] {
        &self.0
    }
}

impl fmt::Display for Sas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_distinct_and_hash_sensitive() {
        let mut sorted = WORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256);
        let a = Sas::from_hash(&[0; 32]);
        let mut h = [0; 32];
        h[3] = 1;
        assert_ne!(a, Sas::from_hash(&h));
        assert_eq!(a.to_string(), "acid acid acid acid");
    }
}
