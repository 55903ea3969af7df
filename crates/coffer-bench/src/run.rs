//! The closed-loop workload: `concurrency` tasks each send one request at a time until the
//! duration or request budget runs out. Each task keeps its own histogram (no shared lock
//! on the hot path); they are merged at the end.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::ValueEnum;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::client::{Outcome, Target, describe};

/// How many error messages a report keeps.
const ERROR_SAMPLES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Put,
    Get,
    /// GETs with probability --mix-get-ratio, PUTs otherwise
    Mixed,
}

pub struct Config {
    pub op: Op,
    pub mix_get_ratio: f64,
    pub object_size: u64,
    pub concurrency: usize,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub warmup: Duration,
    pub keys: u64,
    pub prefix: String,
    pub progress: bool,
    /// The server's process, when it runs on this machine: its CPU time over the measured
    /// window is reported, a figure that a busy machine disturbs far less than throughput.
    pub server_pid: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub op: Op,
    pub object_size: u64,
    pub concurrency: usize,
    /// Length of the measured window (after the warm-up), in seconds.
    pub seconds: f64,
    /// Successful requests in the window.
    pub ops: u64,
    pub gets: u64,
    pub puts: u64,
    pub ops_per_sec: f64,
    /// Payload bytes moved (sent for PUT, received for GET), 10^6 bytes per second.
    pub mb_per_sec: f64,
    pub mib_per_sec: f64,
    /// Successful requests' latency to the last response byte, milliseconds.
    pub latency_ms: Latency,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// CPU time this process used over the whole run (warm-up included) as a percentage of
    /// one core: what the tool itself costs. Linux only.
    pub tool_cpu_percent: Option<f64>,
    /// The server's CPU time (user + system) over the measured window, as a percentage
    /// of one core and per successful request. With `--server-pid`; Linux only.
    pub server_cpu_percent: Option<f64>,
    pub server_cpu_ms_per_op: Option<f64>,
}

struct Shared {
    target: Target,
    payload: Bytes,
    cfg: Config,
    start: Instant,
    measure_from: Instant,
    deadline: Option<Instant>,
    seq: AtomicU64,
    issued: AtomicU64,
    ops: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Shared {
    fn record_error(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < ERROR_SAMPLES {
            samples.push(message);
        }
    }
}

struct WorkerStats {
    histogram: Histogram<u64>,
    gets: u64,
    puts: u64,
    bytes: u64,
}

fn new_histogram() -> Histogram<u64> {
    // Microseconds from 1 µs to 1 hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// A payload of `size` pseudo-random bytes, made once and shared by every request.
pub fn payload(size: u64) -> Bytes {
    let mut data = vec![0u8; usize::try_from(size).expect("object size fits in memory")];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for chunk in data.chunks_mut(8) {
        let v = rng.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    Bytes::from(data)
}

/// A tiny per-task generator for the GET/PUT mix; quality does not matter here.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn key_name(prefix: &str, index: u64) -> String {
    format!("{prefix}obj-{index}")
}

fn progress_bar(show: bool, len: u64, template: &str) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds_of("/proc/self/stat")
}

/// CPU seconds (user + system) that the process whose `/proc/<pid>/stat` this is has used.
fn cpu_seconds_of(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // /proc reports clock ticks of USER_HZ, which is 100 on Linux.
    Some((utime + stime) as f64 / 100.0)
}

/// Creates the bucket and, unless the workload only PUTs, uploads keys `0..keys` so GETs
/// find them.
pub async fn prepare(target: Target, cfg: &Config, payload: Bytes) -> Result<Target, String> {
    target.create_bucket().await?;
    if cfg.op == Op::Put {
        return Ok(target);
    }
    let target = Arc::new(target);
    let next = Arc::new(AtomicU64::new(0));
    let bar = progress_bar(
        cfg.progress,
        cfg.keys,
        "prepare {bar:30} {pos}/{len} objects {elapsed}",
    );
    let mut tasks = Vec::new();
    for _ in 0..cfg.concurrency.min(cfg.keys as usize).max(1) {
        let (target, next, payload, bar) =
            (target.clone(), next.clone(), payload.clone(), bar.clone());
        let (keys, prefix) = (cfg.keys, cfg.prefix.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= keys {
                    return Ok(());
                }
                let key = key_name(&prefix, i);
                let outcome = target.put_object(&key, payload.clone()).await?;
                if !outcome.status.is_success() {
                    return Err(describe("PUT", &key, &outcome));
                }
                bar.inc(1);
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    bar.finish_and_clear();
    Arc::try_unwrap(target).map_err(|_| "prepare tasks still hold the client".to_owned())
}

/// Runs the workload and reports on the measured window.
pub async fn run(target: Target, cfg: Config, payload: Bytes) -> Result<Report, String> {
    let cpu_at_start = process_cpu_seconds();
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let deadline = cfg.duration.map(|d| measure_from + d);
    let concurrency = cfg.concurrency.max(1);
    let server_stat = cfg.server_pid.map(|pid| format!("/proc/{pid}/stat"));
    // Read when the warm-up ends, so the figure covers the same window as the rates.
    let server_cpu_at_window = server_stat.clone().map(|path| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            cpu_seconds_of(&path)
        })
    });
    let shared = Arc::new(Shared {
        target,
        payload,
        start,
        measure_from,
        deadline,
        seq: AtomicU64::new(0),
        issued: AtomicU64::new(0),
        ops: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        samples: Mutex::new(Vec::new()),
        cfg,
    });

    let (bar_len, template) = match (shared.cfg.duration, shared.cfg.requests) {
        (Some(d), _) => (
            (shared.cfg.warmup + d).as_millis() as u64,
            "{elapsed:>4} {bar:30} {msg}",
        ),
        (None, Some(n)) => (n, "{elapsed:>4} {bar:30} {pos}/{len} {msg}"),
        (None, None) => (0, "{elapsed:>4} {msg}"),
    };
    let bar = progress_bar(shared.cfg.progress, bar_len, template);
    let ticker = {
        let (shared, bar) = (shared.clone(), bar.clone());
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(250));
            loop {
                interval.tick().await;
                let now = Instant::now();
                let ops = shared.ops.load(Ordering::Relaxed);
                let bytes = shared.bytes.load(Ordering::Relaxed);
                let secs = now
                    .saturating_duration_since(shared.measure_from)
                    .as_secs_f64();
                let phase = if now < shared.measure_from {
                    "warm-up "
                } else {
                    ""
                };
                let (rate, mbps) = if secs > 0.0 {
                    (ops as f64 / secs, bytes as f64 / secs / 1e6)
                } else {
                    (0.0, 0.0)
                };
                bar.set_message(format!(
                    "{phase}{ops} ops  {rate:.0} ops/s  {mbps:.1} MB/s  {} errors",
                    shared.errors.load(Ordering::Relaxed)
                ));
                match shared.cfg.duration {
                    Some(_) => {
                        bar.set_position(now.duration_since(shared.start).as_millis() as u64)
                    }
                    None => bar.set_position(ops),
                }
            }
        })
    };

    let mut workers = Vec::with_capacity(concurrency);
    for id in 0..concurrency {
        let shared = shared.clone();
        workers.push(tokio::spawn(
            async move { worker(&shared, id as u64).await },
        ));
    }
    let mut histogram = new_histogram();
    let (mut gets, mut puts, mut bytes) = (0, 0, 0);
    for w in workers {
        let stats = w.await.map_err(|e| e.to_string())?;
        histogram
            .add(&stats.histogram)
            .map_err(|e| format!("merging histograms: {e:?}"))?;
        gets += stats.gets;
        puts += stats.puts;
        bytes += stats.bytes;
    }
    let seconds = Instant::now()
        .saturating_duration_since(shared.measure_from)
        .as_secs_f64()
        .max(1e-9);
    let tool_cpu_percent = match (cpu_at_start, process_cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a) / start.elapsed().as_secs_f64().max(1e-9) * 100.0),
        _ => None,
    };
    let server_cpu_seconds = match (server_cpu_at_window, server_stat) {
        (Some(at_window), Some(path)) => {
            match (at_window.await.ok().flatten(), cpu_seconds_of(&path)) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            }
        }
        _ => None,
    };
    ticker.abort();
    bar.finish_and_clear();

    let ops = gets + puts;
    let ms = |us: u64| us as f64 / 1000.0;
    let samples = shared
        .samples
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(Report {
        op: shared.cfg.op,
        object_size: shared.cfg.object_size,
        concurrency,
        seconds,
        ops,
        gets,
        puts,
        ops_per_sec: ops as f64 / seconds,
        mb_per_sec: bytes as f64 / seconds / 1e6,
        mib_per_sec: bytes as f64 / seconds / (1u64 << 20) as f64,
        latency_ms: Latency {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
        },
        errors: shared.errors.load(Ordering::Relaxed),
        error_samples: samples,
        tool_cpu_percent,
        server_cpu_percent: server_cpu_seconds.map(|cpu| cpu / seconds * 100.0),
        server_cpu_ms_per_op: server_cpu_seconds
            .filter(|_| ops > 0)
            .map(|cpu| cpu * 1000.0 / ops as f64),
    })
}

async fn worker(shared: &Shared, id: u64) -> WorkerStats {
    let cfg = &shared.cfg;
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D ^ (id + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut stats = WorkerStats {
        histogram: new_histogram(),
        gets: 0,
        puts: 0,
        bytes: 0,
    };
    loop {
        let started = Instant::now();
        if shared.deadline.is_some_and(|d| started >= d) {
            break;
        }
        let measured = started >= shared.measure_from;
        if measured
            && let Some(limit) = cfg.requests
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= limit
        {
            break;
        }
        let is_get = match cfg.op {
            Op::Get => true,
            Op::Put => false,
            Op::Mixed => rng.unit() < cfg.mix_get_ratio,
        };
        let n = shared.seq.fetch_add(1, Ordering::Relaxed);
        let key = key_name(&cfg.prefix, n % cfg.keys.max(1));
        let (op, result) = if is_get {
            ("GET", shared.target.get_object(&key).await)
        } else {
            (
                "PUT",
                shared.target.put_object(&key, shared.payload.clone()).await,
            )
        };
        let elapsed = started.elapsed();
        match result {
            Ok(Outcome {
                status, received, ..
            }) if status.is_success() => {
                if measured {
                    let moved = if is_get { received } else { cfg.object_size };
                    stats
                        .histogram
                        .saturating_record(elapsed.as_micros().max(1) as u64);
                    stats.bytes += moved;
                    if is_get {
                        stats.gets += 1;
                    } else {
                        stats.puts += 1;
                    }
                    shared.ops.fetch_add(1, Ordering::Relaxed);
                    shared.bytes.fetch_add(moved, Ordering::Relaxed);
                }
            }
            Ok(outcome) => shared.record_error(describe(op, &key, &outcome)),
            Err(message) => shared.record_error(format!("{op} {key}: {message}")),
        }
    }
    stats
}

/// The human-readable report.
pub fn render(report: &Report, heading: &str) -> String {
    let l = &report.latency_ms;
    let mut out = format!(
        "{heading}\n  ops         {} in {:.2}s = {:.1} ops/s",
        report.ops, report.seconds, report.ops_per_sec
    );
    if report.op == Op::Mixed {
        out.push_str(&format!(" ({} GET, {} PUT)", report.gets, report.puts));
    }
    out.push_str(&format!(
        "\n  throughput  {:.1} MB/s ({:.1} MiB/s)\n  latency     p50 {:.3} ms  p99 {:.3} ms  \
         p99.9 {:.3} ms  max {:.3} ms  mean {:.3} ms\n  errors      {}",
        report.mb_per_sec, report.mib_per_sec, l.p50, l.p99, l.p999, l.max, l.mean, report.errors
    ));
    for sample in &report.error_samples {
        out.push_str(&format!("\n    {sample}"));
    }
    if let Some(cpu) = report.tool_cpu_percent {
        out.push_str(&format!("\n  tool CPU    {cpu:.0}% of one core"));
    }
    if let (Some(cpu), Some(per_op)) = (report.server_cpu_percent, report.server_cpu_ms_per_op) {
        out.push_str(&format!(
            "\n  server CPU  {cpu:.0}% of one core, {per_op:.3} ms per request"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_sized_and_not_constant() {
        let p = payload(4099);
        assert_eq!(p.len(), 4099);
        assert_ne!(p[0..8], p[8..16]);
        assert_eq!(payload(0).len(), 0);
    }

    #[test]
    fn reads_its_own_cpu_time() {
        if cfg!(target_os = "linux") {
            let cpu = process_cpu_seconds().unwrap();
            assert!(cpu >= 0.0);
        }
    }

    #[test]
    fn mix_ratio_is_respected() {
        let mut rng = XorShift(7);
        let gets = (0..100_000).filter(|_| rng.unit() < 0.7).count();
        assert!((68_000..72_000).contains(&gets), "{gets}");
    }
}
