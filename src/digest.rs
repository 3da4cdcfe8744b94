//! Content digests (`sha256:<hex>`) and streaming hashers.
//!
//! Every blob and every unpacked layer is named by its digest; the hashers here
//! let the unpacker verify while it streams, so no byte is read twice.
//!
//! [`Digest`] is rrun's own, not `oci_spec::image::Digest`: oci-spec's accepts
//! any algorithm (sha512, or one it does not know), where a store named by
//! `blobs/sha256/<hex>` must refuse them at parse time; it has no `Ord` (the
//! store keys `BTreeMap`s by digest) and no way to compute one. The two
//! convert both ways: [`Digest::to_oci`] and `Digest::try_from(&oci_digest)`.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

/// A `sha256:<64 hex>` content digest. Other algorithms are refused.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// Why a string is not a [`Digest`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// No `algorithm:` prefix, or not 64 lowercase hex digits after `sha256:`; holds the input.
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    Invalid(String),
    /// An algorithm other than `sha256` (`sha512:…`); holds the input.
    #[error("unsupported digest algorithm in {0:?}: only sha256 is supported")]
    Algorithm(String),
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(h: Sha256) -> Digest {
        Digest { hex: hex::encode(h.finalize()) }
    }

    /// The 64 hex digits, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, as `docker images` shows IDs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// Validates a bare 64-hex string (a directory name in the store, say).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Digest { hex: hex.to_string() })
        } else {
            Err(DigestError::Invalid(hex.to_string()))
        }
    }
}

impl Digest {
    /// The same digest as `oci_spec`'s type, for the descriptors of manifests and indexes.
    pub fn to_oci(&self) -> oci_spec::image::Digest {
        let sha = oci_spec::image::Sha256Digest::from_str(&self.hex)
            .expect("64 lowercase hex digits are always a valid OCI sha256 digest");
        sha.into()
    }
}

/// An OCI descriptor's digest as rrun's: sha256 only, as the store names blobs.
impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = DigestError;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self, Self::Error> {
        d.to_string().parse()
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("sha256", hex)) => Digest::from_hex(hex).map_err(|_| DigestError::Invalid(s.to_string())),
            Some((_, _)) => Err(DigestError::Algorithm(s.to_string())),
            None => Err(DigestError::Invalid(s.to_string())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A reader that hashes (and counts) everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), count: 0 }
    }

    /// Reads the rest of the stream (trailing tar padding, say) so the digest covers it all.
    pub fn finish(mut self) -> io::Result<(Digest, u64, R)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Digest::from_hasher(self.hasher), self.count, self.inner))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes (and counts) everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), count: 0 }
    }

    /// The digest and length of everything written, and the writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (Digest::from_hasher(self.hasher), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that copies everything read through it into a writer (a blob being stored).
pub struct TeeReader<R, W> {
    inner: R,
    copy: W,
}

impl<R: Read, W: Write> TeeReader<R, W> {
    pub fn new(inner: R, copy: W) -> Self {
        TeeReader { inner, copy }
    }
    pub fn into_parts(self) -> (R, W) {
        (self.inner, self.copy)
    }
}

impl<R: Read, W: Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// 64 random hex digits from the kernel's random source: new container,
/// network and volume IDs, unique temporary names.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `bytes`.
        let n = unsafe { libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_string() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_bad_digests() {
        assert!("sha256:abc".parse::<Digest>().is_err());
        assert!(matches!("sha512:00".parse::<Digest>(), Err(DigestError::Algorithm(_))));
        assert!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".parse::<Digest>().is_err());
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(upper.parse::<Digest>().is_err());
    }

    #[test]
    fn converts_to_and_from_oci_spec_digests() {
        let d = Digest::of(b"x");
        let oci = d.to_oci();
        assert_eq!(oci.to_string(), d.to_string());
        assert_eq!(Digest::try_from(&oci), Ok(d));
        let sha512: oci_spec::image::Digest = format!("sha512:{}", "a".repeat(128)).parse().unwrap();
        assert!(matches!(Digest::try_from(&sha512), Err(DigestError::Algorithm(_))));
    }

    #[test]
    fn hashing_writer_counts_and_hashes_everything() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (d, n, inner) = w.finish();
        assert_eq!((d, n, inner.as_slice()), (Digest::of(b"hello world"), 11, &b"hello world"[..]));
    }

    #[test]
    fn hashing_reader_counts_and_hashes_everything() {
        let data = b"hello world".repeat(1000);
        let mut r = HashingReader::new(&data[..]);
        let mut first = [0u8; 10];
        r.read_exact(&mut first).unwrap();
        let (d, n, _) = r.finish().unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, Digest::of(&data));
    }
}
