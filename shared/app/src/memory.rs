//! Resident memory that follows what a run holds now, not what it once held.

/// Allocations of at least this size get a mapping of their own, returned to the system when
/// freed. glibc's default (128 KiB) is dynamic: each such block freed raises the threshold to
/// its size, up to 32 MiB. A collector allocates a buffer the size of a page (a few MiB at
/// 1,000 events) for every page, so after the first pages every page buffer came from the
/// heap, whose freed space mostly stays resident: resident memory crept up over a long run
/// (`make bench`: 2M events peaked 25% above 20k). A fixed threshold stops that.
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Called once, first thing in `main`.
#[allow(unsafe_code)]
pub fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes a tuning parameter of glibc's allocator, under its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
