//! Reading little-endian fields from the front of a byte slice, for the small files kept
//! beside the ledger (stored readings, directory listings).

/// Appends `bytes` after their `u32` length (what [`Reader::bytes`] reads).
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Ends a small file's bytes with their CRC-32 (what [`unseal`] checks).
pub(crate) fn seal(out: &mut Vec<u8>) {
    let sum = crate::crc::crc32(out);
    out.extend_from_slice(&sum.to_le_bytes());
}

/// A reader of a small file's fields after its `magic` and `version`, when its CRC-32 (the
/// last four bytes) is right and it has that magic and version.
pub(crate) fn unseal<'a>(bytes: &'a [u8], magic: &[u8; 8], version: u32) -> Option<Reader<'a>> {
    let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
    if crate::crc::crc32(body).to_le_bytes() != sum {
        return None;
    }
    let mut r = Reader(body);
    (r.array::<8>()? == *magic && r.u32()? == version).then_some(r)
}

/// The bytes not read yet; every read is `None` when too few are left.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    /// The next `N` bytes, as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array().map(u8::from_le_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }

    pub(crate) fn f64(&mut self) -> Option<f64> {
        self.array().map(f64::from_le_bytes)
    }

    /// Bytes after their `u32` length.
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }

    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
