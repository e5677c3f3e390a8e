//! `http-load`: loads an HTTP endpoint from `concurrency` connections, each
//! with one request in flight (as wrk does), and reports latency
//! percentiles from an HDR histogram, throughput and the error rate.
//! HTTP/1.1 with keep-alive; HTTP/2 when a TLS server offers it by ALPN.
//!
//! Size: one plugin program (the connection loop, the rate schedule, the
//! histogram and the result), run as a unit by `qod builtin http-load`.

use super::{Failure, Measured};
use crate::duration::HumanDuration;
use crate::protocol::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::{Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default = "get")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default = "ten")]
    concurrency: u64,
    #[serde(default)]
    requests: Option<u64>,
    #[serde(default)]
    duration: Option<HumanDuration>,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default = "one_s")]
    warmup: HumanDuration,
    #[serde(default = "ten_s")]
    timeout: HumanDuration,
    #[serde(default)]
    status: Vec<u16>,
    #[serde(default)]
    ca_cert: Option<String>,
    #[serde(default = "thousand")]
    max_samples: usize,
}

fn get() -> String {
    "GET".into()
}
fn ten() -> u64 {
    10
}
fn one_s() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
fn ten_s() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn thousand() -> usize {
    1000
}

/// Where and what to send.
struct Target {
    host: String,
    port: u16,
    uri: Uri,
    path: Uri,
    method: hyper::Method,
    headers: hyper::HeaderMap,
    /// `headers` with `Host`, which HTTP/1.1 needs.
    h1_headers: hyper::HeaderMap,
    body: Bytes,
    tls: Option<tokio_rustls::TlsConnector>,
    server_name: Option<rustls_pki_types::ServerName<'static>>,
}

/// What stops the load.
#[derive(Clone, Copy)]
enum Stop {
    Requests(u64),
    At(Instant),
}

struct Shared {
    target: Target,
    stop: Stop,
    warm_end: Instant,
    timeout: Duration,
    accepted: Vec<u16>,
    /// Measured requests handed out (the budget in `Stop::Requests`).
    issued: AtomicU64,
    /// Rate slots handed out, when `rate` is set.
    slots: AtomicU64,
    rate: Option<f64>,
    start: Instant,
    samples_per_worker: usize,
    /// When the last accepted response came, in ms since `start`.
    last_ok_ms: AtomicU64,
    /// Stop when nothing succeeded for this long.
    give_up_after: Duration,
    /// Set by the first connection that gives up: all stop.
    gave_up: std::sync::atomic::AtomicBool,
}

/// One connection's results.
struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    rejected: u64,
    failed: u64,
    sent: u64,
    /// Responses by status code (100–599).
    statuses: Vec<u64>,
    first_error: Option<String>,
    samples: Vec<f64>,
    seen: u64,
    rng: u64,
    http2: bool,
    /// Connections opened (a server that closes after each response makes
    /// one per request).
    connections: u64,
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// The future that drives a connection's I/O. It runs in the worker's own
/// task, next to the requests, rather than as a task of its own.
type Driver = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn driver<F, E>(conn: F) -> Driver
where
    F: std::future::Future<Output = Result<(), E>> + Send + 'static,
{
    Box::pin(async move {
        let _ = conn.await;
    })
}

/// A response body longer than this is cut and counted as an error.
pub const BODY_CAP: usize = 64 << 20;

/// With no accepted response on any connection for this long (or twice
/// the request timeout, if longer), the run stops early.
pub const GIVE_UP: Duration = Duration::from_secs(5);

pub fn run(ctx: &Context) -> Result<Measured, Failure> {
    let config: Config = super::config(ctx)?;
    let target = target(&config, ctx)?;
    if config.requests.is_some() && config.duration.is_some() {
        return Err(Failure::config(
            "`with.requests` and `with.duration` both given; keep one",
        ));
    }
    let mut accepted = config.status.clone();
    accepted.sort_unstable();
    // One single-threaded event loop per core, each with its share of the
    // connections, as wrk has: no work stealing, no cross-thread wake-ups.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(config.concurrency as usize);
    let start = Instant::now();
    let warm_end = start + config.warmup.get();
    let stop = match (config.requests, config.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::At(warm_end + d.get()),
        (None, None) => Stop::At(warm_end + Duration::from_secs(10)),
    };
    let shared = Arc::new(Shared {
        target,
        stop,
        warm_end,
        timeout: config.timeout.get(),
        accepted,
        issued: AtomicU64::new(0),
        slots: AtomicU64::new(0),
        rate: config.rate,
        start,
        samples_per_worker: config.max_samples.div_ceil(config.concurrency as usize),
        last_ok_ms: AtomicU64::new(0),
        give_up_after: GIVE_UP.max(config.timeout.get() * 2),
        gave_up: std::sync::atomic::AtomicBool::new(false),
    });
    let mut handles = Vec::new();
    for t in 0..threads {
        let shared = shared.clone();
        let ids: Vec<u64> = (0..config.concurrency)
            .filter(|i| *i as usize % threads == t)
            .collect();
        let handle = std::thread::Builder::new()
            .name(format!("http-load-{t}"))
            .spawn(move || -> Result<Vec<Tally>, String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the load generator: {e}"))?;
                rt.block_on(async move {
                    let tasks: Vec<_> = ids
                        .into_iter()
                        .map(|i| tokio::spawn(worker(shared.clone(), i)))
                        .collect();
                    let mut tallies = Vec::new();
                    for task in tasks {
                        tallies.push(task.await.map_err(|e| format!("a load task failed: {e}"))?);
                    }
                    Ok(tallies)
                })
            })
            .map_err(|e| Failure::new("io", format!("cannot start a load thread: {e}")))?;
        handles.push(handle);
    }
    let mut tallies = Vec::new();
    for h in handles {
        let part = h
            .join()
            .map_err(|_| Failure::new("io", "a load thread panicked"))?
            .map_err(|e| Failure::new("io", e))?;
        tallies.extend(part);
    }
    let elapsed = Instant::now().saturating_duration_since(warm_end);
    let gave_up = shared
        .gave_up
        .load(Ordering::Relaxed)
        .then_some(shared.give_up_after);
    summarize(&config, tallies, elapsed, gave_up)
}

fn target(config: &Config, ctx: &Context) -> Result<Target, Failure> {
    let uri: Uri = config
        .url
        .parse()
        .map_err(|e| Failure::config(format!("`with.url`: `{}` is not a URL: {e}", config.url)))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(Failure::config(format!(
                "`with.url`: `{}` must start with `http://` or `https://`",
                config.url
            )))
        }
    };
    let Some(host) = uri.host().map(|h| h.trim_matches(['[', ']']).to_owned()) else {
        return Err(Failure::config(format!(
            "`with.url`: `{}` has no host",
            config.url
        )));
    };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let path: Uri = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()
        .map_err(|e| Failure::config(format!("`with.url`: bad path: {e}")))?;
    let method = hyper::Method::from_bytes(config.method.as_bytes()).map_err(|_| {
        Failure::config(format!(
            "`with.method`: `{}` is not an HTTP method",
            config.method
        ))
    })?;
    let mut headers = hyper::HeaderMap::new();
    for (k, v) in &config.headers {
        let name = hyper::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| Failure::config(format!("`with.headers`: `{k}` is not a header name")))?;
        let value = hyper::header::HeaderValue::from_str(v).map_err(|_| {
            Failure::config(format!(
                "`with.headers.{k}`: the value is not a valid header value"
            ))
        })?;
        headers.insert(name, value);
    }
    let (tls, server_name) = if https {
        let cfg = tls_config(config, ctx)?;
        let name = rustls_pki_types::ServerName::try_from(host.clone()).map_err(|e| {
            Failure::config(format!(
                "`with.url`: `{host}` is not a TLS server name: {e}"
            ))
        })?;
        (
            Some(tokio_rustls::TlsConnector::from(Arc::new(cfg))),
            Some(name),
        )
    } else {
        (None, None)
    };
    let mut h1_headers = headers.clone();
    if !h1_headers.contains_key(hyper::header::HOST) {
        let host = hyper::header::HeaderValue::from_str(&authority).map_err(|_| {
            Failure::config(format!("`with.url`: `{authority}` is not a valid host"))
        })?;
        h1_headers.insert(hyper::header::HOST, host);
    }
    Ok(Target {
        h1_headers,
        host,
        port,
        uri,
        path,
        method,
        headers,
        body: Bytes::from(config.body.clone().unwrap_or_default()),
        tls,
        server_name,
    })
}

fn tls_config(config: &Config, ctx: &Context) -> Result<rustls::ClientConfig, Failure> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    let mut extra = 0;
    if let Some(file) = &config.ca_cert {
        use rustls_pki_types::pem::PemObject;
        let path = super::workspace(ctx).join(file);
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(&path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                Failure::config(format!(
                    "`with.ca_cert`: cannot read PEM certificates from `{}`: {e}",
                    path.display()
                ))
            })?;
        let (ok, _) = roots.add_parsable_certificates(certs);
        if ok == 0 {
            return Err(Failure::config(format!(
                "`with.ca_cert`: `{}` holds no usable certificate",
                path.display()
            )));
        }
        extra = ok;
    }
    if added == 0 && extra == 0 {
        return Err(Failure::new(
            "no-root-certificates",
            "found no system root certificates for `https://`; install the CA bundle (`ca-certificates`), point `SSL_CERT_FILE` at one, or give `with.ca_cert`",
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::new("io", format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// HTTP/1.1 requests go out in one `write`: a tiny request costs the kernel
/// less that way than as a `writev` of its parts.
async fn connect(t: &Target, timeout: Duration) -> Result<(Sender, Driver), String> {
    let fut = async {
        let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", t.host, t.port))?;
        let _ = tcp.set_nodelay(true);
        match (&t.tls, &t.server_name) {
            (Some(tls), Some(name)) => {
                let stream = tls
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS with {} failed: {e}", t.host))?;
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let io = TokioIo::new(stream);
                if h2 {
                    let (s, conn) = http2::handshake(TokioExecutor::new(), io)
                        .await
                        .map_err(|e| format!("HTTP/2 handshake failed: {e}"))?;
                    Ok((Sender::H2(s), driver(conn)))
                } else {
                    let (s, conn) = http1::Builder::new()
                        .writev(false)
                        .handshake(io)
                        .await
                        .map_err(|e| format!("HTTP/1.1 handshake failed: {e}"))?;
                    Ok((Sender::H1(s), driver(conn)))
                }
            }
            _ => {
                let (s, conn) = http1::Builder::new()
                    .writev(false)
                    .handshake(TokioIo::new(tcp))
                    .await
                    .map_err(|e| format!("HTTP/1.1 handshake failed: {e}"))?;
                Ok((Sender::H1(s), driver(conn)))
            }
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("connecting to {}:{} timed out", t.host, t.port))?
}

/// Sends one request and reads the whole response; its status.
async fn send(sender: &mut Sender, t: &Target) -> Result<u16, String> {
    let h2 = matches!(sender, Sender::H2(_));
    let mut req = Request::new(Full::new(t.body.clone()));
    *req.method_mut() = t.method.clone();
    *req.uri_mut() = if h2 { t.uri.clone() } else { t.path.clone() };
    *req.headers_mut() = if h2 {
        t.headers.clone()
    } else {
        t.h1_headers.clone()
    };
    let resp = match sender {
        Sender::H1(s) => {
            s.ready()
                .await
                .map_err(|e| format!("connection closed: {e}"))?;
            s.send_request(req).await
        }
        Sender::H2(s) => {
            s.ready()
                .await
                .map_err(|e| format!("connection closed: {e}"))?;
            s.send_request(req).await
        }
    }
    .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the response failed: {e}"))?;
        read += frame.data_ref().map_or(0, |d| d.len());
        if read > BODY_CAP {
            return Err(format!(
                "the response body passed {} MiB; it was cut there",
                BODY_CAP >> 20
            ));
        }
    }
    Ok(status)
}

async fn worker(shared: Arc<Shared>, id: u64) -> Tally {
    let mut tally = Tally {
        hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
        ok: 0,
        rejected: 0,
        failed: 0,
        sent: 0,
        statuses: vec![0; 600],
        first_error: None,
        samples: Vec::new(),
        seen: 0,
        rng: 0x9E37_79B9_7F4A_7C15 ^ (id + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        http2: false,
        connections: 0,
    };
    let mut conn: Option<(Sender, Driver)> = None;
    let mut timer = std::pin::pin!(tokio::time::sleep(shared.timeout));
    // A run ends at its `duration`: a request still in flight then is not
    // measured (`Err(true)` below), as wrk does; a timeout is `Err(false)`.
    // One timer per connection, as for the timeout.
    let end = match shared.stop {
        Stop::At(end) => end,
        Stop::Requests(_) => shared.start + Duration::from_secs(100 * 365 * 86_400),
    };
    let mut ended = std::pin::pin!(tokio::time::sleep_until(end));
    loop {
        let now = Instant::now();
        let warm = now < shared.warm_end;
        if shared.gave_up.load(Ordering::Relaxed) {
            break;
        }
        if !warm {
            // Nothing has succeeded for a while on any connection: the
            // server is down or never answers; waiting longer tells nothing.
            let last_ok = shared.last_ok_ms.load(Ordering::Relaxed);
            let since = now.saturating_duration_since(
                shared
                    .warm_end
                    .max(shared.start + Duration::from_millis(last_ok)),
            );
            if since >= shared.give_up_after && tally.failed > 0 {
                shared.gave_up.store(true, Ordering::Relaxed);
                break;
            }
            match shared.stop {
                Stop::At(end) if now >= end => break,
                Stop::Requests(n) if shared.issued.fetch_add(1, Ordering::Relaxed) >= n => break,
                _ => {}
            }
        }
        // Under a rate, a request's latency counts from when it was due, not
        // from when a busy connection got to send it (no coordinated omission).
        let mut due = None;
        if let Some(rate) = shared.rate {
            let slot = shared.slots.fetch_add(1, Ordering::Relaxed);
            let at = shared.start + Duration::from_secs_f64(slot as f64 / rate);
            tokio::time::sleep_until(at).await;
            due = Some(at);
            if let Stop::At(end) = shared.stop {
                if Instant::now() >= end {
                    break;
                }
            }
        }
        if conn.is_none() {
            match connect(&shared.target, shared.timeout).await {
                Ok(c) => {
                    tally.http2 = matches!(c.0, Sender::H2(_));
                    tally.connections += 1;
                    conn = Some(c)
                }
                Err(e) => {
                    if !warm {
                        tally.sent += 1;
                        tally.failed += 1;
                    }
                    tally.first_error.get_or_insert(e);
                    // Do not spin on a refused connection.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let (sender, io) = conn.as_mut().expect("connected above");
        let sent = Instant::now();
        let t0 = due.map_or(sent, |d| d.min(sent));
        // One timer per connection, moved for each request: cheaper than a new one.
        timer.as_mut().reset(sent + shared.timeout);
        let mut closed = false;
        let r: Result<Result<u16, String>, bool> = {
            let mut request = std::pin::pin!(send(sender, &shared.target));
            tokio::select! {
                biased;
                r = request.as_mut() => Ok(r),
                // The connection ended (`Connection: close`, HTTP/1.0, a
                // reset): the response may still be whole; the next
                // request reconnects.
                _ = io.as_mut() => {
                    closed = true;
                    tokio::select! {
                        r = request.as_mut() => Ok(r),
                        _ = timer.as_mut() => Err(false),
                        _ = ended.as_mut() => Err(true),
                    }
                }
                _ = timer.as_mut() => Err(false),
                _ = ended.as_mut() => Err(true),
            }
        };
        if closed {
            conn = None;
        }
        let latency = t0.elapsed();
        if r == Err(true) {
            break;
        }
        // Requests sent during the warm-up are not measured, even if they end after it.
        if warm {
            if !matches!(r, Ok(Ok(_))) {
                conn = None;
            }
            continue;
        }
        tally.sent += 1;
        match r {
            Ok(Ok(status)) => {
                let us = (latency.as_micros() as u64).max(1);
                let _ = tally.hist.record(us);
                if let Some(n) = tally.statuses.get_mut(status as usize) {
                    *n += 1;
                }
                let accepted = if shared.accepted.is_empty() {
                    (200..400).contains(&status)
                } else {
                    shared.accepted.binary_search(&status).is_ok()
                };
                if accepted {
                    tally.ok += 1;
                    // Shared by every connection: written only when it
                    // moves by 100 ms, so that cores do not fight over it.
                    let ms = shared.start.elapsed().as_millis() as u64;
                    if ms >= shared.last_ok_ms.load(Ordering::Relaxed) + 100 {
                        shared.last_ok_ms.fetch_max(ms, Ordering::Relaxed);
                    }
                } else {
                    tally.rejected += 1;
                }
                keep_sample(&mut tally, us as f64 / 1000.0, shared.samples_per_worker);
            }
            Ok(Err(e)) => {
                tally.failed += 1;
                tally.first_error.get_or_insert(e);
                conn = None;
            }
            Err(_) => {
                tally.failed += 1;
                tally.first_error.get_or_insert(format!(
                    "a request took longer than the {} timeout",
                    HumanDuration(shared.timeout)
                ));
                conn = None;
            }
        }
    }
    tally
}

/// Reservoir sampling (algorithm R) with a xorshift generator.
fn keep_sample(t: &mut Tally, ms: f64, cap: usize) {
    t.seen += 1;
    if t.samples.len() < cap {
        t.samples.push(ms);
        return;
    }
    t.rng ^= t.rng << 13;
    t.rng ^= t.rng >> 7;
    t.rng ^= t.rng << 17;
    let j = t.rng % t.seen;
    if (j as usize) < cap {
        t.samples[j as usize] = ms;
    }
}

fn summarize(
    config: &Config,
    tallies: Vec<Tally>,
    elapsed: Duration,
    gave_up: Option<Duration>,
) -> Result<Measured, Failure> {
    let mut hist: Histogram<u64> =
        Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    let (mut ok, mut rejected, mut failed, mut sent) = (0u64, 0u64, 0u64, 0u64);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut first_error = None;
    let mut samples = Vec::new();
    let mut http2 = false;
    let mut connections = 0u64;
    for t in tallies {
        connections += t.connections;
        let _ = hist.add(&t.hist);
        ok += t.ok;
        rejected += t.rejected;
        failed += t.failed;
        sent += t.sent;
        for (s, n) in t.statuses.iter().enumerate().filter(|(_, n)| **n > 0) {
            *statuses.entry(s as u16).or_default() += n;
        }
        if first_error.is_none() {
            first_error = t.first_error;
        }
        samples.extend(t.samples);
        http2 |= t.http2;
    }
    samples.truncate(config.max_samples);
    let status_text = || {
        statuses
            .iter()
            .map(|(s, n)| format!("{n}× {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if ok == 0 {
        let why = if rejected > 0 {
            format!(
                "no response had an accepted status (got {}); set `with.status` to the codes that mean success",
                status_text()
            )
        } else {
            format!(
                "no request to `{}` succeeded: {}{}",
                config.url,
                first_error.unwrap_or_else(|| "no request was sent".into()),
                gave_up
                    .map(|d| format!("; stopped early, after {} without one", HumanDuration(d)))
                    .unwrap_or_default()
            )
        };
        return Err(Failure::new("no-successful-response", why));
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut m = Measured::default();
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)] {
        m.push(name, ms(hist.value_at_quantile(q)), Some("ms"));
    }
    m.push("max", ms(hist.max()), Some("ms"));
    let mean = hist.mean() / 1000.0;
    let metric = m.push("mean", mean, Some("ms"));
    if !samples.is_empty() {
        metric.samples = Some(samples);
    }
    let throughput = ok as f64 / secs;
    m.push("throughput", throughput, Some("req/s"));
    let error_rate = (failed + rejected) as f64 / sent.max(1) as f64;
    m.push("error_rate", error_rate, Some("ratio"));
    m.push("requests", sent as f64, None);
    m.push("connections", connections as f64, None);
    m.summary = format!(
        "{} {}: p50 {} ms, p95 {} ms, p99 {} ms, {:.0} req/s over {} connection{} ({}), {:.2}% errors{}",
        config.method,
        config.url,
        crate::units::format_value(ms(hist.value_at_quantile(0.5))),
        crate::units::format_value(ms(hist.value_at_quantile(0.95))),
        crate::units::format_value(ms(hist.value_at_quantile(0.99))),
        throughput,
        config.concurrency,
        if config.concurrency == 1 { "" } else { "s" },
        if http2 { "HTTP/2" } else { "HTTP/1.1" },
        error_rate * 100.0,
        match &first_error {
            Some(e) if failed > 0 => format!(" (first: {e})"),
            _ if rejected > 0 => format!(" (statuses: {})", status_text()),
            _ => String::new(),
        }
    );
    Ok(m)
}
