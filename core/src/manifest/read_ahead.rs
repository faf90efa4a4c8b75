//! SHA-256 of a file with its reads done ahead: reader threads fill a small ring of page-aligned buffers while the
//! calling thread hashes, so the disk and the SHA units are busy at the same time and a single large file never
//! waits on its own reads.
//!
//! On Linux, chunks the page cache does not hold (checked with `mincore`) are read with `O_DIRECT`, straight from
//! the disk into our buffers. A cold buffered read makes the kernel allocate, fill and copy every page, which costs
//! about as much CPU as hashing it; with direct reads the cores are left to SHA-256. Chunks the cache holds are read
//! through it, so a warm folder costs one copy. Direct reads leave the page cache as it was: hashing a model does not
//! push the rest of the machine's working set out.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest, Sha256};

/// Bytes per read: large enough that a direct read keeps several disk requests in flight.
pub(super) const CHUNK: usize = 4 << 20;
/// Reader threads per file; each reads every `READERS`-th chunk, so that many reads are in flight at once.
const READERS: usize = 2;
/// Buffers per reader. A file in progress holds `READERS * DEPTH * CHUNK` bytes (16 MiB).
const DEPTH: usize = 2;
/// Alignment of the buffers: the kernel copies into a page-aligned buffer markedly faster than into a merely
/// 16-byte aligned one, and `O_DIRECT` needs at least the device's block alignment.
const PAGE: usize = 4096;

/// SHA-256 of a file's bytes, with its size (the bytes read up to end of file, not the size listed earlier).
/// `progress` is called with the number of bytes just hashed.
pub(super) fn sha256_file(path: &Path, progress: Option<&(dyn Fn(u64) + Sync)>) -> io::Result<(u64, [u8; 32])> {
    let file = File::open(path)?;
    let listed = file.metadata()?.len();
    let mut hasher = Sha256::new();
    let size = if listed as usize <= CHUNK {
        hash_inline(&file, listed, &mut hasher, progress)?
    } else {
        let source = Source::open(path, file, listed);
        hash_ahead(&source, &mut hasher, progress)?
    };
    Ok((size, hasher.finalize().into()))
}

/// Hashes a small file on the calling thread: one buffer, reads through the page cache.
fn hash_inline(
    mut file: &File,
    listed: u64,
    hasher: &mut Sha256,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> io::Result<u64> {
    // Sized for the file (plus one page, so a file that grew shows its end in one more read).
    let mut buf = AlignedBuf::new((listed as usize).next_multiple_of(PAGE) + PAGE);
    let mut size = 0u64;
    loop {
        let n = match file.read(buf.as_mut()) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf.as_ref()[..n]);
        size += n as u64;
        if let Some(progress) = progress {
            progress(n as u64);
        }
    }
    Ok(size)
}

/// A chunk read by a reader thread: the buffer and how many bytes of it were filled. A chunk shorter than
/// [`CHUNK`] is the file's last.
type Filled = io::Result<(AlignedBuf, usize)>;

/// Hashes a large file: [`READERS`] threads read its chunks ahead, the calling thread hashes them in order.
fn hash_ahead(source: &Source, hasher: &mut Sha256, progress: Option<&(dyn Fn(u64) + Sync)>) -> io::Result<u64> {
    std::thread::scope(|scope| {
        // One lane per reader: filled buffers come back on `full`, hashed ones go back on `free`. Dropping the
        // lanes (on return, also on error) ends the readers: their next send or receive fails.
        let mut lanes: Vec<(Receiver<Filled>, SyncSender<AlignedBuf>)> = Vec::with_capacity(READERS);
        for first in 0..READERS {
            let (full_tx, full_rx) = sync_channel::<Filled>(DEPTH);
            let (free_tx, free_rx) = sync_channel::<AlignedBuf>(DEPTH);
            for _ in 0..DEPTH {
                free_tx.send(AlignedBuf::new(CHUNK)).expect("the receiver is alive");
            }
            scope.spawn(move || read_lane(source, first, &free_rx, &full_tx));
            lanes.push((full_rx, free_tx));
        }
        let mut size = 0u64;
        for chunk in 0.. {
            let (full, free) = &lanes[chunk % READERS];
            let (buf, n) = full.recv().unwrap_or_else(|_| Err(io::Error::other("a read-ahead thread stopped")))?;
            hasher.update(&buf.as_ref()[..n]);
            size += n as u64;
            if let Some(progress) = progress {
                progress(n as u64);
            }
            if n < CHUNK {
                break;
            }
            // The reader may have stopped at the end of the file; then the buffer is simply dropped.
            let _ = free.send(buf);
        }
        Ok(size)
    })
}

/// One reader thread: reads chunks `first`, `first + READERS`, ... into free buffers until the end of the file, an
/// error, or the hasher hanging up.
fn read_lane(source: &Source, first: usize, free: &Receiver<AlignedBuf>, full: &SyncSender<Filled>) {
    let mut chunk = first;
    while let Ok(mut buf) = free.recv() {
        let filled = source.read_chunk(chunk as u64 * CHUNK as u64, buf.as_mut()).map(|n| (buf, n));
        let last = !matches!(&filled, Ok((_, n)) if *n == CHUNK);
        if full.send(filled).is_err() || last {
            return;
        }
        chunk += READERS;
    }
}

/// Where a large file's chunks are read from.
#[derive(Debug)]
struct Source {
    /// The file, read through the page cache.
    cached: File,
    /// The same file opened with `O_DIRECT`; `None` where direct reads are not available (another OS, a filesystem
    /// that refuses them, a file that cannot be mapped for `residency`).
    direct: Option<File>,
    /// Which pages the cache holds: those chunks are read through it. `None` reads every chunk directly.
    residency: Option<Residency>,
}

impl Source {
    fn open(path: &Path, cached: File, listed: u64) -> Self {
        match Residency::map(&cached, listed) {
            Some(residency) => Self { direct: open_direct(path), cached, residency: Some(residency) },
            None => Self { cached, direct: None, residency: None },
        }
    }

    /// Reads the chunk at `offset` into `buf` (a whole chunk unless the file ends); returns the bytes read.
    fn read_chunk(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        if let Some(direct) = &self.direct
            && !self.residency.as_ref().is_some_and(|r| r.mostly_cached(offset, buf.len()))
        {
            n = match direct.read_at(buf, offset) {
                Ok(n) => n,
                // Interrupted, or refused (EINVAL: an alignment this device does not take): read it through the cache.
                Err(e) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::InvalidInput => 0,
                Err(e) => return Err(e),
            };
        }
        // The cached chunks, and the rest of a short direct read (the end of the file, or a partial read).
        while n < buf.len() {
            match self.cached.read_at(&mut buf[n..], offset + n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(path).ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> Option<File> {
    None
}

/// A read-only shared mapping of a file, never touched: only used to ask `mincore` which pages the cache holds.
#[derive(Debug)]
struct Residency {
    /// Start of the mapping (an address, kept as an integer so that the struct is `Send` and `Sync`).
    addr: usize,
    /// Length of the mapping: the file's size when it was opened.
    len: usize,
}

impl Residency {
    fn map(file: &File, len: u64) -> Option<Self> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(len).ok().filter(|&len| len > 0)?;
        // SAFETY: a fresh read-only mapping chosen by the kernel; it aliases no Rust memory and is never read.
        let addr =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        (addr != libc::MAP_FAILED).then_some(Self { addr: addr as usize, len })
    }

    /// Whether the cache holds at least half of the pages of `[offset, offset + len)`. Beyond the mapped size (a
    /// file that grew) the answer is yes, so those bytes are read through the cache.
    fn mostly_cached(&self, offset: u64, len: usize) -> bool {
        let Ok(offset) = usize::try_from(offset) else { return true };
        if offset >= self.len {
            return true;
        }
        let len = len.min(self.len - offset);
        // One byte per page; PAGE is the smallest page size, so this is long enough for any.
        let mut pages = vec![0u8; len.div_ceil(PAGE)];
        // SAFETY: `offset` is a multiple of CHUNK, hence page-aligned, and the range lies inside the mapping;
        // `pages` has room for one byte per page of the range.
        let rc = unsafe { libc::mincore((self.addr + offset) as *mut libc::c_void, len, pages.as_mut_ptr().cast()) };
        if rc != 0 {
            return true;
        }
        let page = page_size();
        let count = len.div_ceil(page);
        pages[..count].iter().filter(|&&p| p & 1 != 0).count() * 2 >= count
    }
}

impl Drop for Residency {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`, which nothing else refers to.
        unsafe {
            libc::munmap(self.addr as *mut libc::c_void, self.len);
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).ok().filter(|&s| s >= PAGE).unwrap_or(PAGE)
}

/// A page-aligned heap buffer.
#[derive(Debug)]
struct AlignedBuf {
    backing: Vec<u8>,
    offset: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> Self {
        let backing = vec![0u8; len + PAGE];
        let offset = backing.as_ptr().align_offset(PAGE).min(PAGE);
        Self { backing, offset, len }
    }

    fn as_ref(&self) -> &[u8] {
        &self.backing[self.offset..self.offset + self.len]
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.backing[self.offset..self.offset + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes that differ from chunk to chunk.
    fn bytes(len: usize) -> Vec<u8> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ len as u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn equals_plain_sha256_at_every_boundary() {
        let ring = READERS * DEPTH * CHUNK;
        let sizes = [
            0,
            1,
            PAGE - 1,
            PAGE,
            PAGE + 1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            2 * CHUNK + 1,
            3 * CHUNK - 7,
            ring,
            ring + 1,
            2 * ring + CHUNK / 2 + 3,
        ];
        let dir = tempfile::tempdir().unwrap();
        for len in sizes {
            let data = bytes(len);
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &data).unwrap();
            let seen = std::sync::atomic::AtomicU64::new(0);
            let tick = |n: u64| {
                seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            };
            let (size, digest) = sha256_file(&path, Some(&tick)).unwrap();
            assert_eq!(size, len as u64, "size of {len}");
            assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&data)), "digest of {len} bytes");
            assert_eq!(seen.into_inner(), len as u64, "progress of {len}");
        }
    }

    #[test]
    fn direct_and_cached_reads_agree() {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(3 * CHUNK + 12_345);
        let path = dir.path().join("w.bin");
        std::fs::write(&path, &data).unwrap();
        let expected = <[u8; 32]>::from(Sha256::digest(&data));
        let open = || File::open(&path).unwrap();
        let sources = [
            // As opened for hashing: the file was just written, so the cache holds it.
            Source::open(&path, open(), data.len() as u64),
            // Every chunk read with O_DIRECT, where the filesystem takes it.
            Source { cached: open(), direct: open_direct(&path), residency: None },
            // Every chunk read through the cache.
            Source { cached: open(), direct: None, residency: None },
        ];
        for source in &sources {
            let mut hasher = Sha256::new();
            assert_eq!(hash_ahead(source, &mut hasher, None).unwrap(), data.len() as u64, "{source:?}");
            assert_eq!(<[u8; 32]>::from(hasher.finalize()), expected, "{source:?}");
        }
        if let Some(residency) = &sources[0].residency {
            assert!(residency.mostly_cached(0, CHUNK));
            assert!(residency.mostly_cached(10 * CHUNK as u64, CHUNK), "beyond the mapping: read through the cache");
        }
    }
}
