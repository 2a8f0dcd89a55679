//! A TCP proxy in front of the loopback registry that, once, cuts a
//! connection mid-transfer (tests/push.rs: an upload; tests/pull.rs: a
//! blob download), and incompressible test data to make transfers long.

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
