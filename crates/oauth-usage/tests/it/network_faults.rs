//! Servers on 127.0.0.1 that misbehave at the socket level. Each read ends within its budget
//! (1.5 s here; checked with a second of slack) with no reading and the reason that fits,
//! stores nothing, and the process is left as it was (no panic, no thread left waiting on the
//! read).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use oauth_usage::{AuthMode, Outcome, SkipReason, read_usage};

use crate::common::{World, fake_token, now};

const BUDGET: Duration = Duration::from_millis(1500);

/// A valid answer, for the faults that cut one short.
const ANSWER: &str = r#"{"five_hour":{"utilization":24.0,"resets_at":"2026-09-03T22:30:00.134085+00:00"},"seven_day":{"utilization":83.0,"resets_at":"2026-09-04T12:00:00.134101+00:00"}}"#;

/// What a connection handler gets: the accepted stream and the server's stop flag.
type Handler = fn(TcpStream, &AtomicBool);

/// A server on 127.0.0.1 that hands every connection to `handler` on a thread of its own.
/// Dropping it stops the accept loop and tells handlers to give up.
struct FaultServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepter: Option<JoinHandle<()>>,
}

impl FaultServer {
    fn start(handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let accepter = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(false).expect("blocking");
                            stream
                                .set_read_timeout(Some(Duration::from_secs(5)))
                                .expect("read timeout");
                            stream
                                .set_write_timeout(Some(Duration::from_secs(5)))
                                .expect("write timeout");
                            let stop = Arc::clone(&stop);
                            thread::spawn(move || handler(stream, &stop));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        Self {
            addr,
            stop,
            accepter: Some(accepter),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accepter) = self.accepter.take() {
            accepter.join().expect("accept loop ends");
        }
    }
}

/// Reads the request head (up to the blank line).
fn read_request(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// Sleeps in small steps until `stop` is set or `limit` has passed.
fn idle(stop: &AtomicBool, limit: Duration) {
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs one read against `server` with a fresh credential and the short budget.
async fn read_against(server: &FaultServer) -> (Outcome, Duration, World) {
    let world = World::with_token(&fake_token('n'));
    let mut config = world.config(&server.url());
    config.budget = BUDGET;
    let started = Instant::now();
    let outcome = read_usage(&config, now()).await;
    (outcome, started.elapsed(), world)
}

async fn assert_fault(handler: Handler, reason: &SkipReason) {
    let server = FaultServer::start(handler);
    let (outcome, elapsed, world) = read_against(&server).await;
    assert_eq!(outcome.reason.as_ref(), Some(reason), "{outcome:?}");
    assert!(outcome.reading.is_none());
    assert!(outcome.stale_reading.is_none());
    assert!(!outcome.reused);
    assert_eq!(outcome.auth_mode, AuthMode::OAuth);
    assert!(
        elapsed < BUDGET + Duration::from_secs(1),
        "took {elapsed:?} for {reason:?}"
    );
    assert_eq!(world.state_text(), "", "nothing is stored for {reason:?}");
}

#[tokio::test]
async fn accepts_reads_the_request_and_never_answers() {
    assert_fault(
        |mut stream, stop| {
            read_request(&mut stream);
            idle(stop, Duration::from_secs(30));
        },
        &SkipReason::Timeout,
    )
    .await;
}

#[tokio::test]
async fn resets_the_connection_after_the_request() {
    // Closing a socket with unread bytes makes the kernel send a reset instead of a FIN.
    assert_fault(
        |stream, _| {
            let mut peeked = [0u8; 4096];
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                match stream.peek(&mut peeked) {
                    Ok(n) if peeked[..n].windows(4).any(|w| w == b"\r\n\r\n") => break,
                    Ok(0) | Err(_) => return,
                    Ok(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
            drop(stream);
        },
        &SkipReason::Network,
    )
    .await;
}

#[tokio::test]
async fn closes_without_answering() {
    assert_fault(
        |mut stream, _| {
            read_request(&mut stream);
            drop(stream);
        },
        &SkipReason::Network,
    )
    .await;
}

#[tokio::test]
async fn drips_the_body_one_byte_every_200_ms() {
    assert_fault(
        |mut stream, stop| {
            read_request(&mut stream);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                ANSWER.len()
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            for byte in ANSWER.bytes() {
                if stop.load(Ordering::Relaxed) || stream.write_all(&[byte]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(200));
            }
        },
        &SkipReason::Timeout,
    )
    .await;
}

#[tokio::test]
async fn sends_a_huge_header_block() {
    assert_fault(
        |mut stream, stop| {
            read_request(&mut stream);
            if stream.write_all(b"HTTP/1.1 200 OK\r\n").is_err() {
                return;
            }
            // Up to 16 MiB of headers, or until the client hangs up.
            let header = format!("X-Padding: {}\r\n", "a".repeat(1000));
            for _ in 0..16 * 1024 {
                if stop.load(Ordering::Relaxed) || stream.write_all(header.as_bytes()).is_err() {
                    return;
                }
            }
        },
        &SkipReason::Network,
    )
    .await;
}

#[tokio::test]
async fn sends_one_header_line_that_never_ends() {
    assert_fault(
        |mut stream, stop| {
            read_request(&mut stream);
            if stream.write_all(b"HTTP/1.1 200 OK\r\nX-Endless: ").is_err() {
                return;
            }
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..256 {
                if stop.load(Ordering::Relaxed) || stream.write_all(&chunk).is_err() {
                    return;
                }
            }
        },
        &SkipReason::Network,
    )
    .await;
}

#[tokio::test]
async fn closes_in_the_middle_of_the_body() {
    assert_fault(
        |mut stream, _| {
            read_request(&mut stream);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                ANSWER.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&ANSWER.as_bytes()[..ANSWER.len() / 2]);
        },
        &SkipReason::Network,
    )
    .await;
}

#[tokio::test]
async fn closes_in_the_middle_of_a_chunk() {
    assert_fault(
        |mut stream, _| {
            read_request(&mut stream);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n{\"five_hour\":",
            );
        },
        &SkipReason::Network,
    )
    .await;
}

#[tokio::test]
async fn streams_an_endless_chunked_body() {
    assert_fault(
        |mut stream, stop| {
            read_request(&mut stream);
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = format!("1000\r\n{}\r\n", " ".repeat(0x1000));
            for _ in 0..4096 {
                if stop.load(Ordering::Relaxed) || stream.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
            }
        },
        &SkipReason::TooLarge,
    )
    .await;
}

/// Answers the request with `reply` and closes.
fn reply_with(mut stream: TcpStream, reply: &[u8]) {
    read_request(&mut stream);
    let _ = stream.write_all(reply);
}

#[tokio::test]
async fn answers_http_garbage() {
    let garbage: [Handler; 6] = [
        |s, _| reply_with(s, b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        |s, _| reply_with(s, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
        |s, _| reply_with(s, b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}"),
        |s, _| reply_with(s, b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n{}"),
        |s, _| reply_with(s, b"HTTP/1.1 200 OK\r\nBad Header Name: x\r\n\r\n{}"),
        |s, _| {
            reply_with(
                s,
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            )
        },
    ];
    for handler in garbage {
        assert_fault(handler, &SkipReason::Network).await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_answer_is_a_parse_error() {
    // Well-formed HTTP around a body that is not JSON, or is JSON of the wrong shape.
    let bodies: [Handler; 3] = [
        |s, _| {
            reply_with(
                s,
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n\x00\xff\xfe<html>",
            )
        },
        |s, _| reply_with(s, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[[[[[[[[[["),
        |s, _| reply_with(s, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnull"),
    ];
    for handler in bodies {
        assert_fault(handler, &SkipReason::Parse).await;
    }
}
