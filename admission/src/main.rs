//! `admission`: operator tools for admission tokens.
//!
//! - `keygen --out DIR`: writes `admission-key.pem` (private, keep secret) and
//!   `admission-jwks.json` (public, give to `sale`), or adds the new public key to
//!   an existing JWKS there, so rotation keeps the old keys valid.
//! - `mint --key FILE --user U --drop D --ttl S`: prints a signed admission token.

use admission::keys::{AdmissionKeyPair, Jwks};
use admission::token::{AdmissionClaims, AdmissionSigner, MacKey};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "admission", about = "Lineup admission-token tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an Ed25519 key pair for signing admission tokens.
    Keygen {
        /// Directory to write admission-key.pem and admission-jwks.json into.
        #[arg(long, env = "ADMISSION_KEY_DIR", default_value = ".")]
        out: PathBuf,
        /// Replace an existing private key (the old public key stays in the JWKS).
        #[arg(long)]
        force: bool,
    },
    /// Print a signed admission token.
    Mint {
        /// The PKCS#8 PEM private key.
        #[arg(long, env = "ADMISSION_KEY")]
        key: PathBuf,
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// The drop id.
        #[arg(long)]
        drop: String,
        /// Validity in seconds.
        #[arg(long, default_value_t = 600)]
        ttl: u64,
        /// The admission MAC key the queue and the sale share, if the
        /// deployment sets one (the token then carries the MAC, as the
        /// queue's do; without it the sale checks the signature).
        #[arg(long, env = "ADMISSION_MAC_KEY", hide_env_values = true)]
        mac_key: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Keygen { out, force } => keygen(out, force),
        Command::Mint {
            key,
            user,
            drop,
            ttl,
            mac_key,
        } => {
            let key = AdmissionKeyPair::load(&key)?;
            let mac = mac_key.as_deref().map(MacKey::new).transpose()?;
            let claims = AdmissionClaims::new(&user, &drop, admission::unix_now(), ttl);
            println!(
                "{}",
                AdmissionSigner::new(&key)?.with_mac(mac).sign(&claims)?
            );
            Ok(())
        }
    }
}

fn keygen(out: PathBuf, force: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let key_path = out.join("admission-key.pem");
    let jwks_path = out.join("admission-jwks.json");
    if key_path.exists() && !force {
        anyhow::bail!("{} exists; pass --force to rotate", key_path.display());
    }
    let key = AdmissionKeyPair::generate();
    let mut jwks = if jwks_path.exists() {
        Jwks::load(&jwks_path)?
    } else {
        Jwks::default()
    };
    jwks.keys.retain(|k| k.kid != key.kid());
    jwks.keys.push(key.public_jwk());
    write_private(&key_path, &key.to_pem()?)?;
    std::fs::write(&jwks_path, serde_json::to_string_pretty(&jwks)?)
        .with_context(|| format!("writing {}", jwks_path.display()))?;
    println!("kid {}", key.kid());
    println!("private key {}", key_path.display());
    println!("public JWKS {}", jwks_path.display());
    Ok(())
}

fn write_private(path: &std::path::Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    Ok(())
}
