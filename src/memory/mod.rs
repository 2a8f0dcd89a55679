//! What happens when memory runs out: a clear one-line error and exit 2,
//! not Rust's `memory allocation of N bytes failed` and an abort with a
//! core dump (issue 22).
//!
//! Stable Rust has no hook for allocation failure (`set_alloc_error_hook`
//! is unstable), so [`Guarded`] wraps the real allocator and handles a null
//! return itself. Once the allocator has failed nothing may allocate, so
//! the message is put together in a buffer on the stack and written with
//! one `write(2)`, and the process ends with `_exit(2)`: no unwinding, no
//! destructors, no flushing of buffers that would need memory. That is
//! why this module needs `unsafe`: implementing `GlobalAlloc` is unsafe by
//! definition, and `write` and `_exit` are plain libc calls.
//!
//! What catbuild was doing comes from [`doing`], a note each thread keeps
//! in a fixed buffer (no allocation to read it back): the pipeline sets it
//! for each stage and action, so the error names the bundle or package.
//! A failed `try_reserve` ends the process too; catbuild does not use it.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::fmt::Write as _;

/// How much of a note is kept; longer ones are cut.
const NOTE_BYTES: usize = 200;

thread_local! {
    /// This thread's note: its bytes and length. Const-initialised and
    /// without a destructor, so reading it never allocates.
    static NOTE: Cell<([u8; NOTE_BYTES], usize)> = const { Cell::new(([0; NOTE_BYTES], 0)) };
}

/// The global allocator `A`, ending the process with a clear error when it
/// has no memory left.
pub struct Guarded<A>(pub A);

// SAFETY: every call is passed on to `A` unchanged; only a null result,
// which `A` returns when it has no memory, is handled here, and that never
// returns.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Guarded<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let pointer = unsafe { self.0.alloc(layout) };
        if pointer.is_null() {
            out_of_memory(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let pointer = unsafe { self.0.alloc_zeroed(layout) };
        if pointer.is_null() {
            out_of_memory(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let grown = unsafe { self.0.realloc(pointer, layout, new_size) };
        if grown.is_null() {
            out_of_memory(new_size);
        }
        grown
    }
}

/// Sets this thread's note of what it is doing (`loading bundle …`) until
/// the returned guard is dropped, which puts back the note before it.
pub fn doing(what: std::fmt::Arguments<'_>) -> Doing {
    let mut note = Buffer::new();
    let _ = note.write_fmt(what);
    let previous = NOTE.try_with(|cell| cell.replace((note.bytes, note.len))).ok();
    Doing { previous }
}

/// Restores the previous note when dropped (see [`doing`]).
#[must_use = "the note lasts as long as the guard"]
pub struct Doing {
    previous: Option<([u8; NOTE_BYTES], usize)>,
}

impl Drop for Doing {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = NOTE.try_with(|cell| cell.set(previous));
        }
    }
}

/// Writes the error and ends the process; allocates nothing.
#[cold]
fn out_of_memory(size: usize) -> ! {
    let mut message = Buffer::<1024>::new();
    let _ = write!(message, "error: out of memory: catbuild could not allocate {size} bytes");
    let note = NOTE.try_with(Cell::get).unwrap_or(([0; NOTE_BYTES], 0));
    if let Some(what) = std::str::from_utf8(&note.0[..note.1]).ok().filter(|what| !what.is_empty()) {
        let _ = write!(message, " while {what}");
    }
    let _ = writeln!(
        message,
        "; lower `file-size` or `line-length` under [limits] in catalog.toml to refuse such input sooner, build with fewer threads (`-j 1`), or give catbuild more memory"
    );
    let text = message.as_bytes();
    // SAFETY: `text` is a live buffer of `text.len()` bytes; a short or
    // failed write to stderr cannot be helped now. `_exit` ends the process
    // at once, which is what is wanted with no memory left.
    unsafe {
        libc::write(libc::STDERR_FILENO, text.as_ptr().cast(), text.len());
        libc::_exit(2)
    }
}

/// A string in a fixed array, cut at its size (at a character boundary).
struct Buffer<const N: usize = NOTE_BYTES> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buffer<N> {
    fn new() -> Self {
        Buffer { bytes: [0; N], len: 0 }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> std::fmt::Write for Buffer<N> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let room = N - self.len;
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        if take < text.len() { Err(std::fmt::Error) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> String {
        let (bytes, len) = NOTE.with(Cell::get);
        String::from_utf8(bytes[..len].to_vec()).unwrap()
    }

    #[test]
    fn notes_nest_and_come_back() {
        assert_eq!(note(), "");
        {
            let _outer = doing(format_args!("the {} stage", "load"));
            assert_eq!(note(), "the load stage");
            {
                let _inner = doing(format_args!("loading bundle `{}`", "a/0.0.1"));
                assert_eq!(note(), "loading bundle `a/0.0.1`");
            }
            assert_eq!(note(), "the load stage");
        }
        assert_eq!(note(), "");
    }

    #[test]
    fn long_notes_are_cut_at_a_character() {
        let _note = doing(format_args!("{}", "é".repeat(NOTE_BYTES)));
        assert_eq!(note(), "é".repeat(NOTE_BYTES / 2));
    }
}
