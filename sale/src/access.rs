//! Invite-only and presale lines, the operator's side: set a drop's access
//! mode, make access codes, list users. The queue redeems codes and checks
//! access on join (`queue::access`, which also says how it survives a
//! Redis rebuild).
//!
//! PostgreSQL first (the record), then Redis: new codes go in with
//! `HSETNX` (unused: `max_uses|0`), listed users with `SADD`, whether the
//! drop's access keys are loaded or not. Should the Redis write be lost,
//! the keys are reloaded from PostgreSQL whenever Redis lost them; a code
//! added while they stay loaded and whose Redis write failed answers
//! `invalid_access_code` until the operator adds it again (idempotent).

use crate::domain::Sale;
use crate::drops::DropError;
use crate::store::access::{self, AccessChange, AccessSettings};
use admission::contract::{access_code_hash, PowAlgorithm};
use runtime::redis::bounded;
use serde::{Deserialize, Serialize};

/// Most codes made or users listed per request.
pub const MAX_BATCH: usize = 10_000;
/// Most uses one code may allow.
pub const MAX_USES: i32 = 1_000_000;

/// `{"count": n}` makes `n` random codes; `{"codes": [...]}` adds the
/// given ones; `max_uses` (default 1: single-use) caps each.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeCodes {
    pub count: Option<usize>,
    pub codes: Option<Vec<String>>,
    pub max_uses: Option<i32>,
}

/// The codes made (shown once: only their hashes are kept).
#[derive(Debug, Serialize)]
pub struct CodesMade {
    pub drop: String,
    pub codes: Vec<String>,
    pub max_uses: i32,
    /// Given codes that existed already (their cap is unchanged).
    pub existing: usize,
}

fn new_code() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12])
}

impl Sale {
    /// Sets who may join a drop's line (`open`, `code` or `list`) and
    /// whether joining needs proof of work and a CAPTCHA; `None` keeps the
    /// setting. Queue nodes pick it up at once (announced) or within their
    /// next settings refresh (a second).
    pub async fn set_access_mode(
        &self,
        drop_id: &str,
        change: AccessChange<'_>,
    ) -> Result<AccessSettings, DropError> {
        if change
            .mode
            .is_some_and(|m| !["open", "code", "list"].contains(&m))
        {
            return Err(DropError::Invalid(
                "mode must be open, code (an access code or the list) or list".into(),
            ));
        }
        if change
            .pow_algorithm
            .is_some_and(|a| PowAlgorithm::parse(a).is_none())
        {
            return Err(DropError::Invalid(
                "pow_algorithm must be SHA-256 or ARGON2ID (memory-hard)".into(),
            ));
        }
        self.find(drop_id).await?;
        let set = access::set_mode(&self.db, drop_id, &change).await?;
        self.announce(drop_id).await;
        tracing::info!(
            drop = drop_id,
            mode = set.mode,
            proof_of_work = set.proof_of_work,
            captcha = set.captcha,
            pow_algorithm = set.pow_algorithm,
            "drop access set"
        );
        Ok(set)
    }

    /// A drop's access mode, its proof-of-work and CAPTCHA switches and its
    /// proof-of-work function.
    pub async fn access_mode(&self, drop_id: &str) -> Result<AccessSettings, DropError> {
        self.find(drop_id).await?;
        Ok(access::mode(&self.db, drop_id).await?)
    }

    /// Makes or adds access codes for a drop (see [`MakeCodes`]).
    pub async fn make_codes(&self, drop_id: &str, body: MakeCodes) -> Result<CodesMade, DropError> {
        let max_uses = body.max_uses.unwrap_or(1);
        if !(1..=MAX_USES).contains(&max_uses) {
            return Err(DropError::Invalid(format!(
                "max_uses must be from 1 to {MAX_USES}"
            )));
        }
        let codes = match (body.count, body.codes) {
            (Some(n), None) if (1..=MAX_BATCH).contains(&n) => (0..n).map(|_| new_code()).collect(),
            (None, Some(codes)) if (1..=MAX_BATCH).contains(&codes.len()) => {
                let valid = |c: &String| {
                    let c = c.trim();
                    (4..=64).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_graphic())
                };
                if !codes.iter().all(valid) {
                    return Err(DropError::Invalid(
                        "a code is 4-64 visible ASCII characters".into(),
                    ));
                }
                codes
                    .into_iter()
                    .map(|c| c.trim().to_uppercase())
                    .collect::<Vec<_>>()
            }
            _ => {
                return Err(DropError::Invalid(format!(
                    "send either count (1-{MAX_BATCH}) or codes (1-{MAX_BATCH} of them)"
                )))
            }
        };
        self.find(drop_id).await?;
        let hashes: Vec<String> = codes.iter().map(|c| access_code_hash(c)).collect();
        let new = access::insert_codes(&self.db, drop_id, &hashes, max_uses).await?;
        let keys = self.gate.keys(drop_id);
        let mut redis = self.gate.redis();
        for chunk in new.chunks(1_000) {
            let mut pipe = redis::pipe();
            for hash in chunk {
                pipe.hset_nx(keys.access_codes(), hash, format!("{max_uses}|0"))
                    .ignore();
            }
            if let Err(error) = bounded(pipe.query_async::<()>(&mut redis)).await {
                tracing::warn!(%error, drop = drop_id, "access codes recorded but not copied to Redis");
            }
        }
        let existing = codes.len() - new.len();
        Ok(CodesMade {
            drop: drop_id.to_string(),
            codes,
            max_uses,
            existing,
        })
    }

    /// Puts users on a drop's access list; how many were new.
    pub async fn grant_access(&self, drop_id: &str, users: &[String]) -> Result<u64, DropError> {
        if users.is_empty()
            || users.len() > MAX_BATCH
            || users
                .iter()
                .any(|u| u.is_empty() || u.len() > 200 || u.chars().any(char::is_control))
        {
            return Err(DropError::Invalid(format!(
                "users: 1-{MAX_BATCH} user ids of 1-200 characters"
            )));
        }
        self.find(drop_id).await?;
        let new = access::grant_users(&self.db, drop_id, users).await?;
        let keys = self.gate.keys(drop_id);
        for chunk in users.chunks(1_000) {
            let mut command = redis::cmd("SADD");
            command.arg(keys.access_users()).arg(chunk);
            if let Err(error) = bounded(command.query_async::<()>(&mut self.gate.redis())).await {
                tracing::warn!(%error, drop = drop_id, "access list recorded but not copied to Redis");
            }
        }
        Ok(new)
    }
}
