//! Planted near-copies with known edits, and synthetic answer-like texts, for calibrating and testing the
//! near-duplicate scan (`cargo bench --bench near`, the scan tests). Every edit is one a distiller makes to a
//! teacher's answers: truncation, removing a preamble or a closing line, re-wrapping, re-formatting as Markdown or
//! JSON, substituting words, re-ordering sentences.

use prova_verify::evidence::MatchKind;
use rand::Rng;
use rand::seq::SliceRandom;

/// One edit, with its strength.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edit {
    /// No edit: an exact copy.
    Copy,
    /// Keep this share of the text's characters (cut at a word boundary).
    Truncate(f64),
    /// Remove whole leading sentences until at least this share of the words is gone (a preamble).
    DropPrefix(f64),
    /// Remove whole trailing sentences until at least this share of the words is gone (a closing line).
    DropSuffix(f64),
    /// Re-wrap the words into lines of at most this many characters, with blank lines between sentences.
    Rewrap(usize),
    /// Re-format as Markdown: a heading, one bullet per sentence, the first word of each bold.
    Markdown,
    /// Re-format as pretty-printed JSON `{"answer": ...}` (the text then holds `\n` escapes and quotes).
    Json,
    /// Replace this share of the words with random words.
    Substitute(f64),
    /// Shuffle the order of the sentences.
    Reorder,
}

impl Edit {
    /// The edits and strengths of the calibration: each kind of the issue's list, at the strengths it names.
    pub fn calibration_set() -> Vec<Self> {
        let mut edits = vec![Self::Copy];
        edits.extend([0.9, 0.8, 0.7, 0.6, 0.5].map(Self::Truncate));
        edits.extend([0.1, 0.25].map(Self::DropPrefix));
        edits.extend([0.1, 0.25].map(Self::DropSuffix));
        edits.extend([40, 100].map(Self::Rewrap));
        edits.extend([Self::Markdown, Self::Json]);
        edits.extend([0.05, 0.1, 0.15, 0.2].map(Self::Substitute));
        edits.push(Self::Reorder);
        edits
    }

    /// The kind of match a copy with this edit should be found as.
    pub fn expected_kind(&self) -> MatchKind {
        match self {
            Self::Copy => MatchKind::Exact,
            Self::Rewrap(_) => MatchKind::Normalized,
            _ => MatchKind::Near,
        }
    }

    /// A short label, e.g. `truncate 70%`.
    pub fn label(&self) -> String {
        let pct = |f: &f64| format!("{:.0}%", f * 100.0);
        match self {
            Self::Copy => "exact copy".into(),
            Self::Truncate(f) => format!("truncate to {}", pct(f)),
            Self::DropPrefix(f) => format!("prefix removal {}", pct(f)),
            Self::DropSuffix(f) => format!("suffix removal {}", pct(f)),
            Self::Rewrap(width) => format!("re-wrap at {width}"),
            Self::Markdown => "markdown".into(),
            Self::Json => "json".into(),
            Self::Substitute(f) => format!("substitute {}", pct(f)),
            Self::Reorder => "reorder sentences".into(),
        }
    }

    /// The kind of edit without its strength, e.g. `truncate`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Truncate(_) => "truncate",
            Self::DropPrefix(_) => "prefix removal",
            Self::DropSuffix(_) => "suffix removal",
            Self::Rewrap(_) => "re-wrap",
            Self::Markdown => "markdown",
            Self::Json => "json",
            Self::Substitute(_) => "substitute",
            Self::Reorder => "reorder",
        }
    }

    /// Applies the edit to `text`; substitutions draw words from `vocabulary`.
    pub fn apply(&self, text: &str, rng: &mut impl Rng, vocabulary: &[String]) -> String {
        match *self {
            Self::Copy => text.to_owned(),
            Self::Truncate(keep) => {
                let cut = (text.len() as f64 * keep) as usize;
                let cut = (cut..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
                let end = text[..cut].rfind(char::is_whitespace).unwrap_or(cut);
                text[..end].trim_end().to_owned()
            }
            Self::DropPrefix(share) => {
                let mut s = sentences(text);
                let total = words(text);
                let mut dropped = 0;
                while s.len() > 1 && (dropped as f64) < share * total as f64 {
                    dropped += words(&s.remove(0));
                }
                s.join(" ")
            }
            Self::DropSuffix(share) => {
                let mut s = sentences(text);
                let total = words(text);
                let mut dropped = 0;
                while s.len() > 1 && (dropped as f64) < share * total as f64 {
                    dropped += words(&s.pop().unwrap_or_default());
                }
                s.join(" ")
            }
            Self::Rewrap(width) => {
                let mut out = String::new();
                for (i, sentence) in sentences(text).iter().enumerate() {
                    if i > 0 {
                        out.push_str("\n\n");
                    }
                    let mut line = 0;
                    for word in sentence.split_whitespace() {
                        if line > 0 && line + word.len() + 1 > width {
                            out.push('\n');
                            line = 0;
                        } else if line > 0 {
                            out.push(' ');
                            line += 1;
                        }
                        out.push_str(word);
                        line += word.len();
                    }
                }
                out.push('\n');
                out
            }
            Self::Markdown => {
                let mut out = String::from("## Answer\n\n");
                for sentence in sentences(text) {
                    let (first, rest) = sentence.split_once(' ').unwrap_or((&sentence, ""));
                    out.push_str(&format!("- **{first}** {rest}\n"));
                }
                out
            }
            Self::Json => serde_json::to_string_pretty(&serde_json::json!({ "answer": text })).expect("a string"),
            Self::Substitute(share) => text
                .split(' ')
                .map(|w| {
                    if rng.gen_bool(share) { vocabulary.choose(rng).cloned().unwrap_or_default() } else { w.to_owned() }
                })
                .collect::<Vec<_>>()
                .join(" "),
            Self::Reorder => {
                let mut s = sentences(text);
                let original = s.clone();
                for _ in 0..8 {
                    s.shuffle(rng);
                    if s != original {
                        break;
                    }
                }
                s.join(" ")
            }
        }
    }
}

/// The sentences of a text (split after `.`, `!` or `?` followed by whitespace), trimmed.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace()) {
            let sentence = current.split_whitespace().collect::<Vec<_>>().join(" ");
            if !sentence.is_empty() {
                out.push(sentence);
            }
            current.clear();
        }
    }
    let rest = current.split_whitespace().collect::<Vec<_>>().join(" ");
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// `n` pronounceable pseudo-words, the same for the same seed.
pub fn vocabulary(n: usize, rng: &mut impl Rng) -> Vec<String> {
    const ONSETS: [&str; 16] = ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr"];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ea"];
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let syllables = rng.gen_range(1..=4);
        let word: String = (0..syllables)
            .map(|_| format!("{}{}", ONSETS[rng.gen_range(0..ONSETS.len())], VOWELS[rng.gen_range(0..VOWELS.len())]))
            .collect();
        if seen.insert(word.clone()) {
            out.push(word);
        }
    }
    out
}

/// Draws words from a vocabulary with Zipf's law (exponent 1), as words occur in text.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Over `n` ranks.
    pub fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { cumulative }
    }

    /// A rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.gen_range(0.0..total);
        self.cumulative.partition_point(|c| *c < x).min(self.cumulative.len().saturating_sub(1))
    }
}

/// A synthetic answer of about `words` words in sentences of 8 to 24 words, drawn from `vocabulary` by `zipf`.
pub fn answer(words: usize, vocabulary: &[String], zipf: &Zipf, rng: &mut impl Rng) -> String {
    let mut out = String::with_capacity(words * 7);
    let mut written = 0;
    while written < words {
        let length = rng.gen_range(8..=24).min(words - written).max(1);
        for i in 0..length {
            let word = &vocabulary[zipf.sample(rng) % vocabulary.len()];
            if i == 0 {
                if !out.is_empty() {
                    out.push(' ');
                }
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push(' ');
                out.push_str(word);
            }
        }
        out.push('.');
        written += length;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prova_verify::similarity::jaccard;
    use rand::SeedableRng;

    #[test]
    fn edits_change_what_they_say() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let vocabulary = vocabulary(5_000, &mut rng);
        let zipf = Zipf::new(vocabulary.len());
        let text = answer(150, &vocabulary, &zipf, &mut rng);
        assert!(sentences(&text).len() >= 6, "{text}");
        let normalized = prova_core::outputs::normalize(&text);
        for edit in Edit::calibration_set() {
            let copy = edit.apply(&text, &mut rng, &vocabulary);
            let j = jaccard(&text, &copy, 3);
            match edit {
                Edit::Copy => assert_eq!(copy, text),
                Edit::Rewrap(_) => {
                    assert_ne!(copy, text);
                    assert_eq!(prova_core::outputs::normalize(&copy), normalized, "only whitespace changes");
                }
                Edit::Markdown | Edit::Json => assert!(j > 0.85, "{}: {j}", edit.label()),
                Edit::Truncate(keep) => assert!((j - keep).abs() < 0.1, "{}: {j}", edit.label()),
                Edit::Reorder => assert!(j > 0.6 && j < 1.0, "{}: {j}", edit.label()),
                _ => assert!(j > 0.2 && j < 1.0, "{}: {j}", edit.label()),
            }
        }
    }
}
