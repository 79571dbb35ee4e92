//! A message body's buffer, let go of in a way that gives its memory back to the system.
//!
//! glibc's allocator serves big blocks (128 KiB and up) with their own memory mappings and
//! unmaps them when they are freed; but freeing one also raises the size from which it
//! does so, to that block's size (its "dynamic mmap threshold"). After one refused 10 MB
//! body, every body under 10 MB came from the allocator's heaps, where a freed block is
//! kept for reuse rather than given back: 250 bodies refused at once left hundreds of
//! megabytes with the process. A buffer shrunk to one byte first is unmapped as a page,
//! which raises nothing. Other allocators just see a shrink before a free.

use std::ops::{Deref, DerefMut};

/// A body's octets: a `Vec<u8>` released with [`release`] when dropped.
#[derive(Debug, Default)]
pub(crate) struct Buffer(Vec<u8>);

impl Buffer {
    /// The octets, to keep (nothing is released).
    pub fn into_vec(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

impl Deref for Buffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        release(std::mem::take(&mut self.0));
    }
}

/// Free `data`, a big buffer shrunk to one octet first (see the module documentation).
pub(crate) fn release(mut data: Vec<u8>) {
    if data.capacity() >= BIG {
        data.clear();
        data.shrink_to(1);
    }
}

/// From this size up, glibc maps blocks of their own (its initial mmap threshold).
const BIG: usize = 128 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_keeps_or_releases_its_octets() {
        let mut b = Buffer::default();
        b.extend_from_slice(b"kept");
        assert_eq!(b.into_vec(), b"kept");
        let mut b = Buffer::default();
        b.reserve_exact(4 * BIG);
        b.extend_from_slice(&[1; 1000]);
        drop(b);
        release(Vec::with_capacity(BIG));
        release(Vec::new());
    }
}
