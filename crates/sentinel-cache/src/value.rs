//! What a cache can hold: values that know their size and, for shared stores, their bytes.

use std::sync::Arc;

use bytes::Bytes;
use sentinel_detect::{EntityType, Finding, RecognizerId};

/// A value a cache can hold.
pub trait CacheValue: Clone + Send + Sync + 'static {
    /// The bytes this value keeps alive, as the byte cap counts them.
    fn weight(&self) -> u64;
    /// The value as bytes, for a shared store.
    fn encode(&self) -> Vec<u8>;
    /// The value from bytes written by [`CacheValue::encode`]; `None` when they are not
    /// (another version, corruption), which a cache treats as a miss.
    fn decode(bytes: &[u8]) -> Option<Self>;
}

impl CacheValue for Bytes {
    fn weight(&self) -> u64 {
        self.len() as u64
    }
    fn encode(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn decode(bytes: &[u8]) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(bytes))
    }
}

/// A detector's findings for one text.
impl CacheValue for Arc<[Finding]> {
    fn weight(&self) -> u64 {
        let own = std::mem::size_of::<Finding>() * self.len();
        let names: usize = self.iter().map(|f| f.entity.as_str().len()).sum();
        (own + names) as u64
    }

    // Version 2: the recognizer's word carries `Finding::folded` above its 16 bits (version
    // 1, before the flag, reads as a miss: its findings of percent-encoded values would be
    // missing).
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(2);
        w.u32(u32::try_from(self.len()).unwrap_or(u32::MAX));
        for f in self.iter() {
            w.bytes(f.entity.as_str().as_bytes());
            w.u64(f.start as u64);
            w.u64(f.end as u64);
            w.u32(f.score.to_bits());
            w.u32(u32::from(f.recognizer.index()) | u32::from(f.folded) << 16);
        }
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Option<Arc<[Finding]>> {
        let mut r = Reader::new(bytes, 2)?;
        let n = r.u32()?;
        let mut out = Vec::with_capacity(usize::try_from(n).ok()?.min(4096));
        for _ in 0..n {
            let entity = std::str::from_utf8(r.bytes()?).ok()?;
            let start = usize::try_from(r.u64()?).ok()?;
            let end = usize::try_from(r.u64()?).ok()?;
            let score = f32::from_bits(r.u32()?);
            let word = r.u32()?;
            let folded = match word >> 16 {
                0 => false,
                1 => true,
                _ => return None,
            };
            out.push(Finding {
                entity: EntityType::new(entity),
                start,
                end,
                score,
                recognizer: RecognizerId::from_index(u16::try_from(word & 0xFFFF).ok()?),
                escaped: false,
                folded,
            });
        }
        r.end()?;
        Some(out.into())
    }
}

/// A detection cache entry: its text, fingerprint and findings.
impl CacheValue for crate::Scanned {
    fn weight(&self) -> u64 {
        (self.text.len() + self.fingerprint.len()) as u64 + self.findings.weight()
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(1);
        w.bytes(self.text.as_bytes());
        w.bytes(&self.fingerprint);
        w.bytes(&self.findings.encode());
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Option<crate::Scanned> {
        let mut r = Reader::new(bytes, 1)?;
        let text = std::str::from_utf8(r.bytes()?).ok()?.into();
        let fingerprint = r.bytes()?.try_into().ok()?;
        let findings = Arc::<[Finding]>::decode(r.bytes()?)?;
        r.end()?;
        Some(crate::Scanned {
            text,
            fingerprint,
            findings,
        })
    }
}

/// A length-prefixed binary writer with a version byte.
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn new(version: u8) -> Writer {
        Writer(vec![version])
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads what [`Writer`] wrote; every read checks the length left.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], version: u8) -> Option<Reader<'a>> {
        match bytes.split_first() {
            Some((&v, rest)) if v == version => Some(Reader(rest)),
            _ => None,
        }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
    /// `Some` when everything was read.
    pub(crate) fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}
