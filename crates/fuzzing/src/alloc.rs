//! A global allocator that forwards to `System` and counts, per thread, the largest single
//! allocation and the peak of live heap bytes since the last [`reset_allocations`]. Only the
//! calling thread's allocations count, so tests running in parallel do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Install with `#[global_allocator] static ALLOCATOR: Tracking = Tracking;`.
pub struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
    let _ = LIVE.try_with(|live| {
        let now = live.get() + size as isize;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get() - size as isize));
}

// SAFETY: every call is forwarded to `System` unchanged; the bookkeeping touches only
// thread-local `Cell`s with const initialisers, which never allocate.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_alloc(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

/// Starts measuring this thread afresh.
pub fn reset_allocations() {
    LARGEST.with(|largest| largest.set(0));
    LIVE.with(|live| live.set(0));
    PEAK.with(|peak| peak.set(0));
}

/// This thread's (largest single allocation, peak live bytes) since the last reset.
pub fn allocations() -> (usize, usize) {
    (
        LARGEST.with(Cell::get),
        PEAK.with(|peak| peak.get().max(0) as usize),
    )
}
