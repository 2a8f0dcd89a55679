//! Packages in flight: admitted in catalog order while their input bytes
//! stay under a budget, prepared in parallel, finished in catalog order.
//!
//! Loading is most of a build and one package rarely keeps two cores busy,
//! so several packages load (and encode, and stage) at once; but SQLite
//! rows and diagnostics must come in catalog order, so prepared packages
//! wait in a reorder buffer until every package before them is finished. The budget
//! bounds memory by what is read, not by the number of packages: a package
//! bigger than the budget is admitted alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Input bytes of the packages admitted and not yet finished. Peak memory
/// grows by a few times it (the loaded bundles and their parsed form). On
/// a 10,000-bundle synth tree (946 MB) with the action cache, 256 MiB
/// peaked at 688 MiB; 32 MiB at 213 MiB until loading got faster (the
/// manifest memo), then at 230-250 MiB, past the 25% of input the cache
/// issue asks; 16 MiB peaked at 216-218 MiB (24%), and
/// community-operators-prod built no slower; later 187-207 MiB, too close
/// to the line. 8 MiB peaks at 168-170 MiB (22%) with the same build
/// times (10,000 bundles: 7.9-9.0 s against 8.2-8.9 s; 1,000: 0.75-0.81 s
/// against 0.71-1.10 s). Two cores stay busy with a few average packages
/// in flight.
pub(super) const BUDGET_BYTES: u64 = 8 << 20;

/// Runs `prepare` for every item (in parallel, at most `budget` bytes of
/// `sizes` in flight) and `finish` for each prepared one in item order,
/// on the calling thread; returns what `finish` returned, in item order.
///
/// The calling thread may be a pool worker (`-j 1` has only one): it never
/// blocks while the pool has work it could run, so the pool cannot starve.
/// A panic in `prepare` is raised again here.
pub(super) fn run<P, O>(sizes: &[u64], budget: u64, prepare: impl Fn(usize) -> P + Sync, mut finish: impl FnMut(P) -> O) -> Vec<O>
where
    P: Send,
{
    let n = sizes.len();
    let mut outcomes = Vec::with_capacity(n);
    let prepare = &prepare;
    rayon::in_place_scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        let mut admitted = 0;
        let mut in_flight = 0u64;
        let mut ready = BTreeMap::new();
        while outcomes.len() < n {
            // Admit in order; the next package to finish is always admitted,
            // however big, so the build never stalls on the budget.
            while admitted < n && (admitted == outcomes.len() || in_flight + sizes[admitted] <= budget) {
                in_flight += sizes[admitted];
                let sender = sender.clone();
                let idx = admitted;
                scope.spawn(move |_| {
                    let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepare(idx)));
                    // The receiver outlives the scope; a send cannot fail.
                    let _ = sender.send((idx, prepared));
                });
                admitted += 1;
            }
            let next = outcomes.len();
            let prepared = loop {
                if let Some(prepared) = ready.remove(&next) {
                    break prepared;
                }
                let (idx, prepared) = receive(&receiver);
                ready.insert(idx, prepared);
            };
            match prepared {
                Ok(prepared) => outcomes.push(finish(prepared)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
            in_flight -= sizes[next];
        }
    });
    outcomes
}

/// The next prepared item; while none is there, runs the pool's pending
/// work on this thread if it is one of the pool's.
fn receive<T>(receiver: &mpsc::Receiver<T>) -> T {
    loop {
        match receiver.try_recv() {
            Ok(item) => return item,
            Err(mpsc::TryRecvError::Disconnected) => unreachable!("the run holds a sender"),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {}
            // Other workers hold the work; wait a little for it, then look
            // for stealable work again.
            Some(rayon::Yield::Idle) => {
                if let Ok(item) = receiver.recv_timeout(Duration::from_millis(1)) {
                    return item;
                }
            }
            // Not a pool thread: the pool runs the work.
            None => {
                if let Ok(item) = receiver.recv() {
                    return item;
                }
            }
        }
    }
}

/// The bytes of the files under `dirs` (symbolic links followed), as the
/// package's share of the budget; what cannot be read counts nothing (the
/// load reports it).
pub(super) fn input_bytes<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> u64 {
    dirs.into_iter().map(tree_bytes).sum()
}

fn tree_bytes(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(metadata) => bytes_of(path, &metadata),
        Err(_) => 0,
    }
}

/// [`tree_bytes`] of `path`, whose metadata (links followed) is known.
/// Entries are stated through their directory (`fstatat` by name, not a
/// walk of the whole path per file); only a link is stated by path, to
/// follow it.
fn bytes_of(path: &Path, metadata: &std::fs::Metadata) -> u64 {
    if metadata.is_file() {
        return metadata.len();
    }
    if !metadata.is_dir() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let is_symlink = entry.file_type().is_ok_and(|file_type| file_type.is_symlink());
            match if is_symlink {
                std::fs::metadata(entry.path())
            } else {
                entry.metadata()
            } {
                Ok(metadata) => bytes_of(&entry.path(), &metadata),
                Err(_) => 0,
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
    }

    #[test]
    fn finishes_in_item_order_for_any_thread_count() {
        let sizes = vec![5, 1, 300, 2, 2, 7, 1, 1, 40, 3];
        for threads in [1, 2, 4] {
            let finished = pool(threads).install(|| {
                run(
                    &sizes,
                    10,
                    |idx| {
                        // Later items finish loading first, so the reorder
                        // buffer has work to do.
                        std::thread::sleep(Duration::from_millis(10 - idx as u64));
                        idx
                    },
                    |idx| idx,
                )
            });
            assert_eq!(finished, (0..sizes.len()).collect::<Vec<_>>(), "threads {threads}");
        }
    }

    #[test]
    fn in_flight_bytes_stay_under_the_budget_except_for_one_big_item() {
        let sizes = vec![4, 4, 4, 25, 4, 4, 4, 4, 4, 4];
        let in_flight = AtomicU64::new(0);
        let peak = Mutex::new(Vec::new());
        pool(4).install(|| {
            run(
                &sizes,
                10,
                |idx| {
                    let now = in_flight.fetch_add(sizes[idx], Ordering::SeqCst) + sizes[idx];
                    peak.lock().unwrap().push((idx, now));
                    std::thread::sleep(Duration::from_millis(5));
                    idx
                },
                |idx| {
                    in_flight.fetch_sub(sizes[idx], Ordering::SeqCst);
                },
            )
        });
        let peak = peak.into_inner().unwrap();
        assert_eq!(peak.len(), sizes.len());
        for (idx, now) in peak {
            if idx == 3 {
                // Bigger than the budget: admitted only once alone.
                assert_eq!(now, 25);
            } else {
                assert!(now <= 10, "item {idx}: {now} bytes in flight");
            }
        }
    }

    #[test]
    fn several_items_load_at_once() {
        let sizes = vec![1; 8];
        let loading = AtomicU64::new(0);
        let most = AtomicU64::new(0);
        pool(4).install(|| {
            run(
                &sizes,
                100,
                |_| {
                    let now = loading.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    loading.fetch_sub(1, Ordering::SeqCst);
                },
                |_| (),
            )
        });
        assert!(most.load(Ordering::SeqCst) >= 2);
    }

    #[test]
    fn a_panic_while_preparing_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            pool(2).install(|| run(&[1, 1, 1], 10, |idx| if idx == 1 { panic!("boom") } else { idx }, |idx| idx))
        });
        assert!(caught.is_err());
    }

    #[test]
    fn input_bytes_counts_files_below_each_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/manifests")).unwrap();
        std::fs::write(dir.path().join("a/manifests/csv.yaml"), [0u8; 100]).unwrap();
        std::fs::write(dir.path().join("a/top"), [0u8; 11]).unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/x"), [0u8; 7]).unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let missing = dir.path().join("missing");
        assert_eq!(input_bytes([a.as_path(), b.as_path(), missing.as_path()]), 118);
        // A link is followed (to a file or a directory); a dangling one counts nothing.
        std::os::unix::fs::symlink(b.join("x"), a.join("linked-file")).unwrap();
        std::os::unix::fs::symlink(&b, a.join("linked-dir")).unwrap();
        std::os::unix::fs::symlink("gone", a.join("dangling")).unwrap();
        assert_eq!(input_bytes([a.as_path()]), 111 + 7 + 7);
    }
}
