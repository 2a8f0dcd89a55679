//! Proxies in front of the loopback registry: a TCP one that, once, cuts a
//! connection mid-transfer (tests/push.rs: an upload; tests/pull.rs: a
//! blob download); `FaultProxy`, an HTTP-aware one that injects resets,
//! stalls, truncated answers and made-up statuses by rule and logs every
//! request (tests/faults.rs); and incompressible test data to make
//! transfers long.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which way the cut bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// After `cut_after` bytes from the client: a dropped upload.
    Upload,
    /// After `cut_after` bytes from the registry: a blob cut mid-way.
    Download,
}

/// A proxy to `upstream` on a free loopback port: its address, and a flag
/// set once it has cut a connection.
pub fn cutting_proxy(upstream: String, cut_after: usize, cut: Cut) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let done = Arc::new(AtomicBool::new(false));
    let done_flag = Arc::clone(&done);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else { return };
            let (client_read, server_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (server_read, client_write) = (server, client);
            // The client's side is closed whole once the registry is done;
            // the registry's only for writing once the client is, so its
            // answer still comes back.
            let upstream_leg = (client_read, server_write, Shutdown::Write);
            let downstream_leg = (server_read, client_write, Shutdown::Both);
            let (cut_leg, plain_leg) = match cut {
                Cut::Upload => (upstream_leg, downstream_leg),
                Cut::Download => (downstream_leg, upstream_leg),
            };
            std::thread::spawn(move || forward(plain_leg));
            let done_flag = Arc::clone(&done_flag);
            std::thread::spawn(move || forward_then_cut(cut_leg, cut_after, &done_flag));
        }
    });
    (address, done)
}

/// Bytes from one socket to another, and how `to` is shut at the end.
type Leg = (TcpStream, TcpStream, Shutdown);

fn forward((mut from, mut to, end): Leg) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(end);
}

/// Forwards `from` to `to`; the first connection to pass `cut_after`
/// bytes gets exactly that many, then both sides are dropped.
fn forward_then_cut((mut from, mut to, end): Leg, cut_after: usize, done: &AtomicBool) {
    let mut forwarded = 0;
    let mut buffer = [0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer) {
        if read == 0 {
            break;
        }
        if forwarded + read > cut_after && !done.swap(true, Ordering::SeqCst) {
            let _ = to.write_all(&buffer[..cut_after - forwarded]);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
        forwarded += read;
    }
    let _ = to.shutdown(end);
}

/// `len` bytes that gzip cannot shrink much, as YAML-safe hex.
pub fn noise(len: usize) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b"0123456789abcdef"[(state % 16) as usize])
        })
        .collect()
}

/// What the fault proxy does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Closed with the request unread: the kernel answers with a TCP reset.
    Reset,
    /// Read and never answered (the client's timeout must fire).
    Stall,
    /// Forwarded, and the registry's answer cut in the middle.
    Truncate,
    /// Answered by the proxy with this status (and `Retry-After`, if any).
    Status(u16, Option<&'static str>),
}

/// Which requests get a fault: those whose method is `method` and whose
/// path contains `path`, from the `from`-th such request (1-based) on,
/// `times` of them (`usize::MAX`: every one).
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub from: usize,
    pub times: usize,
    pub fault: Fault,
}

/// One request the proxy saw: when, what, the fault it got, and the
/// registry's status when it was forwarded.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: std::time::Instant,
    pub method: String,
    pub path: String,
    pub fault: Option<Fault>,
    pub status: Option<u16>,
}

/// An HTTP-aware proxy in front of the loopback registry that injects
/// faults by rule and logs every request. Each request gets a connection
/// of its own (`Connection: close` both ways), so a fault never spills
/// onto the next request.
pub struct FaultProxy {
    pub address: String,
    rules: Arc<std::sync::Mutex<Vec<(Rule, usize)>>>,
    log: Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl FaultProxy {
    pub fn start(upstream: String, rules: Vec<Rule>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let rules = Arc::new(std::sync::Mutex::new(rules.into_iter().map(|rule| (rule, 0)).collect::<Vec<_>>()));
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (thread_rules, thread_log) = (Arc::clone(&rules), Arc::clone(&log));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let (upstream, rules, log) = (upstream.clone(), Arc::clone(&thread_rules), Arc::clone(&thread_log));
                std::thread::spawn(move || serve_one(client, &upstream, &rules, &log));
            }
        });
        FaultProxy { address, rules, log }
    }

    /// Drops every rule: the faults clear.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }

    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Empties the log (between a faulty run and its repeat).
    pub fn take_log(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn serve_one(client: TcpStream, upstream: &str, rules: &std::sync::Mutex<Vec<(Rule, usize)>>, log: &std::sync::Mutex<Vec<Seen>>) {
    // The request line, peeked: a reset must leave it unread.
    let mut peeked = [0u8; 2048];
    let line = loop {
        let Ok(n) = client.peek(&mut peeked) else { return };
        if n == 0 {
            return;
        }
        if let Some(end) = peeked[..n].windows(2).position(|pair| pair == b"\r\n") {
            break String::from_utf8_lossy(&peeked[..end]).into_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let mut words = line.split(' ');
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    let fault = {
        let mut rules = rules.lock().unwrap();
        let mut chosen = None;
        for (rule, seen) in rules.iter_mut() {
            if rule.method == method && path.contains(rule.path) {
                *seen += 1;
                if chosen.is_none() && *seen >= rule.from && *seen - rule.from < rule.times {
                    chosen = Some(rule.fault.clone());
                }
            }
        }
        chosen
    };
    let index = {
        let mut log = log.lock().unwrap();
        log.push(Seen {
            at: std::time::Instant::now(),
            method: method.clone(),
            path: path.clone(),
            fault: fault.clone(),
            status: None,
        });
        log.len() - 1
    };
    if fault == Some(Fault::Reset) {
        drop(client);
        return;
    }
    let mut client = client;
    let Some((head, body)) = read_request(&mut client) else { return };
    match fault {
        Some(Fault::Stall) => {
            std::thread::sleep(std::time::Duration::from_secs(120));
            return;
        }
        Some(Fault::Status(status, retry_after)) => {
            let retry_after = retry_after.map(|value| format!("Retry-After: {value}\r\n")).unwrap_or_default();
            let _ = write!(
                client,
                "HTTP/1.1 {status} Fault\r\n{retry_after}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        _ => {}
    }
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    let _ = server.write_all(&with_close(&head));
    let _ = server.write_all(&body);
    let mut response = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = find(&response, b"\r\n\r\n") {
            break end + 4;
        }
        match server.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
        }
    };
    let status = String::from_utf8_lossy(&response[..head_end])
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok());
    log.lock().unwrap()[index].status = status;
    let (response_head, rest) = response.split_at(head_end);
    if fault == Some(Fault::Truncate) {
        // Half the body, or half the head when there is no body.
        let length = content_length(response_head).unwrap_or(0);
        if length == 0 {
            let _ = client.write_all(&response_head[..response_head.len() / 2]);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        let _ = client.write_all(&with_close(response_head));
        let mut body = rest.to_vec();
        while body.len() < length / 2 {
            match server.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&buffer[..n]),
            }
        }
        let _ = client.write_all(&body[..(length / 2).min(body.len())]);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let _ = client.write_all(&with_close(response_head));
    let _ = client.write_all(rest);
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
}

/// A request's head and its `Content-Length` body.
fn read_request(client: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = find(&data, b"\r\n\r\n") {
            break end + 4;
        }
        let n = client.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
    };
    let length = content_length(&data[..head_end]).unwrap_or(0);
    while data.len() < head_end + length {
        let n = client.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
    }
    let body = data.split_off(head_end);
    Some((data, body))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// `head` with its `Connection` header replaced by `Connection: close`.
fn with_close(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut lines: Vec<&str> = text
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    format!("{}\r\n\r\n", lines.join("\r\n")).into_bytes()
}
