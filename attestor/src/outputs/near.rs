//! Near-duplicate fingerprints of attested responses, and the LSH index a scan probes them with.
//!
//! A fingerprint is a one-permutation MinHash (Li, Owen and Zhang 2012) with optimal densification (Shrivastava
//! 2017) of the response's word-shingle set (`prova_verify::similarity`): every shingle is hashed once, the hash
//! picks one of `K` bins and the bin keeps the least value it sees; a bin no shingle reached copies the value of the
//! first non-empty bin on a sequence of bins drawn from its own index (the same sequence for every text), so that
//! two fingerprints agree in each bin with probability equal to the Jaccard similarity of the two sets. Each bin
//! keeps 16 bits of its minimum (b-bit MinHash, Li and König 2010): unrelated bins agree by chance with
//! probability 2^-16, which the estimate removes. One hash per shingle, where classic MinHash needs `K`.
//!
//! Fingerprints stay in the lab's store (`attestor_fingerprints`); they are never published or put in a bundle.
//!
//! Candidates come from LSH banding: the `K` values are cut into `bands` bands of `rows` values; two fingerprints
//! that agree in every value of at least one band are compared. A pair of similarity `J` becomes a candidate with
//! probability `1 - (1 - J^rows)^bands`.

use prova_verify::similarity::{for_each_shingle, for_each_word_hash, mix64};
use serde::{Deserialize, Serialize};

/// Version byte of the fingerprint encoding.
const ENCODING: u8 = 1;

/// Bytes before the bin values: encoding, shingle size, log2 of the bin count, reserved, shingle count (u32 LE).
const HEADER: usize = 8;

/// Seed of the shingle-to-bin hash.
const BIN_SEED: u64 = 0x7072_6f76_612d_6f70;

/// How fingerprints are made; fixed for a store (a fingerprint records its own parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheme {
    /// Words per shingle.
    pub shingle: usize,
    /// log2 of the number of bins `K`.
    pub log2_bins: u8,
}

impl Default for Scheme {
    /// 3-word shingles, 128 bins (256 bytes of values): the defaults chosen from the calibration in
    /// `BENCHMARKS.md` ("Near-duplicate scan and calibration").
    fn default() -> Self {
        Self { shingle: prova_verify::similarity::DEFAULT_SHINGLE, log2_bins: 7 }
    }
}

impl Scheme {
    /// The number of bins `K`.
    pub fn bins(&self) -> usize {
        1 << self.log2_bins
    }

    /// The fingerprint of a text, or `None` when it has no words.
    pub fn fingerprint(&self, text: &str) -> Option<Fingerprint> {
        let k = self.bins();
        let shift = 64 - u32::from(self.log2_bins);
        let mut mins = vec![u32::MAX; k];
        let mut filled = vec![false; k];
        let mut count = 0u32;
        let mut words = Vec::with_capacity(text.len() / 5 + 1);
        for_each_word_hash(text, |w| words.push(w));
        for_each_shingle(&words, self.shingle, |s| {
            let g = mix64(s ^ BIN_SEED);
            let bin = (g >> shift) as usize;
            let value = g as u32;
            if value < mins[bin] {
                mins[bin] = value;
            }
            filled[bin] = true;
            count += 1;
        });
        if count == 0 {
            return None;
        }
        let mut bytes = Vec::with_capacity(HEADER + 2 * k);
        bytes.extend_from_slice(&[ENCODING, self.shingle as u8, self.log2_bins, 0]);
        bytes.extend_from_slice(&count.to_le_bytes());
        for bin in 0..k {
            let value = if filled[bin] { mins[bin] } else { mins[densify(bin, &filled, k)] };
            // The low 16 bits of the minimum (the bin was chosen by the high bits, so these are independent).
            bytes.extend_from_slice(&(value as u16).to_le_bytes());
        }
        Some(Fingerprint(bytes))
    }
}

/// The non-empty bin an empty `bin` copies: the first non-empty one on the sequence `mix64(bin, attempt)`.
fn densify(bin: usize, filled: &[bool], k: usize) -> usize {
    let mut attempt = 1u64;
    loop {
        let candidate = (mix64(((bin as u64) << 32) ^ attempt ^ 0x6465_6e73) % k as u64) as usize;
        if filled[candidate] {
            return candidate;
        }
        attempt += 1;
    }
}

/// A stored fingerprint (its encoding: see the constants above and `docs/distillation.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(pub Vec<u8>);

impl Fingerprint {
    /// Reads a stored fingerprint, or `None` when its encoding is unknown or it is cut short.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        FingerprintRef::new(&bytes)?;
        Some(Self(bytes))
    }

    /// A borrowed view.
    pub fn view(&self) -> FingerprintRef<'_> {
        FingerprintRef::new(&self.0).expect("made by Scheme::fingerprint or checked by from_bytes")
    }
}

/// A fingerprint's bytes, checked.
#[derive(Debug, Clone, Copy)]
pub struct FingerprintRef<'a> {
    bytes: &'a [u8],
}

impl<'a> FingerprintRef<'a> {
    /// Checks the encoding of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() < HEADER || bytes[0] != ENCODING || bytes[2] > 12 {
            return None;
        }
        (bytes.len() == HEADER + 2 * (1usize << bytes[2])).then_some(Self { bytes })
    }

    /// The scheme that made it.
    pub fn scheme(&self) -> Scheme {
        Scheme { shingle: self.bytes[1] as usize, log2_bins: self.bytes[2] }
    }

    /// How many shingles the text had (repeats included).
    pub fn shingles(&self) -> u32 {
        u32::from_le_bytes(self.bytes[4..8].try_into().expect("4 bytes"))
    }

    /// The 16-bit value of bin `i`.
    pub fn value(&self, i: usize) -> u16 {
        u16::from_le_bytes([self.bytes[HEADER + 2 * i], self.bytes[HEADER + 2 * i + 1]])
    }

    /// The bin values as bytes (2 per bin, little-endian).
    pub fn values(&self) -> &'a [u8] {
        &self.bytes[HEADER..]
    }

    /// The estimated Jaccard similarity of the two texts (0 when the schemes differ).
    pub fn similarity(&self, other: &FingerprintRef<'_>) -> f64 {
        if self.scheme() != other.scheme() {
            return 0.0;
        }
        estimate(self.values(), other.values())
    }
}

/// Chance that two unrelated 16-bit bin values agree.
const CHANCE: f64 = 1.0 / 65536.0;

/// The Jaccard estimate from two equal-length arrays of 16-bit bin values: the share of agreeing bins, less the
/// chance agreement of 16-bit values, clamped to [0, 1].
pub fn estimate(a: &[u8], b: &[u8]) -> f64 {
    let bins = a.len() / 2;
    let mut agree = 0usize;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(y.try_into().expect("8 bytes"));
        let d = x ^ y;
        // A 16-bit lane agrees when it is zero.
        for lane in 0..4 {
            agree += usize::from((d >> (16 * lane)) & 0xffff == 0);
        }
    }
    let share = agree as f64 / bins as f64;
    ((share - CHANCE) / (1.0 - CHANCE)).clamp(0.0, 1.0)
}

/// LSH banding over fingerprints: `bands` bands of `rows` bins each (`bands * rows` at most `K`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Banding {
    /// Number of bands.
    pub bands: usize,
    /// Bins per band.
    pub rows: usize,
}

impl Default for Banding {
    /// 32 bands of 4 rows: candidates at similarity 0.7 with probability 0.9998, at 0.5 with 0.87, at 0.2 with
    /// 0.05 (chosen from the calibration in `BENCHMARKS.md`).
    fn default() -> Self {
        Self { bands: 32, rows: 4 }
    }
}

impl Banding {
    /// The chance that a pair of similarity `j` becomes a candidate.
    pub fn candidate_probability(&self, j: f64) -> f64 {
        1.0 - (1.0 - j.powi(self.rows as i32)).powi(self.bands as i32)
    }

    /// Checks the banding against a scheme.
    pub fn check(&self, scheme: &Scheme) -> Result<(), String> {
        if self.bands == 0 || self.rows == 0 || self.bands * self.rows > scheme.bins() {
            return Err(format!(
                "{} bands of {} rows do not fit {} bins (bands x rows must be at most the bins)",
                self.bands,
                self.rows,
                scheme.bins()
            ));
        }
        Ok(())
    }

    /// The key of band `band` of a fingerprint's values.
    pub fn key(&self, values: &[u8], band: usize) -> u64 {
        self.key_from(band_seed(band), values, band)
    }

    /// [`Banding::key`] with the band's seed ([`band_seed`]) already computed.
    fn key_from(&self, seed: u64, values: &[u8], band: usize) -> u64 {
        let start = 2 * band * self.rows;
        let part = &values[start..start + 2 * self.rows];
        let mut h = seed;
        for chunk in part.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = mix64(h ^ u64::from_le_bytes(word));
        }
        h
    }
}

/// The seed of band `band`'s keys.
fn band_seed(band: usize) -> u64 {
    mix64(band as u64 ^ 0x6261_6e64)
}

/// A static table of band keys to entry numbers (the suspect records of a scan chunk): entries are bucketed by the
/// high bits of their keys (a counting sort), so a lookup reads one bucket.
#[derive(Debug)]
pub struct BandIndex {
    banding: Banding,
    seeds: Vec<u64>,
    shift: u32,
    starts: Vec<u32>,
    keys: Vec<u64>,
    entries: Vec<u32>,
}

impl BandIndex {
    /// Indexes fingerprints' values (entry `i` is `values[i]`); `None` values are not indexed.
    pub fn build(banding: Banding, values: &[Option<&[u8]>]) -> Self {
        use rayon::prelude::*;
        let per: Vec<Vec<u64>> = values
            .par_iter()
            .map(|v| v.map_or_else(Vec::new, |v| (0..banding.bands).map(|b| banding.key(v, b)).collect()))
            .collect();
        let total: usize = per.iter().map(Vec::len).sum();
        let bits = (total.max(2) as f64).log2().ceil() as u32;
        let shift = 64 - bits.clamp(1, 31);
        let buckets = 1usize << (64 - shift);
        let mut starts = vec![0u32; buckets + 1];
        for keys in &per {
            for key in keys {
                starts[(key >> shift) as usize + 1] += 1;
            }
        }
        for i in 0..buckets {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts.clone();
        let mut keys = vec![0u64; total];
        let mut entries = vec![0u32; total];
        for (entry, ks) in per.iter().enumerate() {
            for key in ks {
                let bucket = (key >> shift) as usize;
                let at = fill[bucket] as usize;
                keys[at] = *key;
                entries[at] = entry as u32;
                fill[bucket] += 1;
            }
        }
        let seeds = (0..banding.bands).map(band_seed).collect();
        Self { banding, seeds, shift, starts, keys, entries }
    }

    /// Bytes of memory the index holds.
    pub fn memory(&self) -> usize {
        self.starts.len() * 4 + self.keys.len() * 12
    }

    /// Calls `hit` with every entry that shares a band with `values` (an entry may come more than once).
    pub fn probe(&self, values: &[u8], mut hit: impl FnMut(u32)) {
        for (band, seed) in self.seeds.iter().enumerate() {
            let key = self.banding.key_from(*seed, values, band);
            let bucket = (key >> self.shift) as usize;
            let (from, to) = (self.starts[bucket] as usize, self.starts[bucket + 1] as usize);
            for at in from..to {
                if self.keys[at] == key {
                    hit(self.entries[at]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prova_verify::similarity::jaccard;
    use rand::{Rng, SeedableRng};

    fn text(rng: &mut rand::rngs::StdRng, words: usize) -> String {
        (0..words).map(|_| format!("w{}", rng.gen_range(0..20_000))).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn identical_texts_agree_everywhere_and_unrelated_ones_nowhere() {
        let scheme = Scheme::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let a = text(&mut rng, 200);
        let b = text(&mut rng, 200);
        let fa = scheme.fingerprint(&a).unwrap();
        assert_eq!(fa.view().similarity(&scheme.fingerprint(&a.to_uppercase()).unwrap().view()), 1.0);
        assert!(fa.view().similarity(&scheme.fingerprint(&b).unwrap().view()) < 0.05);
        assert_eq!(fa.view().shingles(), 198);
        assert!(scheme.fingerprint(" -- ").is_none());
        assert!(Fingerprint::from_bytes(fa.0[..20].to_vec()).is_none());
        // Short texts fill few bins; densification still makes equal texts equal.
        let short = scheme.fingerprint("just five words right here").unwrap();
        assert_eq!(short.view().similarity(&scheme.fingerprint("Just five words, right here!").unwrap().view()), 1.0);
    }

    #[test]
    fn estimates_track_the_exact_similarity() {
        let scheme = Scheme::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut errors = Vec::new();
        for _ in 0..200 {
            let original: Vec<String> = text(&mut rng, 300).split(' ').map(str::to_owned).collect();
            let keep = rng.gen_range(100..300);
            let copy = original[..keep].join(" ");
            let original = original.join(" ");
            let exact = jaccard(&original, &copy, scheme.shingle);
            let estimated =
                scheme.fingerprint(&original).unwrap().view().similarity(&scheme.fingerprint(&copy).unwrap().view());
            errors.push(estimated - exact);
        }
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let sd = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / errors.len() as f64).sqrt();
        assert!(mean.abs() < 0.015, "unbiased: mean error {mean}");
        assert!(sd < 0.06, "about sqrt(J(1-J)/K): sd {sd}");
    }

    #[test]
    fn the_band_index_finds_pairs_that_share_a_band() {
        let scheme = Scheme::default();
        let banding = Banding::default();
        banding.check(&scheme).unwrap();
        assert!(Banding { bands: 40, rows: 4 }.check(&scheme).is_err());
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let texts: Vec<String> = (0..500).map(|_| text(&mut rng, 80)).collect();
        let prints: Vec<Fingerprint> = texts.iter().map(|t| scheme.fingerprint(t).unwrap()).collect();
        let values: Vec<Option<&[u8]>> = prints.iter().map(|f| Some(f.view().values())).collect();
        let index = BandIndex::build(banding, &values);
        for (i, print) in prints.iter().enumerate() {
            let mut hits = Vec::new();
            index.probe(print.view().values(), |e| hits.push(e));
            assert_eq!(hits.iter().filter(|e| **e as usize == i).count(), banding.bands, "every band of itself");
            assert!(hits.iter().all(|e| *e as usize == i), "no unrelated text shares a band");
        }
        assert!((banding.candidate_probability(0.7) - 0.9998).abs() < 1e-4);
    }
}
