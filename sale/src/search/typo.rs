//! Typo correction against a lexicon, engine-independent: the words one
//! edit away from a term (looked up exactly, which catches what trigrams
//! miss in short words: "swfit"), the edit distance with transpositions,
//! and the choice among candidates (fewest edits, then most used).

use std::collections::BTreeSet;

/// Terms longer than this get no generated variants (trigram candidates
/// cover long words well).
const MAX_VARIANT_LEN: usize = 12;

/// Most corrections kept for one term (they are OR-ed in the search).
pub const MAX_CORRECTIONS: usize = 3;

/// A correction used this many times less than the most used one is
/// dropped: the fan is shown the most used one ("showing results for
/// rosalia"), and the OR of a common word with rare ones cannot take the
/// common word's fast paths (a one-word typo corrected three ways was the
/// costliest text of the search mix: 30-42 ms against 3 ms for the word
/// alone).
pub const DOMINANCE: i64 = 20;

/// Every string one deletion, transposition, substitution or insertion
/// away from `term` (letters a-z and digits, plus the term's own letters).
pub fn variants(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.is_empty() || chars.len() > MAX_VARIANT_LEN {
        return Vec::new();
    }
    let mut alphabet: BTreeSet<char> = ('a'..='z').chain('0'..='9').collect();
    alphabet.extend(chars.iter().copied());
    let mut out = BTreeSet::new();
    let n = chars.len();
    for i in 0..n {
        let mut v = chars.clone();
        v.remove(i);
        out.insert(v.into_iter().collect::<String>());
        if i + 1 < n {
            let mut v = chars.clone();
            v.swap(i, i + 1);
            out.insert(v.into_iter().collect());
        }
        for &c in &alphabet {
            let mut v = chars.clone();
            v[i] = c;
            out.insert(v.into_iter().collect());
        }
    }
    for i in 0..=n {
        for &c in &alphabet {
            let mut v = chars.clone();
            v.insert(i, c);
            out.insert(v.into_iter().collect());
        }
    }
    out.remove(term);
    out.remove("");
    out.into_iter().collect()
}

/// Optimal string alignment distance: insertions, deletions,
/// substitutions and adjacent transpositions, each one edit.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Edits forgiven in a term of this many characters.
pub fn allowed_edits(len: usize) -> usize {
    match len {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// The corrections of `term` among `candidates` (word, how many events use
/// it): those with the fewest edits (within [`allowed_edits`]), most used
/// first, at most [`MAX_CORRECTIONS`], none used [`DOMINANCE`] times less
/// than the first.
pub fn corrections(term: &str, candidates: &[(String, i64)]) -> Vec<String> {
    let allowed = allowed_edits(term.chars().count());
    let mut scored: Vec<(usize, i64, &str)> = candidates
        .iter()
        .map(|(word, freq)| (distance(term, word), *freq, word.as_str()))
        .filter(|(d, _, _)| *d >= 1 && *d <= allowed)
        .collect();
    let Some(best) = scored.iter().map(|(d, _, _)| *d).min() else {
        return Vec::new();
    };
    scored.retain(|(d, _, _)| *d == best);
    scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(b.2)));
    scored.dedup_by(|a, b| a.2 == b.2);
    let most_used = scored.first().map_or(0, |(_, freq, _)| *freq);
    scored
        .into_iter()
        .filter(|(_, freq, _)| freq.saturating_mul(DOMINANCE) >= most_used)
        .take(MAX_CORRECTIONS)
        .map(|(_, _, w)| w.to_string())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_a_transposition_once() {
        assert_eq!(distance("swfit", "swift"), 1);
        assert_eq!(distance("tayler", "taylor"), 1);
        assert_eq!(distance("beyonse", "beyonce"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("köln", "koln"), 1);
    }

    #[test]
    fn variants_include_each_kind_of_edit() {
        let v = variants("swfit");
        for expected in ["swift", "wfit", "swfiit", "swfix"] {
            assert!(v.contains(&expected.to_string()), "{expected}");
        }
        assert!(!v.contains(&"swfit".to_string()));
        assert!(variants(&"a".repeat(13)).is_empty());
        assert!(variants("москва").contains(&"моксва".to_string()));
    }

    #[test]
    fn the_closest_then_most_used_wins() {
        let c = vec![
            ("tyler".to_string(), 5),
            ("taylor".to_string(), 50),
            ("tailor".to_string(), 500),
        ];
        assert_eq!(corrections("tayler", &c), vec!["taylor", "tyler"]);
        assert!(corrections("ab", &c).is_empty());
    }

    #[test]
    fn a_correction_far_less_used_than_the_first_is_dropped() {
        // All one edit from "kerrin": 20 times less used is still kept.
        let c = vec![
            ("kerrix".to_string(), 3),
            ("kerrie".to_string(), 4_000),
            ("kerrig".to_string(), 200),
        ];
        assert_eq!(corrections("kerrin", &c), vec!["kerrie", "kerrig"]);
        let unused = vec![("kerrie".to_string(), 0), ("kerrix".to_string(), 0)];
        assert_eq!(corrections("kerrin", &unused), vec!["kerrie", "kerrix"]);
    }
}
