//! `coffer-bench`: a closed-loop load tool for Coffer (OSS signature V4) and S3-compatible
//! peers (AWS SigV4), plus `coffer-bench sink`, a trivial server that shows the tool's own
//! ceiling.
//!
//! ```text
//! coffer-bench --endpoint http://127.0.0.1:7070 --access-key AK --secret-key SK \
//!     --op put --object-size 4KiB --concurrency 16 --duration 20s --sse aes256
//! coffer-bench --dialect s3 --endpoint http://127.0.0.1:8333 --access-key AK --secret-key SK \
//!     --op get --prepare --object-size 64MiB --concurrency 2 --sse s3 --json
//! coffer-bench sink --listen 127.0.0.1:18080 --get-size 4KiB
//! coffer-bench md5 --json
//! ```

mod client;
mod md5_bound;
mod run;
mod sink;
mod units;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use client::{Dialect, Sse, Target};
use run::{Config, Op};
use units::{Size, parse_duration};

#[derive(Parser, Debug)]
#[command(
    name = "coffer-bench",
    version,
    about = "Load tool for Coffer (OSS V4) and S3-compatible servers (SigV4)",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a trivial HTTP endpoint (200 to everything, bodies discarded) to measure the
    /// tool's own ceiling
    Sink(SinkArgs),
    /// Measure MD5 on one core, over the same crate the server uses for ETags: the
    /// per-byte bound of a single PUT stream
    Md5(Md5Args),
}

#[derive(Args, Debug)]
struct Md5Args {
    /// Bytes hashed per digest, e.g. 64MiB
    #[arg(long, default_value = "64MiB")]
    size: Size,
    /// How long to hash, e.g. 3s
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    duration: Duration,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct SinkArgs {
    /// Address to listen on (loopback)
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
    /// Size of the body answered to GETs
    #[arg(long, default_value = "0")]
    get_size: Size,
    /// Runtime worker threads [default: the number of CPUs]
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Server URL (http only), e.g. http://127.0.0.1:7070
    #[arg(long, default_value = "http://127.0.0.1:7070")]
    endpoint: String,
    /// Request dialect and signature: oss = OSS V4 (Coffer), s3 = AWS SigV4, path-style
    #[arg(long, value_enum, default_value_t = Dialect::Oss)]
    dialect: Dialect,
    /// Access key id to sign with
    #[arg(long, env = "BENCH_ACCESS_KEY", required = true)]
    access_key: Option<String>,
    /// Its secret
    #[arg(
        long,
        env = "BENCH_SECRET_KEY",
        required = true,
        hide_env_values = true
    )]
    secret_key: Option<String>,
    /// Region to sign for [default: cn-hangzhou for oss, us-east-1 for s3]
    #[arg(long)]
    region: Option<String>,
    /// Bucket the objects go to (created by --prepare)
    #[arg(long, default_value = "coffer-bench")]
    bucket: String,
    /// Object size, e.g. 4KiB, 1MiB, 64MiB (KB/MB are powers of ten)
    #[arg(long, default_value = "4KiB")]
    object_size: Size,
    /// Requests in flight (one connection each)
    #[arg(long, short = 'c', default_value_t = 16)]
    concurrency: usize,
    /// How long to measure, e.g. 20s, 1m [default: 10s unless --requests is given]
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many measured requests (with --duration, whichever comes first)
    #[arg(long)]
    requests: Option<u64>,
    /// Run this long before measuring, e.g. 2s (not counted)
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    warmup: Duration,
    /// What each request does
    #[arg(long, value_enum, default_value_t = Op::Put)]
    op: Op,
    /// Share of GETs in --op mixed
    #[arg(long, default_value_t = 0.5)]
    mix_get_ratio: f64,
    /// Server-side encryption requested on PUT (kms, sm4, kms-sm4: oss only; s3: s3 only)
    #[arg(long, value_enum, default_value_t = Sse::None)]
    sse: Sse,
    /// Create the bucket and (for get and mixed) upload the --keys objects before measuring
    #[arg(long)]
    prepare: bool,
    /// Objects the workload cycles through; PUTs overwrite them [default: 2 x concurrency,
    /// or more up to 1000 while they total at most 256 MiB]
    #[arg(long)]
    keys: Option<u64>,
    /// Key prefix [default: bench-<object size>/]
    #[arg(long)]
    prefix: Option<String>,
    /// Also report this local process's CPU time over the measured window (the server's
    /// pid; Linux only)
    #[arg(long)]
    server_pid: Option<u32>,
    /// Per-request timeout
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    timeout: Duration,
    /// Runtime worker threads [default: the number of CPUs]
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON object instead of text (also hides the progress bar)
    #[arg(long)]
    json: bool,
}

fn default_keys(object_size: u64, concurrency: usize) -> u64 {
    let budget = (256u64 << 20) / object_size.max(1);
    (2 * concurrency as u64).max(budget.min(1000)).max(1)
}

fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n.max(1));
    }
    builder.enable_all().build()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Sink(args)) => runtime(args.threads)
            .and_then(|rt| rt.block_on(sink::serve(args.listen, args.get_size.0)))
            .map_err(|e| format!("sink: {e}")),
        Some(Command::Md5(args)) => {
            md5_bound::run(args.size.0, args.duration, args.json);
            Ok(())
        }
        None => runtime(cli.run.threads)
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(bench(cli.run))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("coffer-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: RunArgs) -> Result<(), String> {
    if !(0.0..=1.0).contains(&args.mix_get_ratio) {
        return Err("--mix-get-ratio must be between 0 and 1".into());
    }
    let region = args.region.clone().unwrap_or_else(|| {
        match args.dialect {
            Dialect::Oss => "cn-hangzhou",
            Dialect::S3 => "us-east-1",
        }
        .to_owned()
    });
    let concurrency = args.concurrency.max(1);
    let target = Target::new(
        &args.endpoint,
        args.dialect,
        &args.bucket,
        args.access_key.as_deref().unwrap_or_default(),
        args.secret_key.as_deref().unwrap_or_default(),
        &region,
        args.sse,
        concurrency,
        args.timeout,
    )?;
    let duration = match (args.duration, args.requests) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    let cfg = Config {
        op: args.op,
        mix_get_ratio: args.mix_get_ratio,
        object_size: args.object_size.0,
        concurrency,
        duration,
        requests: args.requests,
        warmup: args.warmup,
        keys: args
            .keys
            .unwrap_or_else(|| default_keys(args.object_size.0, concurrency))
            .max(1),
        prefix: args
            .prefix
            .clone()
            .unwrap_or_else(|| format!("bench-{}/", args.object_size)),
        progress: !args.json,
        server_pid: args.server_pid,
    };
    let payload = run::payload(cfg.object_size);
    let target = if args.prepare {
        run::prepare(target, &cfg, payload.clone())
            .await
            .map_err(|e| format!("prepare: {e}"))?
    } else {
        target
    };
    let report = run::run(target, cfg, payload).await?;
    let sse = args.sse.to_possible_value().expect("no skipped values");
    if args.json {
        let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        if let Some(map) = value.as_object_mut() {
            map.insert("endpoint".into(), args.endpoint.clone().into());
            map.insert(
                "dialect".into(),
                serde_json::to_value(args.dialect).unwrap_or_default(),
            );
            map.insert("sse".into(), sse.get_name().into());
            map.insert(
                "object_size_text".into(),
                args.object_size.to_string().into(),
            );
        }
        println!("{value}");
    } else {
        let op = args.op.to_possible_value().expect("no skipped values");
        let heading = format!(
            "{} {} x{} against {} ({}, sse {})",
            op.get_name().to_uppercase(),
            args.object_size,
            report.concurrency,
            args.endpoint,
            args.dialect
                .to_possible_value()
                .expect("no skipped values")
                .get_name(),
            sse.get_name(),
        );
        println!("{}", run::render(&report, &heading));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn sink_needs_no_credentials() {
        let cli = Cli::try_parse_from(["coffer-bench", "sink", "--listen", "127.0.0.1:1"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Sink(_))));
        // Without the subcommand the keys are required (unless in the environment).
        if std::env::var_os("BENCH_ACCESS_KEY").is_none() {
            assert!(Cli::try_parse_from(["coffer-bench", "--op", "get"]).is_err());
        }
    }

    #[test]
    fn default_key_counts() {
        assert_eq!(default_keys(4096, 16), 1000);
        assert_eq!(default_keys(1 << 20, 8), 256);
        assert_eq!(default_keys(64 << 20, 2), 4);
    }

    async fn sink_addr(get_size: u64) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(sink::serve_on(listener, get_size));
        addr
    }

    fn config(op: Op, object_size: u64, requests: u64) -> Config {
        Config {
            op,
            mix_get_ratio: 0.5,
            object_size,
            concurrency: 4,
            duration: None,
            requests: Some(requests),
            warmup: Duration::ZERO,
            keys: 8,
            prefix: "t/".into(),
            progress: false,
            server_pid: None,
        }
    }

    /// End to end against the sink, both dialects: every request succeeds and the byte
    /// counts match.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workloads_against_the_sink() {
        let addr = sink_addr(1000).await;
        for dialect in [Dialect::Oss, Dialect::S3] {
            let target = || {
                Target::new(
                    &format!("http://{addr}"),
                    dialect,
                    "b",
                    "ak",
                    "sk",
                    "r",
                    Sse::Aes256,
                    4,
                    Duration::from_secs(10),
                )
                .unwrap()
            };
            let put = run::run(target(), config(Op::Put, 3000, 200), run::payload(3000))
                .await
                .unwrap();
            assert_eq!((put.ops, put.puts, put.errors), (200, 200, 0));
            assert!((put.mb_per_sec - 200.0 * 3000.0 / put.seconds / 1e6).abs() < 1e-6);
            assert_eq!(put.server_cpu_percent, None, "no --server-pid, no figure");

            // The sink runs in this process, so its CPU time is ours.
            let watched = Config {
                server_pid: Some(std::process::id()),
                ..config(Op::Put, 3000, 200)
            };
            let put = run::run(target(), watched, run::payload(3000))
                .await
                .unwrap();
            let per_op = put.server_cpu_ms_per_op.unwrap();
            assert!(put.server_cpu_percent.unwrap() >= 0.0 && per_op >= 0.0);

            let cfg = config(Op::Get, 1000, 100);
            let prepared = run::prepare(target(), &cfg, run::payload(1000))
                .await
                .unwrap();
            let get = run::run(prepared, cfg, run::payload(1000)).await.unwrap();
            assert_eq!((get.gets, get.errors), (100, 0));
            assert!(get.latency_ms.p50 > 0.0 && get.latency_ms.p999 >= get.latency_ms.p50);

            let mixed = run::run(target(), config(Op::Mixed, 10, 400), run::payload(10))
                .await
                .unwrap();
            assert_eq!(mixed.gets + mixed.puts, 400);
            assert!(mixed.gets > 100 && mixed.puts > 100);
        }
    }

    #[tokio::test]
    async fn errors_are_counted_and_sampled() {
        // A closed port: every request fails to connect.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let target = Target::new(
            &format!("http://{addr}"),
            Dialect::Oss,
            "b",
            "ak",
            "sk",
            "r",
            Sse::None,
            1,
            Duration::from_secs(5),
        )
        .unwrap();
        let report = run::run(
            target,
            Config {
                duration: Some(Duration::from_millis(200)),
                requests: None,
                ..config(Op::Put, 10, 0)
            },
            run::payload(10),
        )
        .await
        .unwrap();
        assert_eq!(report.ops, 0);
        assert!(report.errors > 0);
        assert!(!report.error_samples.is_empty() && report.error_samples.len() <= 5);
        assert!(
            report.error_samples[0].starts_with("PUT t/obj-"),
            "{:?}",
            report.error_samples
        );
    }
}
