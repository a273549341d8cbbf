//! A Lua script call written straight into one command,
//! `EVALSHA <sha1> <numkeys> <keys…> <args…>`.
//!
//! The `redis` crate's `ScriptInvocation` first copies every key and
//! argument into a `Vec` of its own (two allocations each) and then into
//! the command: for the order path's seven keys and seven arguments that
//! was a quarter of an order's allocations in the sale. Here each is
//! written once, into the command's one buffer. As the crate does, a
//! `NOSCRIPT` answer (a Redis restarted or failed over since the script was
//! loaded) loads the script and sends the call once more; on a Redis
//! Cluster the call goes to the master of the first key's slot.

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, RedisWrite, Script, ToRedisArgs};

/// Room made for a call's arguments: how many, and their bytes together.
const ARGS_EXPECTED: usize = 8;
const ARGS_BYTES_EXPECTED: usize = 192;

/// One call of a script, its keys and arguments written as they are given.
pub struct ScriptCall<'a> {
    script: &'a Script,
    cmd: Cmd,
}

impl<'a> ScriptCall<'a> {
    /// A call of `script` on `keys` (every key it touches: Redis Cluster
    /// needs them in one slot and routes by the first).
    pub fn new(script: &'a Script, keys: &[&str]) -> Self {
        // Sized once for the keys and a few short arguments, so writing
        // them does not grow the buffer again and again.
        let keys_bytes: usize = keys.iter().map(|key| key.len()).sum();
        let mut cmd = Cmd::with_capacity(
            3 + keys.len() + ARGS_EXPECTED,
            "EVALSHA".len() + 40 + 4 + keys_bytes + ARGS_BYTES_EXPECTED,
        );
        cmd.arg("EVALSHA")
            .arg(script.get_hash())
            .arg(keys.len())
            .arg(keys);
        Self { script, cmd }
    }

    /// Appends one argument (`ARGV[n]`, in call order).
    pub fn arg(mut self, arg: impl ToRedisArgs) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// Appends one argument written by its `Display` (a UUID, a number's
    /// text), straight into the command: no string of it is made first.
    pub fn arg_display(mut self, arg: impl std::fmt::Display) -> Self {
        self.cmd.write_arg_fmt(arg);
        self
    }

    /// Runs the call; after `NOSCRIPT`, loads the script and runs it again.
    pub async fn invoke<T: FromRedisValue>(
        &self,
        connection: &mut impl ConnectionLike,
    ) -> RedisResult<T> {
        match self.cmd.query_async(connection).await {
            Err(error) if error.kind() == ErrorKind::NoScriptError => {
                self.script.load_async(connection).await?;
                self.cmd.query_async(connection).await
            }
            answered => answered,
        }
    }
}
