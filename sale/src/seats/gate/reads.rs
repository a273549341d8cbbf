//! The seat gate's reads: a sale's snapshot (`seat_snapshot.lua`), a page
//! of its live holds, and the change log after a point or at its tail, which
//! the board and the event stream follow.

use super::{RawSnapshot, SeatGate, SNAPSHOT};
use runtime::redis::bounded;
use uuid::Uuid;

impl SeatGate {
    /// Runs `seat_snapshot.lua`.
    pub async fn snapshot(&self, drop_id: &str) -> redis::RedisResult<RawSnapshot> {
        let keys = self.keys(drop_id);
        let invocation = keys.invocation(&SNAPSHOT, "none");
        type Reply = (i64, Vec<(u32, String)>, Vec<(String, String)>);
        let (version, owners, holds): Reply =
            bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(RawSnapshot {
            version,
            owners,
            holds,
        })
    }

    /// One page of a sale's hold records (HSCAN; `cursor` 0 starts, a
    /// returned 0 means done): (hold id, state `h`/`o`, expires_ms).
    pub async fn holds_page(
        &self,
        drop_id: &str,
        cursor: u64,
        count: usize,
    ) -> redis::RedisResult<(u64, Vec<(Uuid, char, i64)>)> {
        let mut command = redis::cmd("HSCAN");
        command
            .arg(self.keys(drop_id).holds())
            .arg(cursor)
            .arg("COUNT")
            .arg(count);
        let (next, flat): (u64, Vec<String>) =
            bounded(command.query_async(&mut self.redis.clone())).await?;
        let records = flat
            .chunks_exact(2)
            .filter_map(|pair| {
                let mut fields = pair[1].split('|');
                let expires = fields.next()?.parse().ok()?;
                let state = fields.next()?.chars().next()?;
                Some((pair[0].parse().ok()?, state, expires))
            })
            .collect();
        Ok((next, records))
    }

    /// Of `hold_ids`, those a sale still has as ordered holds (HMGET).
    pub async fn ordered_holds_among(
        &self,
        drop_id: &str,
        hold_ids: &[Uuid],
    ) -> redis::RedisResult<Vec<Uuid>> {
        let fields: Vec<String> = hold_ids.iter().map(Uuid::to_string).collect();
        let values = self
            .redis
            .hash_values(&self.keys(drop_id).holds(), &fields)
            .await?;
        Ok(hold_ids
            .iter()
            .zip(values)
            .filter(|(_, value)| value.as_deref().and_then(|v| v.split('|').nth(1)) == Some("o"))
            .map(|(id, _)| *id)
            .collect())
    }

    /// Log entries after stream id `after` ("0" from the start), at most
    /// `count`: (stream id, version, changes).
    pub async fn log_after(
        &self,
        drop_id: &str,
        after: &str,
        count: usize,
    ) -> redis::RedisResult<Vec<(String, i64, String)>> {
        let mut command = redis::cmd("XRANGE");
        command
            .arg(self.keys(drop_id).log())
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(count);
        let entries: Vec<(String, Vec<(String, String)>)> =
            bounded(command.query_async(&mut self.redis.clone())).await?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let version = field("v").parse().unwrap_or(0);
                (id, version, field("c"))
            })
            .collect())
    }

    /// The id of the log's newest entry ("0" when empty).
    pub async fn log_tail(&self, drop_id: &str) -> redis::RedisResult<String> {
        let mut command = redis::cmd("XREVRANGE");
        command
            .arg(self.keys(drop_id).log())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1);
        let entries: Vec<(String, Vec<(String, String)>)> =
            bounded(command.query_async(&mut self.redis.clone())).await?;
        Ok(entries
            .into_iter()
            .next()
            .map(|(id, _)| id)
            .unwrap_or_else(|| "0".into()))
    }
}
