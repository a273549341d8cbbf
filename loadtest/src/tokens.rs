//! Admission tokens minted by the load generator itself, with the signing
//! key the sale service trusts, so an order-path run measures the sale
//! service and not the queue. Every buyer is a distinct user with a token
//! of its own, used for at most the drop's cap of orders, as in a real rush
//! (so a cache keyed by token cannot serve more than that from one
//! verification). Tokens are minted before any measured window.

use admission::keys::AdmissionKeyPair;
use admission::token::{AdmissionClaims, AdmissionSigner, MacKey};
use anyhow::Context;
use std::path::PathBuf;

/// How long a minted token stays valid, seconds (longer than any run).
pub const TTL_SECS: u64 = 3600;

/// Signs admission tokens with one key.
pub struct Minter {
    signer: AdmissionSigner,
    now: u64,
}

/// The keys tokens are minted with: flags shared by every subcommand that
/// mints.
#[derive(clap::Args, Clone)]
pub struct MintKeys {
    /// Admission signing key (PKCS#8 PEM) trusted by the sale service.
    #[arg(long, env = "ADMISSION_KEY")]
    pub key: PathBuf,
    /// The admission MAC key the queue and the sale share (when the
    /// deployment sets one): the tokens then carry the MAC the sale checks
    /// instead of the signature, as the queue's do.
    #[arg(long, env = "ADMISSION_MAC_KEY", hide_env_values = true)]
    pub mac_key: Option<String>,
}

impl Minter {
    /// Loads the admission signing key (PKCS#8 PEM) and the MAC key.
    pub fn load(keys: &MintKeys) -> anyhow::Result<Self> {
        let pair = AdmissionKeyPair::load(&keys.key)
            .with_context(|| format!("loading the admission key {}", keys.key.display()))?;
        let mac = keys.mac_key.as_deref().map(MacKey::new).transpose()?;
        Ok(Self {
            signer: AdmissionSigner::new(&pair)?.with_mac(mac),
            now: admission::unix_now(),
        })
    }

    /// A token admitting `user` to `drop`.
    pub fn mint(&self, user: &str, drop: &str) -> anyhow::Result<String> {
        self.signer
            .sign(&AdmissionClaims::new(user, drop, self.now, TTL_SECS))
    }

    /// `count` buyers of `drop`, users `<prefix>-0` …, each with its token.
    pub fn buyers(&self, drop: &str, prefix: &str, count: usize) -> anyhow::Result<Vec<Buyer>> {
        (0..count)
            .map(|n| {
                let user = format!("{prefix}-{n}");
                let token = self.mint(&user, drop)?;
                Ok(Buyer { user, token })
            })
            .collect()
    }
}

/// A distinct user with its own admission token.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub user: String,
    pub token: String,
}

impl Buyer {
    /// The Idempotency-Key of this buyer's `k`-th order: unique per request.
    pub fn order_key(&self, k: u32) -> String {
        format!("{}-{k}", self.user)
    }
}

/// `loadtest tokens` flags: buyers' tokens written to a file, one a line,
/// for an independent client such as `loadtest/wrk/orders.lua`.
#[derive(clap::Args)]
pub struct Args {
    /// How many buyers (one token each).
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,
    /// The file to write, one token per line.
    #[arg(long, default_value = "tokens.txt")]
    pub out: PathBuf,
    #[command(flatten)]
    pub keys: MintKeys,
    /// An existing drop to mint for; without it a drop with ample stock is
    /// created on `--sale` with `--operator-key` (and its id printed).
    #[arg(long)]
    pub drop: Option<String>,
    /// Base URL of the sale service (to create the drop).
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale: String,
    /// Operator API key (to create the drop).
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: Option<String>,
    /// The created drop's cap per user: the most orders (of one unit) each
    /// buyer may place with its token.
    #[arg(long, default_value_t = 2)]
    pub per_user_cap: u32,
}

/// Runs `loadtest tokens`: mints the buyers, writes their tokens, prints
/// the drop and a `wrk` command line that uses them.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let minter = Minter::load(&args.keys)?;
    let drop = match (&args.drop, &args.operator_key) {
        (Some(drop), _) => drop.clone(),
        (None, Some(operator_key)) => {
            let http = crate::sale_api::client(1)?;
            crate::sale_api::create_load_drop(&http, &args.sale, operator_key, args.per_user_cap)
                .await?
        }
        (None, None) => anyhow::bail!("give --drop, or --operator-key to create one"),
    };
    let buyers = minter.buyers(&drop, "wrk-buyer", args.count)?;
    let mut lines = String::with_capacity(buyers.len() * 300);
    for buyer in &buyers {
        lines.push_str(&buyer.token);
        lines.push('\n');
    }
    std::fs::write(&args.out, lines).with_context(|| format!("writing {}", args.out.display()))?;
    println!("drop: {drop}");
    println!(
        "tokens: {} buyers, one token a line, in {}",
        buyers.len(),
        args.out.display()
    );
    println!(
        "wrk -t2 -c200 -d10s -s loadtest/wrk/orders.lua {} -- {} {drop} 2 {}",
        args.sale,
        args.out.display(),
        args.per_user_cap
    );
    Ok(())
}
