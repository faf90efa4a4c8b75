//! SHA-256 of a file, read the cheapest way the page cache allows.
//!
//! A large file the page cache holds is hashed straight from a read-only mapping on the calling thread (see
//! [`super::mapping`]): no copy into a buffer, no other thread. Otherwise its reads are done ahead: reader threads
//! fill a small ring of page-aligned buffers while the calling thread hashes, so the disk and the SHA units are busy
//! at the same time and a single large file never waits on its own reads.
//!
//! On Linux, chunks the page cache does not hold (checked with `mincore`) are read with `O_DIRECT`, straight from
//! the disk into our buffers. A cold buffered read makes the kernel allocate, fill and copy every page, which costs
//! about as much CPU as hashing it; with direct reads the cores are left to SHA-256. Chunks the cache holds are
//! hashed from the mapping (or, half-held ones, read through the cache). Direct reads leave the page cache as it was:
//! hashing a model does not push the rest of the machine's working set out.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest, Sha256};

use super::mapping::Mapping;

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
        // One `mincore` over the whole file decides: held (all but a few pages) means hashed from the mapping here.
        match Mapping::new(&file, listed) {
            Some(mapping) if nearly_all(mapping.cached_pages(0, mapping.len())) => {
                hash_mapped(&file, &mapping, &mut hasher, progress)?
            }
            mapping => hash_ahead(&Source::open(path, file, mapping), &mut hasher, progress)?,
        }
    };
    Ok((size, hasher.finalize().into()))
}

/// Whether `(cached, total)` pages are cached enough to hash from the mapping: all but 1 in 64. The few missing
/// pages are then read by the page fault, on this thread.
fn nearly_all((cached, total): (usize, usize)) -> bool {
    total > 0 && cached * 64 >= total * 63
}

/// Whether `(cached, total)` pages are cached enough to read through the cache rather than directly: half.
fn mostly((cached, total): (usize, usize)) -> bool {
    total == 0 || cached * 2 >= total
}

/// The error for a mapped file that shrank while it was hashed: its digest would be of bytes it no longer has.
fn shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was hashed")
}

/// Hashes a file the page cache holds from its mapping, on the calling thread, then whatever was appended to it
/// after it was mapped.
fn hash_mapped(
    file: &File,
    mapping: &Mapping,
    hasher: &mut Sha256,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> io::Result<u64> {
    let mut offset = 0;
    // In chunks, to report progress and to stop soon after the file shrank.
    while offset < mapping.len() {
        let bytes = mapping.bytes(offset, CHUNK);
        hasher.update(bytes);
        if mapping.shrank() {
            return Err(shrank());
        }
        offset += bytes.len();
        if let Some(progress) = progress {
            progress(bytes.len() as u64);
        }
    }
    hash_tail(file, offset as u64, hasher, progress)
}

/// Hashes what a file holds past `offset` (bytes appended after it was mapped); returns the file's size.
fn hash_tail(
    file: &File,
    offset: u64,
    hasher: &mut Sha256,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> io::Result<u64> {
    let mut size = offset;
    // Usually the first read finds the end of the file, so the buffer is small.
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match file.read_at(&mut buf, size) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        if let Some(progress) = progress {
            progress(n as u64);
        }
    }
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

/// What a reader thread did with a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// Read this many bytes into the buffer; fewer than [`CHUNK`] means the end of the file.
    Read(usize),
    /// Nothing: the cache holds the whole chunk, so the hasher takes it from the mapping.
    Mapped,
}

/// A chunk handed from a reader thread to the hasher: the buffer (unused for [`Fill::Mapped`]) and what is in it.
type Filled = io::Result<(AlignedBuf, Fill)>;

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
            let (buf, fill) = full.recv().unwrap_or_else(|_| Err(io::Error::other("a read-ahead thread stopped")))?;
            let n = match (fill, &source.mapping) {
                (Fill::Read(n), _) => {
                    hasher.update(&buf.as_ref()[..n]);
                    n
                }
                (Fill::Mapped, Some(mapping)) => {
                    hasher.update(mapping.bytes(chunk * CHUNK, CHUNK));
                    if mapping.shrank() {
                        return Err(shrank());
                    }
                    CHUNK
                }
                (Fill::Mapped, None) => unreachable!("a chunk is mapped only when the file is"),
            };
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
        let filled = source.read_chunk(chunk * CHUNK, buf.as_mut()).map(|fill| (buf, fill));
        let last = !matches!(&filled, Ok((_, Fill::Mapped | Fill::Read(CHUNK))));
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
    /// that refuses them, a file that could not be mapped, so that `mincore` cannot tell cached chunks).
    direct: Option<File>,
    /// The file mapped, to ask `mincore` which pages the cache holds and to hash those chunks from. `None` reads
    /// every chunk through the cache.
    mapping: Option<Mapping>,
}

impl Source {
    fn open(path: &Path, cached: File, mapping: Option<Mapping>) -> Self {
        let direct = mapping.as_ref().and_then(|_| open_direct(path));
        Self { cached, direct, mapping }
    }

    /// Reads the chunk at `offset` into `buf` (a whole chunk unless the file ends), or leaves it to the mapping when
    /// the cache holds all of it.
    fn read_chunk(&self, offset: usize, buf: &mut [u8]) -> io::Result<Fill> {
        let residency = self.mapping.as_ref().map(|m| (m.len(), m.cached_pages(offset, buf.len())));
        // A whole chunk inside the mapping, held by the cache: nothing to read. (A last, partial chunk is read, so
        // that whatever was appended since the file was mapped is read on to its end.)
        if let Some((len, pages)) = residency
            && offset + buf.len() <= len
            && nearly_all(pages)
        {
            return Ok(Fill::Mapped);
        }
        let mut n = 0;
        if let Some(direct) = &self.direct
            && !residency.is_some_and(|(_, pages)| mostly(pages))
        {
            n = match direct.read_at(buf, offset as u64) {
                Ok(n) => n,
                // Interrupted, or refused (EINVAL: an alignment this device does not take): read it through the cache.
                Err(e) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::InvalidInput => 0,
                Err(e) => return Err(e),
            };
        }
        // The half-cached chunks, and the rest of a short direct read (the end of the file, or a partial read).
        while n < buf.len() {
            match self.cached.read_at(&mut buf[n..], (offset + n) as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Fill::Read(n))
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
    use std::io::Write;

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

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    /// `(size, digest)` of the file at `path` hashed every way a large file can be: as `sha256_file` decides, from
    /// the mapping alone, read ahead with cached chunks taken from the mapping, read ahead with every chunk read
    /// directly where the filesystem allows, and read ahead through the cache.
    fn every_way(path: &Path) -> Vec<(&'static str, u64, [u8; 32])> {
        let open = || File::open(path).unwrap();
        let len = open().metadata().unwrap().len();
        let mut out = vec![{
            let (size, digest) = sha256_file(path, None).unwrap();
            ("detected", size, digest)
        }];
        let mut run = |name, hash: &dyn Fn(&mut Sha256) -> io::Result<u64>| {
            let mut hasher = Sha256::new();
            let size = hash(&mut hasher).unwrap();
            out.push((name, size, hasher.finalize().into()));
        };
        if let Some(mapping) = Mapping::new(&open(), len) {
            run("mapped", &|h| hash_mapped(&open(), &mapping, h, None));
        }
        run("ahead, as detected", &|h| hash_ahead(&Source::open(path, open(), Mapping::new(&open(), len)), h, None));
        let direct = Source { cached: open(), direct: open_direct(path), mapping: None };
        run("ahead, direct", &|h| hash_ahead(&direct, h, None));
        let cached = Source { cached: open(), direct: None, mapping: None };
        run("ahead, through the cache", &|h| hash_ahead(&cached, h, None));
        out
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
            assert_eq!(digest, sha256(&data), "digest of {len} bytes");
            assert_eq!(seen.into_inner(), len as u64, "progress of {len}");
            if len > CHUNK {
                let ways = every_way(&path);
                assert_eq!(ways.len(), 5, "{len} bytes: every way ran");
                for (way, size, digest) in ways {
                    assert_eq!((size, digest), (len as u64, sha256(&data)), "{len} bytes, {way}");
                }
            }
        }
    }

    #[test]
    fn a_cached_file_is_hashed_from_its_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        std::fs::write(&path, bytes(3 * CHUNK + 12_345)).unwrap();
        let file = File::open(&path).unwrap();
        let mapping = Mapping::new(&file, file.metadata().unwrap().len()).expect("a regular file maps");
        let (cached, total) = mapping.cached_pages(0, mapping.len());
        assert!(nearly_all((cached, total)), "just written, so cached: {cached} of {total} pages");
        let source = Source::open(&path, File::open(&path).unwrap(), Some(mapping));
        let mut buf = AlignedBuf::new(CHUNK);
        assert_eq!(source.read_chunk(0, buf.as_mut()).unwrap(), Fill::Mapped);
        assert_eq!(source.read_chunk(3 * CHUNK, buf.as_mut()).unwrap(), Fill::Read(12_345), "the last chunk is read");
        assert_eq!(source.read_chunk(10 * CHUNK, buf.as_mut()).unwrap(), Fill::Read(0), "past the end");
    }

    #[test]
    fn a_partly_cached_file_mixes_mapped_and_direct_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        let data = bytes(4 * CHUNK + 777);
        std::fs::write(&path, &data).unwrap();
        // Evict the second chunk (clean pages only, hence the fsync). Filesystems without a page cache of their own
        // (tmpfs) keep it; the digests must agree either way.
        File::open(&path).unwrap().sync_all().unwrap();
        {
            use std::os::fd::AsRawFd;
            let file = File::open(&path).unwrap();
            // SAFETY: an advisory call on an open descriptor.
            unsafe { libc::posix_fadvise(file.as_raw_fd(), CHUNK as i64, CHUNK as i64, libc::POSIX_FADV_DONTNEED) };
        }
        let open = || File::open(&path).unwrap();
        let source = Source::open(&path, open(), Mapping::new(&open(), data.len() as u64));
        let mapping = source.mapping.as_ref().unwrap();
        if mapping.cached_pages(CHUNK, CHUNK).0 == 0 {
            let mut buf = AlignedBuf::new(CHUNK);
            assert_eq!(source.read_chunk(0, buf.as_mut()).unwrap(), Fill::Mapped);
            assert_eq!(source.read_chunk(CHUNK, buf.as_mut()).unwrap(), Fill::Read(CHUNK), "the evicted chunk is read");
            assert_eq!(buf.as_ref(), &data[CHUNK..2 * CHUNK]);
        }
        let mut hasher = Sha256::new();
        assert_eq!(hash_ahead(&source, &mut hasher, None).unwrap(), data.len() as u64);
        assert_eq!(<[u8; 32]>::from(hasher.finalize()), sha256(&data));
    }

    #[test]
    fn a_file_that_shrinks_while_mapped_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        let data = bytes(6 * CHUNK + 99);
        for (way, cut) in [("mapped", CHUNK + 10), ("ahead", CHUNK + 10), ("mapped", 0), ("ahead", 0)] {
            std::fs::write(&path, &data).unwrap();
            let file = File::open(&path).unwrap();
            let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let once = std::sync::Once::new();
            // After the first chunk is hashed, another writer cuts the file short.
            let cut_short = |_: u64| once.call_once(|| writer.set_len(cut as u64).unwrap());
            let mapping = Mapping::new(&file, data.len() as u64).unwrap();
            let mut hasher = Sha256::new();
            let result = match way {
                "mapped" => hash_mapped(&file, &mapping, &mut hasher, Some(&cut_short)),
                _ => hash_ahead(
                    &Source { cached: file, direct: None, mapping: Some(mapping) },
                    &mut hasher,
                    Some(&cut_short),
                ),
            };
            match result {
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{way}, cut at {cut}: {e}"),
                // Read ahead, the chunks read before the cut may be the ones the hasher gets: then the reads end early.
                Ok(size) => assert!(way == "ahead" && size < data.len() as u64, "{way}, cut at {cut}: {size} bytes"),
            }
        }
        // And the mapping's guard leaves other files alone: the same file, whole again, hashes as before.
        std::fs::write(&path, &data).unwrap();
        assert_eq!(sha256_file(&path, None).unwrap(), (data.len() as u64, sha256(&data)));
    }

    #[test]
    fn a_file_that_grows_while_mapped_is_hashed_to_its_new_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        let mut data = bytes(2 * CHUNK + 5);
        std::fs::write(&path, &data).unwrap();
        let extra = bytes(CHUNK + 3);
        let file = File::open(&path).unwrap();
        let mapping = Mapping::new(&file, data.len() as u64).unwrap();
        let appender = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        let once = std::sync::Once::new();
        let grow = |_: u64| once.call_once(|| (&appender).write_all(&extra).unwrap());
        let mut hasher = Sha256::new();
        let size = hash_mapped(&file, &mapping, &mut hasher, Some(&grow)).unwrap();
        data.extend_from_slice(&extra);
        assert_eq!((size, <[u8; 32]>::from(hasher.finalize())), (data.len() as u64, sha256(&data)));
    }
}
