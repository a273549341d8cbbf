//! Loading a drop into Redis from PostgreSQL's record (`load_drop.lua`):
//! create, settings sync, rebuild; a drop with stock buckets loads every
//! bucket first, then its own hash (see `super::buckets` (e)).

use super::buckets::{bucket_of, share};
use super::{bounded, DropGateState, GateKeys, Holding, SlotLoad, StockGate};
use std::sync::LazyLock;

static LOAD_DROP: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/load_drop.lua")));

impl StockGate {
    async fn load(
        &self,
        drop_id: &str,
        mode: &str,
        drop: &DropGateState,
        holdings: &[Holding],
    ) -> redis::RedisResult<bool> {
        if drop.buckets > 1 {
            return self.load_bucketed(drop_id, mode, drop, holdings).await;
        }
        let part = SlotLoad {
            stock: drop.stock,
            sold: holdings.iter().map(|h| i64::from(h.quantity)).sum(),
            moved: 0,
            buckets: 1,
        };
        let wrote = self
            .load_slot(&self.keys(drop_id), mode, drop, &part, holdings)
            .await?;
        self.remember_buckets(drop_id, 1);
        Ok(wrote)
    }

    /// One `load_drop.lua` call: the settings of `drop` with the stock,
    /// sold, moved and bucket count of `part`, into `slot`'s keys.
    pub(crate) async fn load_slot(
        &self,
        slot: &GateKeys,
        mode: &str,
        drop: &DropGateState,
        part: &SlotLoad,
        holdings: &[Holding],
    ) -> redis::RedisResult<bool> {
        let mut invocation = LOAD_DROP.prepare_invoke();
        invocation
            .key(slot.drop())
            .key(slot.held())
            .key(slot.reservations())
            .key(slot.lent())
            .key(slot.credited())
            .arg(mode);
        drop.arg_terms(part.stock, &mut invocation);
        invocation
            .arg(part.sold)
            .arg(drop.epoch)
            .arg(if drop.seated { "1" } else { "0" })
            .arg(drop.hold_ms)
            .arg(part.moved)
            .arg(part.buckets);
        for holding in holdings {
            invocation
                .arg(holding.order_id.to_string())
                .arg(&holding.user_id)
                .arg(holding.quantity);
        }
        let wrote: i64 = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(wrote == 1)
    }

    /// Loads a new drop (no holdings yet). No-op when already loaded.
    pub async fn create(&self, drop_id: &str, drop: &DropGateState) -> redis::RedisResult<bool> {
        self.load(drop_id, "create", drop, &[]).await
    }

    /// Updates the settings of a loaded drop; stock only ever rises here.
    pub async fn sync(&self, drop_id: &str, drop: &DropGateState) -> redis::RedisResult<bool> {
        self.load(drop_id, "sync", drop, &[]).await
    }

    /// Rebuilds a drop missing from Redis from PostgreSQL's holdings. Exactly one
    /// of several racing callers writes; the others find it loaded.
    pub async fn rebuild(
        &self,
        drop_id: &str,
        drop: &DropGateState,
        holdings: &[Holding],
    ) -> redis::RedisResult<bool> {
        self.load(drop_id, "rebuild", drop, holdings).await
    }

    /// Loads every bucket of a drop, then the drop's own hash (so a loaded
    /// drop hash means loaded buckets). A rebuild gives each bucket its
    /// users' holdings and spreads the units left evenly (see (e)).
    pub(super) async fn load_bucketed(
        &self,
        drop_id: &str,
        mode: &str,
        drop: &DropGateState,
        holdings: &[Holding],
    ) -> redis::RedisResult<bool> {
        let k = drop.buckets;
        let sold_all: i64 = holdings.iter().map(|h| i64::from(h.quantity)).sum();
        let left = (drop.stock - sold_all).max(0);
        let mut wrote = false;
        for b in 0..k {
            let mine: Vec<Holding> = holdings
                .iter()
                .filter(|h| bucket_of(&h.user_id, k) == b)
                .cloned()
                .collect();
            let sold: i64 = mine.iter().map(|h| i64::from(h.quantity)).sum();
            let stock = share(drop.stock, k, b);
            let part = SlotLoad {
                stock,
                sold,
                moved: if mode == "rebuild" {
                    sold + share(left, k, b) - stock
                } else {
                    0
                },
                buckets: 1,
            };
            wrote |= self
                .load_slot(&self.bucket_keys(drop_id, b), mode, drop, &part, &mine)
                .await?;
        }
        let own = SlotLoad {
            stock: drop.stock,
            sold: sold_all,
            moved: 0,
            buckets: k,
        };
        wrote |= self
            .load_slot(&self.keys(drop_id), mode, drop, &own, &[])
            .await?;
        self.remember_buckets(drop_id, k);
        Ok(wrote)
    }
}
