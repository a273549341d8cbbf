//! What a text means to the PostgreSQL engine: its words as a tsquery,
//! misspelt ones corrected against the lexicon (the candidates of every
//! word fetched in one statement, `search_understand`, and ranked by
//! [`typo`]); and suggestions as a fan types (a prefix of any word of a
//! performer, venue or city, most used first; when few match, the words
//! corrected; when none, the text without its last letter, then names that
//! look alike).

use super::super::{typo, SearchError, Suggestion};
use super::PgEngine;
use sqlx::PgPool;

/// Trigram neighbours fetched per misspelt word.
const SIMILAR_WORDS: i32 = 30;

/// A lexeme quoted for a tsquery (the words are letters and digits only,
/// quoting is belt and braces).
fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// One word of a text with what the lexicon said about it.
struct Word {
    word: String,
    known: bool,
    candidates: Vec<(String, i64)>,
}

impl PgEngine {
    /// The words of a text (normalised, at most 10) with the candidate
    /// corrections of the unknown ones, in one statement on `db` (the
    /// searches' pool or the suggestions').
    async fn words(&self, db: &PgPool, text: &str) -> Result<Vec<Word>, SearchError> {
        let rows = sqlx::query!(
            r#"SELECT n AS "n!", word AS "word!", known AS "known!", candidate AS "candidate?",
                 freq AS "freq?"
               FROM search_understand($1, $2)"#,
            text,
            SIMILAR_WORDS
        )
        .fetch_all(db)
        .await?;
        let mut words: Vec<(i64, Word)> = Vec::new();
        for row in rows {
            if words.last().is_none_or(|(n, _)| *n != row.n) {
                words.push((
                    row.n,
                    Word {
                        word: row.word,
                        known: row.known,
                        candidates: Vec::new(),
                    },
                ));
            }
            if let (Some((_, word)), Some(candidate), Some(freq)) =
                (words.last_mut(), row.candidate, row.freq)
            {
                word.candidates.push((candidate, i64::from(freq)));
            }
        }
        Ok(words.into_iter().map(|(_, w)| w).collect())
    }

    /// The tsquery for a text, and the corrected text when a word was
    /// corrected.
    pub(super) async fn understand(
        &self,
        text: &str,
    ) -> Result<(String, Option<String>), SearchError> {
        let mut parts = Vec::new();
        let mut shown = Vec::new();
        let mut corrected = false;
        for word in self.words(&self.db, text).await? {
            if word.known || typo::allowed_edits(word.word.chars().count()) == 0 {
                parts.push(lexeme(&word.word));
                shown.push(word.word);
                continue;
            }
            let fixes = typo::corrections(&word.word, &word.candidates);
            if fixes.is_empty() {
                // Not a known word nor close to one: perhaps still being
                // typed.
                parts.push(format!("{}:*", lexeme(&word.word)));
                shown.push(word.word);
            } else {
                corrected = true;
                let alternatives: Vec<String> = fixes.iter().map(|f| lexeme(f)).collect();
                parts.push(format!("({})", alternatives.join(" | ")));
                shown.push(fixes[0].clone());
            }
        }
        Ok((parts.join(" & "), corrected.then(|| shown.join(" "))))
    }

    pub(super) async fn suggestions(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<Vec<Suggestion>, SearchError> {
        let (norm, mut found) = self.prefixed(text, limit).await?;
        if norm.is_empty() {
            return Ok(Vec::new());
        }
        if found.len() < limit as usize && norm.chars().count() >= 3 {
            // A typo: correct the words, then look again; when neither
            // found a name, the text without its last letter (the one
            // typed last, a slip of the finger while typing); when that
            // finds none either, names that look alike (a trigram scan of
            // every key, 10-150 ms for a text of common trigrams: only as
            // the last resort).
            let mut changed = false;
            let mut words = Vec::new();
            for word in self.words(&self.suggest_db, &norm).await? {
                match typo::corrections(&word.word, &word.candidates)
                    .into_iter()
                    .next()
                {
                    Some(fix) if !word.known => {
                        words.push(fix);
                        changed = true;
                    }
                    _ => words.push(word.word),
                }
            }
            if changed {
                for s in self.prefixed(&words.join(" "), limit).await?.1 {
                    if !found.contains(&s) {
                        found.push(s);
                    }
                }
            }
            if found.is_empty() && norm.chars().count() >= 4 {
                let mut shorter = norm.clone();
                shorter.pop();
                found = self.prefixed(shorter.trim_end(), limit).await?.1;
            }
            let similar = if found.is_empty() {
                sqlx::query!(
                    r#"SELECT kind AS "kind!", label AS "label!" FROM search_similar_names($1, $2)"#,
                    norm,
                    limit as i32
                )
                .fetch_all(&self.suggest_db)
                .await?
            } else {
                Vec::new()
            };
            for s in similar {
                let s = Suggestion {
                    kind: s.kind,
                    label: s.label,
                };
                if !found.contains(&s) {
                    found.push(s);
                }
            }
        }
        found.truncate(limit as usize);
        Ok(found)
    }

    /// The normalised text, and the names with a word starting with it,
    /// most used first: one statement. (The normalised text has only
    /// letters, digits and spaces: nothing LIKE would read as a wildcard;
    /// planned with its value, the pattern is a constant prefix for the
    /// btree.) Only the `limit × 4` most used keys are grouped: a name has
    /// at most 4 keys (`search_name_keys`), so the first `limit` names are
    /// among them, and a common prefix walks `search_names_by_freq` from
    /// the most used name instead of reading tens of thousands of keys
    /// (migration 0016).
    async fn prefixed(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<(String, Vec<Suggestion>), SearchError> {
        let rows = sqlx::query!(
            r#"SELECT search_norm($1) AS "norm!", n.kind AS "kind?", n.label AS "label?"
               FROM (SELECT 1) one
               LEFT JOIN LATERAL (
                 SELECT k.kind, k.label FROM (
                   SELECT n.kind, n.label, n.freq FROM search_names n
                   WHERE n.key LIKE search_norm($1) || '%' AND search_norm($1) <> ''
                   ORDER BY n.freq DESC, n.label, n.kind
                   LIMIT 4 * $2::bigint
                 ) k
                 GROUP BY k.kind, k.label
                 ORDER BY max(k.freq) DESC, k.label
                 LIMIT $2
               ) n ON true"#,
            text,
            i64::from(limit)
        )
        .fetch_all(&self.suggest_db)
        .await?;
        let norm = rows.first().map(|r| r.norm.clone()).unwrap_or_default();
        let found = rows
            .into_iter()
            .filter_map(|r| match (r.kind, r.label) {
                (Some(kind), Some(label)) => Some(Suggestion { kind, label }),
                _ => None,
            })
            .collect();
        Ok((norm, found))
    }
}
