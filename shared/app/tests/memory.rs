//! Its own test binary: the allocator's counters are process-wide, so no other test may
//! allocate meanwhile.
#![cfg(all(target_os = "linux", target_env = "gnu"))]
#![allow(unsafe_code)]

use collector_app::return_large_buffers_to_the_system;

const PAGE_BUFFER: usize = 1024 * 1024;

/// Bytes in blocks that have a mapping of their own.
fn mapped_bytes() -> usize {
    // SAFETY: `mallinfo2` only reads glibc's allocator statistics.
    unsafe { libc::mallinfo2() }.hblkhd
}

#[test]
fn page_buffers_keep_a_mapping_of_their_own_after_one_was_freed() {
    return_large_buffers_to_the_system();
    // With glibc's default, freeing this raises the threshold to its size, and the next buffer
    // of this size would come from the heap.
    drop(std::hint::black_box(vec![1u8; PAGE_BUFFER]));
    let before = mapped_bytes();
    let buffer = std::hint::black_box(vec![1u8; PAGE_BUFFER]);
    let mapped = mapped_bytes() - before;
    drop(buffer);
    assert!(
        mapped >= PAGE_BUFFER,
        "a {PAGE_BUFFER}-byte buffer came from the heap ({mapped} bytes newly mapped)"
    );
}
