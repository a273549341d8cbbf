//! `loadtest orders`: the order path's capacity against a running sale
//! service. Creates a drop with ample stock, mints admission tokens up front,
//! then either `--concurrency` buyers order as fast as they are answered
//! for `--seconds` (closed loop), or `--rate` orders a second are offered at
//! a constant pace (open loop, latency counted from each order's scheduled
//! time, so a slow server cannot hide queueing).

use crate::sale_api;
use crate::tally::Tally;
use crate::tokens::Minter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `loadtest orders` flags.
#[derive(clap::Args)]
pub struct Args {
    /// Base URL of the sale service.
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale: String,
    /// Operator API key (to create the test drop).
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: String,
    /// Admission signing key (PKCS#8 PEM) trusted by the sale service.
    #[arg(long, env = "ADMISSION_KEY")]
    pub key: PathBuf,
    /// Concurrent buyers.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Open loop: offer this many orders per second at a constant pace
    /// (latency counted from each order's scheduled time, so a slow
    /// server cannot hide queueing), instead of `--concurrency` buyers
    /// ordering as fast as they are answered.
    #[arg(long)]
    pub rate: Option<u32>,
}

/// Runs `loadtest orders`.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let run = Duration::from_secs(args.seconds);
    match args.rate {
        Some(rate) => open_loop(&args.sale, &args.operator_key, &args.key, rate, run).await?,
        None => {
            closed_loop(
                &args.sale,
                &args.operator_key,
                &args.key,
                args.concurrency,
                run,
            )
            .await?
        }
    };
    Ok(())
}

/// Offers `rate` orders per second for `run`, each from a fresh user, and
/// reports latency from each order's scheduled send time; returns the
/// acknowledged orders per second.
pub async fn open_loop(
    sale: &str,
    operator_key: &str,
    key: &Path,
    rate: u32,
    run: Duration,
) -> anyhow::Result<f64> {
    let minter = Minter::load(key)?;
    let http = sale_api::client(2048)?;
    let drop = sale_api::create_load_drop(&http, sale, operator_key, 2).await?;
    let total = (u64::from(rate.max(1)) * run.as_secs().max(1)) as usize;
    let tokens: Vec<String> = (0..total)
        .map(|n| minter.mint(&format!("open-{n}"), &drop))
        .collect::<anyhow::Result<_>>()?;
    let tally = Tally::new()?;
    let url = format!("{sale}/api/drops/{drop}/orders");
    let started = tokio::time::Instant::now();
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut inflight = Vec::with_capacity(total);
    for (n, token) in tokens.into_iter().enumerate() {
        let scheduled = started + gap * n as u32;
        tokio::time::sleep_until(scheduled).await;
        let (http, tally, url) = (http.clone(), tally.clone(), url.clone());
        inflight.push(tokio::spawn(async move {
            let response = http
                .post(&url)
                .bearer_auth(token)
                .header("idempotency-key", "open")
                .header("content-type", "application/json")
                .body(r#"{"quantity":1}"#)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            tally.record(
                response.is_ok_and(|r| r.status() == 201),
                scheduled.into_std(),
            );
        }));
    }
    for task in inflight {
        task.await?;
    }
    Ok(tally.report(
        &format!("orders offered at {rate}/s (open loop)"),
        started.elapsed(),
    ))
}

/// `concurrency` buyers order as fast as they are answered for `run`;
/// returns the acknowledged orders per second.
pub async fn closed_loop(
    sale: &str,
    operator_key: &str,
    key: &Path,
    concurrency: usize,
    run: Duration,
) -> anyhow::Result<f64> {
    let minter = Minter::load(key)?;
    let http = sale_api::client(concurrency)?;
    let drop = sale_api::create_load_drop(&http, sale, operator_key, 2).await?;
    // Tokens minted up front: one user per order, so the cap never refuses.
    let per_worker = 200_000 / concurrency.max(1);
    let mut token_sets = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let tokens: Vec<String> = (0..per_worker)
            .map(|n| minter.mint(&format!("w{w}-{n}"), &drop))
            .collect::<anyhow::Result<_>>()?;
        token_sets.push(tokens);
    }
    let tally = Tally::new()?;
    let deadline = Instant::now() + run;
    let started = Instant::now();
    let mut workers = Vec::new();
    for tokens in token_sets {
        let (http, tally, url) = (
            http.clone(),
            tally.clone(),
            format!("{sale}/api/drops/{drop}/orders"),
        );
        workers.push(tokio::spawn(async move {
            for token in tokens {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .bearer_auth(token)
                    .header("idempotency-key", "load")
                    .header("content-type", "application/json")
                    .body(r#"{"quantity":1}"#)
                    .send()
                    .await;
                tally.record(response.is_ok_and(|r| r.status() == 201), sent);
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    Ok(tally.report(
        &format!("orders ({concurrency} concurrent buyers)"),
        started.elapsed(),
    ))
}
