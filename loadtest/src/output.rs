//! Where a run's figures go besides the printed lines: a JSON file in the
//! run's `--out` directory (`orders.json`, `baseline.json`, `sockets.json`;
//! a rush writes its own report there).

use serde::Serialize;
use std::path::Path;

/// Writes `value` as pretty JSON to `<out>/<name>`.
pub fn write_json(out: &Path, name: &str, value: &impl Serialize) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let path = out.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value)?)?;
    println!("written: {}", path.display());
    Ok(())
}
