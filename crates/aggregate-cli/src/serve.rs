//! `aggregate serve`: the usage panel and `live-data.json` over HTTP.
//!
//! A small HTTP/1.1 server on std only: one thread per connection (at most
//! [`MAX_CONNECTIONS`] at once), `GET` and `HEAD`, one request per connection. The panel's
//! files (`web/`) are compiled into the binary; the data file is read from disk on every
//! request, so a scheduled `aggregate run` shows up at once. It listens on the loopback
//! interface unless `--allow-remote` is given, checks the `Host` header against DNS
//! rebinding, and sends a restrictive Content-Security-Policy.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Args;

use crate::{ExitStatus, UsageError, ui};

/// `aggregate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The live-data.json to serve; read again on every request. The server starts even when
    /// it is missing or invalid, and the panel says what is wrong.
    #[arg(
        long,
        value_name = "PATH",
        env = "AIOS_LIVE_DATA",
        default_value = "live-data.json"
    )]
    pub data: PathBuf,
    /// The TCP port; 0 picks a free one. The URL is printed as the first line on stdout.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// The address to listen on: a loopback address (127.0.0.1, ::1, localhost) unless
    /// --allow-remote is given.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: String,
    /// Allow a --bind address that is not loopback. The panel has no authentication: anyone
    /// who can reach the address can read the usage figures.
    #[arg(long)]
    pub allow_remote: bool,
}

/// The port used when `--port` is not given.
const DEFAULT_PORT: u16 = 8765;
/// The most bytes of a request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a connection may take to send its whole request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long writing a response may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most connections served at once; more are answered 503.
const MAX_CONNECTIONS: usize = 32;
/// The largest data file served.
const MAX_DATA_BYTES: u64 = 64 * 1024 * 1024;

const CSP: &str = "default-src 'self'; base-uri 'none'; object-src 'none'; \
                   frame-ancestors 'none'; form-action 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
const JSON: &str = "application/json; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// The panel's files, compiled in.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/", HTML, include_bytes!("../../../web/index.html")),
    (
        "/index.html",
        HTML,
        include_bytes!("../../../web/index.html"),
    ),
    ("/app.js", JS, include_bytes!("../../../web/app.js")),
    ("/dom.js", JS, include_bytes!("../../../web/dom.js")),
    ("/format.js", JS, include_bytes!("../../../web/format.js")),
    ("/render.js", JS, include_bytes!("../../../web/render.js")),
    (
        "/validate.js",
        JS,
        include_bytes!("../../../web/validate.js"),
    ),
    ("/style.css", CSS, include_bytes!("../../../web/style.css")),
    (
        "/favicon.svg",
        SVG,
        include_bytes!("../../../web/favicon.svg"),
    ),
];

/// The path the data file is served at.
const DATA_PATH: &str = "/live-data.json";

/// Runs `aggregate serve` until the process is stopped (Ctrl-C).
pub(crate) fn serve(args: &ServeArgs, quiet: bool) -> Result<ExitStatus> {
    let ip = resolve_bind(&args.bind, args.allow_remote)?;
    let server = Server::bind(
        SocketAddr::new(ip, args.port),
        Config {
            data: args.data.clone(),
            any_host: args.allow_remote,
            read_timeout: READ_TIMEOUT,
        },
    )?;
    ui::out(&server.url());
    let _ = io::stdout().flush();
    if !args.data.exists() {
        ui::warn(&format!(
            "no data file at {} yet; the panel says so until `aggregate run` writes it",
            args.data.display()
        ));
    }
    ui::status(
        quiet,
        &format!(
            "serving the usage panel and {} at {} (Ctrl-C to stop)",
            args.data.display(),
            server.url()
        ),
    );
    server.run();
    Ok(ExitStatus::Success)
}

/// The IP address of `--bind`; a non-loopback address only with `--allow-remote`.
pub(crate) fn resolve_bind(bind: &str, allow_remote: bool) -> Result<IpAddr, UsageError> {
    let ip = if bind.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        let trimmed = bind.trim_start_matches('[').trim_end_matches(']');
        trimmed.parse::<IpAddr>().map_err(|_| {
            UsageError(format!(
                "invalid --bind {bind:?}: expected an IP address such as 127.0.0.1 or ::1"
            ))
        })?
    };
    if !ip.is_loopback() && !allow_remote {
        return Err(UsageError(format!(
            "refusing to listen on {ip}: it is not a loopback address and the panel has no \
             authentication; pass --allow-remote to allow it"
        )));
    }
    Ok(ip)
}

/// What the server serves and how.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The data file, read on every request.
    pub(crate) data: PathBuf,
    /// Accept any `Host` header (when listening beyond loopback); otherwise only `localhost`
    /// and IP literals.
    pub(crate) any_host: bool,
    /// How long a client may take to send its request head.
    pub(crate) read_timeout: Duration,
}

/// A bound server.
pub(crate) struct Server {
    listener: TcpListener,
    config: Arc<Config>,
    active: Arc<AtomicUsize>,
}

impl Server {
    /// Listens on `addr` (port 0 picks a free port).
    pub(crate) fn bind(addr: SocketAddr, config: Config) -> Result<Server> {
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Server {
            listener,
            config: Arc::new(config),
            active: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The address actually bound.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// `http://127.0.0.1:PORT/` (`http://[::1]:PORT/` for IPv6).
    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.local_addr())
    }

    /// Accepts connections forever, each on its own thread.
    pub(crate) fn run(self) {
        for stream in self.listener.incoming() {
            let stream = match stream {
                Ok(stream) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if self.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                self.active.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                finish(
                    stream,
                    &Response::text(503, "too many connections; try again"),
                    false,
                );
                continue;
            }
            let config = Arc::clone(&self.config);
            let active = Arc::clone(&self.active);
            let spawned = std::thread::Builder::new()
                .name("serve-connection".to_owned())
                .spawn(move || {
                    handle(stream, &config);
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            if let Err(err) = spawned {
                self.active.fetch_sub(1, Ordering::SeqCst);
                tracing::warn!(error = %err, "cannot start a connection thread");
            }
        }
    }
}

/// A response, ready to write.
#[derive(Debug)]
struct Response {
    status: u16,
    content_type: &'static str,
    cache: &'static str,
    allow: bool,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type,
            cache: "no-store",
            allow: false,
            body,
        }
    }

    fn text(status: u16, message: &str) -> Response {
        let mut body = message.as_bytes().to_vec();
        body.push(b'\n');
        Response::new(status, TEXT, body)
    }

    /// An error the panel understands: `{"error": code, "message": text}`.
    fn json_error(status: u16, code: &str, message: &str) -> Response {
        let body = serde_json::json!({ "error": code, "message": message });
        let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
        bytes.push(b'\n');
        Response::new(status, JSON, bytes)
    }

    fn head_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: {}\r\n\
             Content-Length: {}\r\n\
             Cache-Control: {}\r\n\
             Content-Security-Policy: {CSP}\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Referrer-Policy: no-referrer\r\n\
             Cross-Origin-Resource-Policy: same-origin\r\n\
             Connection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            self.cache,
        );
        if self.allow {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A parsed request head: only what routing needs.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    path: String,
    host: Option<String>,
}

/// Why a request head could not be used.
#[derive(Debug)]
enum HeadError {
    /// Longer than [`MAX_HEAD`].
    TooLarge,
    /// Not an HTTP/1.x request head.
    Malformed(&'static str),
    /// The connection failed, timed out or closed first.
    Io,
}

fn handle(mut stream: TcpStream, config: &Config) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let (response, head_only) = match read_head(&mut stream, config.read_timeout) {
        Ok(request) => {
            let response = route(&request, config);
            tracing::debug!(
                method = %request.method,
                path = %request.path,
                status = response.status,
                "request"
            );
            (response, request.method == "HEAD")
        }
        Err(HeadError::TooLarge) => (Response::text(431, "request head too large"), false),
        Err(HeadError::Malformed(what)) => (Response::text(400, what), false),
        Err(HeadError::Io) => return,
    };
    finish(stream, &response, head_only);
}

/// Writes the response, then closes the connection gracefully.
fn finish(mut stream: TcpStream, response: &Response, head_only: bool) {
    let mut bytes = response.head_bytes();
    if !head_only {
        bytes.extend_from_slice(&response.body);
    }
    if stream
        .write_all(&bytes)
        .and_then(|()| stream.flush())
        .is_err()
    {
        return;
    }
    // Half-close, then drain what the client still sends (a body we did not read), so the
    // close does not reset the connection before the client has read the response.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while drained < 64 * 1024 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Reads a request head within `timeout` in all (a client trickling bytes is cut off too).
fn read_head(stream: &mut TcpStream, timeout: Duration) -> Result<Request, HeadError> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::Io);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| HeadError::Io)?;
        let n = stream.read(&mut chunk).map_err(|_| HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Io);
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = find_end(&buf[from..]) {
            break from + pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    };
    if end > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    parse_head(&buf[..end])
}

/// The offset of the blank line that ends a head (`\r\n\r\n` or `\n\n`).
fn find_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    let text = std::str::from_utf8(head).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HeadError::Malformed("unsupported HTTP version"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HeadError::Malformed("malformed method"));
    }
    if !target.starts_with('/') {
        return Err(HeadError::Malformed("the target must be a path"));
    }
    let path = target.split(['?', '#']).next().unwrap_or(target).to_owned();
    let mut host = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(HeadError::Malformed("malformed header line"));
        };
        if name.trim().eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(HeadError::Malformed("more than one Host header"));
            }
            host = Some(value.trim().to_owned());
        }
    }
    if version == "HTTP/1.1" && host.is_none() {
        return Err(HeadError::Malformed("missing Host header"));
    }
    Ok(Request {
        method: method.to_owned(),
        path,
        host,
    })
}

/// Whether a `Host` header names this machine directly: `localhost` or an IP literal, with
/// or without a port. A name that merely resolves here (DNS rebinding) is refused.
fn is_direct_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, after)) if after.is_empty() || after.starts_with(':') => inside,
            _ => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

fn route(request: &Request, config: &Config) -> Response {
    if !config.any_host
        && let Some(host) = &request.host
        && !is_direct_host(host)
    {
        return Response::text(421, "unexpected Host header");
    }
    if request.method != "GET" && request.method != "HEAD" {
        let mut response = Response::text(405, "only GET and HEAD are supported");
        response.allow = true;
        return response;
    }
    if request.path == DATA_PATH {
        return data_response(config);
    }
    match ASSETS.iter().find(|(path, _, _)| *path == request.path) {
        Some((_, content_type, body)) => {
            let mut response = Response::new(200, content_type, body.to_vec());
            response.cache = "no-cache";
            response
        }
        None => Response::text(404, "not found"),
    }
}

fn data_response(config: &Config) -> Response {
    let shown = config.data.display();
    let unreadable = |err: &dyn std::fmt::Display| {
        Response::json_error(
            500,
            "unreadable",
            &format!("The server cannot read {shown}: {err}."),
        )
    };
    let file = match std::fs::File::open(&config.data) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Response::json_error(
                404,
                "no_data",
                &format!("There is no data file at {shown} yet."),
            );
        }
        Err(err) => return unreadable(&err),
    };
    match file.metadata() {
        Ok(meta) if meta.is_dir() => return unreadable(&"it is a directory"),
        Ok(meta) if meta.len() > MAX_DATA_BYTES => {
            return unreadable(&format!("it is larger than {MAX_DATA_BYTES} bytes"));
        }
        Ok(_) => {}
        Err(err) => return unreadable(&err),
    }
    let mut body = Vec::new();
    match file.take(MAX_DATA_BYTES + 1).read_to_end(&mut body) {
        Ok(_) if body.len() as u64 > MAX_DATA_BYTES => {
            unreadable(&format!("it is larger than {MAX_DATA_BYTES} bytes"))
        }
        Ok(_) => Response::new(200, JSON, body),
        Err(err) => unreadable(&err),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    /// A server on a free loopback port, serving `data`, running on a background thread for
    /// the rest of the test process.
    fn start(data: &Path) -> SocketAddr {
        let server = Server::bind(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Config {
                data: data.to_owned(),
                any_host: false,
                read_timeout: Duration::from_millis(300),
            },
        )
        .unwrap();
        let addr = server.local_addr();
        assert!(server.url().starts_with("http://127.0.0.1:"));
        std::thread::spawn(move || server.run());
        addr
    }

    struct Reply {
        status: u16,
        headers: BTreeMap<String, String>,
        body: Vec<u8>,
    }

    impl Reply {
        fn header(&self, name: &str) -> &str {
            self.headers.get(name).map_or("", String::as_str)
        }

        fn text(&self) -> String {
            String::from_utf8(self.body.clone()).unwrap()
        }
    }

    fn send(addr: SocketAddr, raw: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(raw).unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap();
        let end = find_end(&bytes).expect("a response head");
        let head = std::str::from_utf8(&bytes[..end]).unwrap();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: bytes[end + 4..].to_vec(),
        }
    }

    fn get(addr: SocketAddr, method: &str, path: &str) -> Reply {
        let raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test\r\n\r\n");
        send(addr, raw.as_bytes())
    }

    #[track_caller]
    fn check_asset(addr: SocketAddr, path: &str, content_type: &str, contains: &str) {
        let reply = get(addr, "GET", path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), content_type, "{path}");
        assert_eq!(reply.header("content-length"), reply.body.len().to_string());
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert!(
            reply
                .header("content-security-policy")
                .starts_with("default-src 'self';"),
            "{path}"
        );
        assert!(reply.text().contains(contains), "{path}");
    }

    #[test]
    fn serves_the_panel_files_with_their_types() {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(&dir.path().join("live-data.json"));
        check_asset(addr, "/", HTML, "<script type=\"module\" src=\"/app.js\">");
        check_asset(addr, "/index.html", HTML, "<title>Claude usage</title>");
        check_asset(addr, "/?now=2026-11-28T12:00:00Z", HTML, "<title>");
        check_asset(addr, "/app.js", JS, "validateLiveData");
        check_asset(addr, "/validate.js", JS, "export function validateLiveData");
        check_asset(addr, "/style.css", CSS, "prefers-color-scheme: dark");
        check_asset(addr, "/favicon.svg", SVG, "<svg");
    }

    #[test]
    fn every_web_file_is_served() {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let mut names: Vec<String> = std::fs::read_dir(&web)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert!(names.len() >= 7, "{names:?}");
        for name in names {
            let path = format!("/{name}");
            let entry = ASSETS.iter().find(|(p, _, _)| *p == path);
            let (_, _, body) = entry.unwrap_or_else(|| panic!("{name} is not in ASSETS"));
            assert_eq!(*body, std::fs::read(web.join(&name)).unwrap().as_slice());
        }
    }

    #[test]
    fn unknown_paths_and_methods() {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(&dir.path().join("live-data.json"));
        let reply = get(addr, "GET", "/secrets.txt");
        assert_eq!((reply.status, reply.header("content-type")), (404, TEXT));
        assert_eq!(get(addr, "GET", "/../Cargo.toml").status, 404);
        assert_eq!(get(addr, "GET", "/web/app.js").status, 404);
        let reply = get(addr, "POST", "/");
        assert_eq!(reply.status, 405);
        assert_eq!(reply.header("allow"), "GET, HEAD");
        assert_eq!(get(addr, "DELETE", "/live-data.json").status, 405);
        // A body after the head is not read, and does not break the reply.
        let reply = send(
            addr,
            b"POST /live-data.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello",
        );
        assert_eq!(reply.status, 405);
    }

    #[test]
    fn head_sends_headers_without_a_body() {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(&dir.path().join("live-data.json"));
        let full = get(addr, "GET", "/app.js");
        let head = get(addr, "HEAD", "/app.js");
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(head.header("content-length"), full.body.len().to_string());
    }

    #[test]
    fn the_data_file_is_read_fresh_on_every_request() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("live-data.json");
        let addr = start(&data);

        // Missing: a 404 with a JSON error the panel shows.
        let reply = get(addr, "GET", DATA_PATH);
        assert_eq!(reply.status, 404);
        assert_eq!(reply.header("content-type"), JSON);
        assert_eq!(reply.header("cache-control"), "no-store");
        let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(error["error"], "no_data");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("no data file at"), "{message}");
        assert!(message.contains("live-data.json"), "{message}");

        // Written: served as is, never cached, whatever it holds.
        std::fs::write(&data, "{\"schemaVersion\": 1}\n").unwrap();
        let reply = get(addr, "GET", DATA_PATH);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), JSON);
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.text(), "{\"schemaVersion\": 1}\n");
        std::fs::write(&data, "not json").unwrap();
        assert_eq!(get(addr, "GET", "/live-data.json?t=1").text(), "not json");

        // A directory: a 500 JSON error.
        std::fs::remove_file(&data).unwrap();
        std::fs::create_dir(&data).unwrap();
        let reply = get(addr, "GET", DATA_PATH);
        assert_eq!(reply.status, 500);
        let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(error["error"], "unreadable");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("it is a directory")
        );
    }

    #[test]
    fn bad_request_heads() {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(&dir.path().join("live-data.json"));
        let big = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {}\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        assert_eq!(send(addr, big.as_bytes()).status, 431);
        assert_eq!(send(addr, b"GET /\r\n\r\n").status, 400);
        assert_eq!(send(addr, b"GET / HTTP/2\r\nHost: x\r\n\r\n").status, 400);
        assert_eq!(send(addr, b"GET / HTTP/1.1\r\n\r\n").status, 400, "no Host");
        assert_eq!(
            send(
                addr,
                b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            )
            .status,
            400
        );
        // HTTP/1.0 without Host, bare LF line ends: fine.
        assert_eq!(send(addr, b"GET / HTTP/1.0\n\n").status, 200);
    }

    #[test]
    fn a_host_that_is_not_this_machine_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(&dir.path().join("live-data.json"));
        let with_host = |host: &str| {
            let raw = format!("GET /live-data.json HTTP/1.1\r\nHost: {host}\r\n\r\n");
            send(addr, raw.as_bytes()).status
        };
        assert_eq!(with_host("attacker.example:8765"), 421);
        assert_eq!(with_host("localhost.attacker.example"), 421);
        assert_eq!(with_host("localhost:8765"), 404);
        assert_eq!(with_host("127.0.0.1"), 404);
        assert_eq!(with_host("[::1]:8765"), 404);
    }

    #[test]
    fn a_silent_client_is_dropped_after_the_read_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(&dir.path().join("live-data.json"));
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let started = std::time::Instant::now();
        let mut bytes = Vec::new();
        let read = stream.read_to_end(&mut bytes);
        assert!(read.is_ok(), "closed, not timed out on our side: {read:?}");
        assert!(bytes.is_empty(), "no response to an incomplete head");
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn a_trickling_client_is_dropped_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(&dir.path().join("live-data.json"));
        let mut stream = TcpStream::connect(addr).unwrap();
        let started = std::time::Instant::now();
        let mut closed = false;
        for _ in 0..40 {
            if stream.write_all(b"X").is_err() {
                closed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // One byte every 50 ms keeps each read short of the timeout; the deadline for the
        // whole head (300 ms here) still closes the connection, so a later write fails.
        assert!(closed, "the connection was still open after two seconds");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[track_caller]
    fn check_bind(bind: &str, allow_remote: bool, expected: Result<&str, &str>) {
        let got = resolve_bind(bind, allow_remote)
            .map(|ip| ip.to_string())
            .map_err(|err| err.0);
        match (got, expected) {
            (Ok(ip), Ok(want)) => assert_eq!(ip, want, "{bind}"),
            (Err(message), Err(want)) => assert!(message.contains(want), "{bind}: {message}"),
            (got, expected) => panic!("{bind}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn bind_is_loopback_unless_remote_is_allowed() {
        check_bind("127.0.0.1", false, Ok("127.0.0.1"));
        check_bind("127.0.0.2", false, Ok("127.0.0.2"));
        check_bind("localhost", false, Ok("127.0.0.1"));
        check_bind("::1", false, Ok("::1"));
        check_bind("[::1]", false, Ok("::1"));
        check_bind("0.0.0.0", false, Err("refusing to listen on 0.0.0.0"));
        check_bind("0.0.0.0", false, Err("--allow-remote"));
        check_bind("::", false, Err("refusing to listen on ::"));
        check_bind("192.168.1.20", false, Err("not a loopback address"));
        check_bind("0.0.0.0", true, Ok("0.0.0.0"));
        check_bind("example.com", true, Err("invalid --bind \"example.com\""));
        check_bind("", false, Err("invalid --bind"));
    }

    #[test]
    fn direct_hosts() {
        for host in [
            "localhost",
            "LOCALHOST:1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:9",
            "10.0.0.1",
        ] {
            assert!(is_direct_host(host), "{host}");
        }
        for host in [
            "example.com",
            "localhost.example",
            "[::1]x",
            "[::1",
            "",
            ":80",
        ] {
            assert!(!is_direct_host(host), "{host}");
        }
    }
}
