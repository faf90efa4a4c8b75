//! Text similarity as distillation evidence states it: the Jaccard similarity of two texts' sets of word
//! shingles. The lab's scan estimates it from private fingerprints; `prova verify evidence` recomputes it here from
//! the two texts alone, so the definition lives on the verifier's side (spec: `docs/distillation.md`).
//!
//! 1. **Words.** Texts that are not ASCII are first normalized (Unicode NFC, whitespace collapsed: the `normalize`
//!    of `prova_core::outputs`). A backslash followed by `n`, `r` or `t` (a JSON or C escape of a line break or
//!    tab left in a re-encoded text) counts as whitespace. A word is then a maximal run of alphanumeric characters
//!    (Rust's `char::is_alphanumeric`), lowercased (`char::to_lowercase`); everything else separates words.
//! 2. **Shingles.** The shingles of a text are its runs of `k` consecutive words (a text of 1 to k-1 words has one
//!    shingle, all of its words; a text without words has none). A text's shingle *set* ignores repeats.
//! 3. **Similarity.** `J(A, B) = |A ∩ B| / |A ∪ B|` over the two shingle sets (0 when both are empty).
//!
//! Shingles are compared as 64-bit hashes ([`shingle_hashes`]): FNV-1a 64 of each word's UTF-8 bytes, then
//! `h = w[i]; h = mix(h ^ w[i+j])` for j = 1..k with `mix` the SplitMix64 finalizer. Two distinct shingles collide
//! with probability about 2^-64 per pair, which no report can see.

use std::collections::HashSet;

/// Shingle size (words per shingle) of the default scheme, chosen from the calibration in `BENCHMARKS.md`.
pub const DEFAULT_SHINGLE: usize = 3;

/// The SplitMix64 finalizer: a bijective 64-bit mix in which every input bit affects every output bit.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Calls `word` with the FNV-1a 64 hash of every word of `text`, in order (step 1 of the module docs).
pub fn for_each_word_hash(text: &str, mut word: impl FnMut(u64)) {
    if text.is_ascii() {
        ascii_words(text.as_bytes(), &mut word);
    } else {
        let normalized = prova_core::outputs::normalize(text);
        unicode_words(&normalized, &mut word);
    }
}

/// Whether `byte` after a backslash makes an escape read as whitespace.
fn is_space_escape(byte: u8) -> bool {
    matches!(byte, b'n' | b'r' | b't')
}

fn ascii_words(bytes: &[u8], word: &mut impl FnMut(u64)) {
    let mut hash = FNV_OFFSET;
    let mut in_word = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            hash = (hash ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
            in_word = true;
        } else {
            if in_word {
                word(hash);
                hash = FNV_OFFSET;
                in_word = false;
            }
            if b == b'\\' && bytes.get(i + 1).is_some_and(|n| is_space_escape(*n)) {
                i += 1;
            }
        }
        i += 1;
    }
    if in_word {
        word(hash);
    }
}

fn unicode_words(text: &str, word: &mut impl FnMut(u64)) {
    let mut hash = FNV_OFFSET;
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    let mut buf = [0u8; 4];
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                for b in lower.encode_utf8(&mut buf).bytes() {
                    hash = (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                }
            }
            in_word = true;
        } else {
            if in_word {
                word(hash);
                hash = FNV_OFFSET;
                in_word = false;
            }
            if c == '\\' && chars.peek().is_some_and(|n| n.is_ascii() && is_space_escape(*n as u8)) {
                chars.next();
            }
        }
    }
    if in_word {
        word(hash);
    }
}

/// The words of `text` as hashes, in order.
pub fn word_hashes(text: &str) -> Vec<u64> {
    let mut words = Vec::with_capacity(text.len() / 5);
    for_each_word_hash(text, |w| words.push(w));
    words
}

/// Calls `shingle` with the hash of every `k`-word shingle of `words` (repeats included), in order.
pub fn for_each_shingle(words: &[u64], k: usize, mut shingle: impl FnMut(u64)) {
    let k = k.max(1);
    if words.is_empty() {
        return;
    }
    if words.len() < k {
        shingle(words[1..].iter().fold(words[0], |h, w| mix64(h ^ w)));
        return;
    }
    for window in words.windows(k) {
        shingle(window[1..].iter().fold(window[0], |h, w| mix64(h ^ w)));
    }
}

/// The hashes of the `k`-word shingles of `text`, repeats included, in order.
pub fn shingle_hashes(text: &str, k: usize) -> Vec<u64> {
    let words = word_hashes(text);
    let mut shingles = Vec::with_capacity(words.len());
    for_each_shingle(&words, k, |s| shingles.push(s));
    shingles
}

/// The shingle set of `text`.
pub fn shingle_set(text: &str, k: usize) -> HashSet<u64> {
    shingle_hashes(text, k).into_iter().collect()
}

/// The Jaccard similarity of two shingle sets (0 when both are empty).
pub fn jaccard_of_sets(a: &HashSet<u64>, b: &HashSet<u64>) -> f64 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let common = small.iter().filter(|s| large.contains(s)).count();
    let union = a.len() + b.len() - common;
    if union == 0 { 0.0 } else { common as f64 / union as f64 }
}

/// The Jaccard similarity of the `k`-word shingle sets of two texts (the similarity a bundle states).
pub fn jaccard(a: &str, b: &str, k: usize) -> f64 {
    jaccard_of_sets(&shingle_set(a, k), &shingle_set(b, k))
}

/// Rounds a similarity to the 6 decimals a bundle states it with.
pub fn rounded(similarity: f64) -> f64 {
    (similarity * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_ignore_case_punctuation_markup_and_escapes() {
        let plain = word_hashes("The cat sat on the mat.");
        assert_eq!(plain.len(), 6);
        assert_eq!(word_hashes("**the** CAT, sat\n\n  on - the `mat`"), plain);
        assert_eq!(word_hashes(r#"{"x": "The cat\nsat on\tthe mat"}"#)[1..], plain[..]);
        assert_eq!(word_hashes("caf\u{e9} au lait"), word_hashes("cafe\u{301} au lait"), "NFC first");
        assert_eq!(word_hashes("Ünïcode wörds"), word_hashes("ünïcode WÖRDS"));
        assert!(word_hashes("  ... --- ").is_empty());
    }

    #[test]
    fn shingles_are_word_runs_and_short_texts_have_one() {
        assert_eq!(shingle_hashes("a b c d", 3).len(), 2);
        assert_eq!(shingle_hashes("a b", 3).len(), 1);
        assert!(shingle_hashes("", 3).is_empty());
        assert_ne!(shingle_hashes("a b c", 3), shingle_hashes("c b a", 3), "order matters");
    }

    #[test]
    fn jaccard_of_known_sets() {
        assert_eq!(jaccard("a b c d e", "a b c d e", 3), 1.0);
        // {abc, bcd, cde} vs {abc, bcd, cdx}: 2 common of 4.
        assert_eq!(jaccard("a b c d e", "a b c d x", 3), 0.5);
        assert_eq!(jaccard("a b c", "x y z", 3), 0.0);
        assert_eq!(jaccard("", "", 3), 0.0);
        assert_eq!(rounded(1.0 / 3.0), 0.333333);
    }
}
