//! Postgres' binary `COPY` format, encoded in one place for every writer of bulk rows (the indexer's events, the
//! attestor's samples): no text to format here nor to parse on the server (hex bytes, decimal integers, RFC 3339
//! times), which is most of what a text `COPY` costs.
//!
//! A stream is a header, tuples (a field count, then each field as a 4-byte length and its bytes), and a trailer
//! (<https://www.postgresql.org/docs/current/sql-copy.html>, "Binary Format").

/// Postgres' epoch (2000-01-01T00:00:00Z) in Unix seconds: binary `TIMESTAMPTZ` counts microseconds from it.
const POSTGRES_EPOCH_SECS: i64 = 946_684_800;

/// A value the binary format cannot carry: the message says which and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(String);

/// A binary `COPY ... FROM STDIN (FORMAT binary)` stream being encoded.
#[derive(Debug)]
pub struct BinaryCopy {
    buf: Vec<u8>,
}

impl BinaryCopy {
    /// A stream holding its header (signature, flags and header extension length, both zero), with room for
    /// `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(19));
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        Self { buf }
    }

    /// Starts a tuple of `fields` fields.
    pub fn tuple(&mut self, fields: usize) -> Result<(), EncodeError> {
        let fields = i16::try_from(fields).map_err(|_| EncodeError(format!("{fields} columns in a row")))?;
        self.buf.extend_from_slice(&fields.to_be_bytes());
        Ok(())
    }

    /// A field of raw bytes (`BYTEA`, or the UTF-8 of a `TEXT`).
    pub fn field(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let len = i32::try_from(bytes.len())
            .map_err(|_| EncodeError(format!("a field of {} bytes is too long", bytes.len())))?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// A `BIGINT` field.
    pub fn int8(&mut self, value: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    /// A `BOOLEAN` field.
    pub fn bool(&mut self, value: bool) {
        self.buf.extend_from_slice(&1i32.to_be_bytes());
        self.buf.push(u8::from(value));
    }

    /// A `TIMESTAMPTZ` field, from seconds and microseconds since the Unix epoch.
    pub fn timestamptz(&mut self, unix_secs: i64, micros: u32) {
        self.int8((unix_secs - POSTGRES_EPOCH_SECS) * 1_000_000 + i64::from(micros));
    }

    /// A `NUMERIC` field of a decimal integer (`[-+]?[0-9]+`): base-10,000 digits, most significant first, trailing
    /// zero digits left out (the weight keeps their place), scale 0.
    pub fn numeric(&mut self, decimal: &str) -> Result<(), EncodeError> {
        let (negative, digits) = match decimal.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, decimal.strip_prefix('+').unwrap_or(decimal)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EncodeError(format!("{decimal:?} is not a decimal integer")));
        }
        let digits = digits.trim_start_matches('0').as_bytes();
        let mut groups: Vec<i16> = Vec::with_capacity(digits.len() / 4 + 1);
        let head = digits.len() % 4;
        if head > 0 {
            groups.push(decimal_group(&digits[..head]));
        }
        groups.extend(digits[head..].chunks(4).map(decimal_group));
        let weight = groups.len().saturating_sub(1);
        while groups.last() == Some(&0) {
            groups.pop();
        }
        let too_long = || EncodeError(format!("{decimal:?} is too long for NUMERIC"));
        let ndigits = i16::try_from(groups.len()).map_err(|_| too_long())?;
        let weight = i16::try_from(weight).map_err(|_| too_long())?;
        let sign: u16 = if negative && !groups.is_empty() { 0x4000 } else { 0 };
        self.buf.extend_from_slice(&(8 + 2 * i32::from(ndigits)).to_be_bytes());
        self.buf.extend_from_slice(&ndigits.to_be_bytes());
        self.buf.extend_from_slice(&weight.to_be_bytes());
        self.buf.extend_from_slice(&sign.to_be_bytes());
        self.buf.extend_from_slice(&0i16.to_be_bytes());
        for group in groups {
            self.buf.extend_from_slice(&group.to_be_bytes());
        }
        Ok(())
    }

    /// Bytes encoded and not yet taken.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is left to take.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes what is encoded so far, to send it while the rest is encoded; the stream goes on in a buffer with room
    /// for `capacity` bytes.
    pub fn take(&mut self, capacity: usize) -> Vec<u8> {
        std::mem::replace(&mut self.buf, Vec::with_capacity(capacity))
    }

    /// The rest of the stream, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

/// The value of up to four ASCII decimal digits.
fn decimal_group(digits: &[u8]) -> i16 {
    digits.iter().fold(0, |acc, d| acc * 10 + i16::from(d - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(decimal: &str) -> Result<Vec<u8>, EncodeError> {
        let mut copy = BinaryCopy { buf: Vec::new() };
        copy.numeric(decimal).map(|()| copy.buf)
    }

    #[test]
    fn numerics_are_postgres_binary_numerics() {
        // Length, then ndigits, weight, sign, scale, then base-10,000 digits.
        assert_eq!(numeric("0").unwrap(), [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(numeric("-0000").unwrap(), numeric("0").unwrap());
        assert_eq!(numeric("12345678").unwrap(), [0, 0, 0, 12, 0, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E]);
        // 1|0000: the trailing zero digit is left out, the weight keeps its place.
        assert_eq!(numeric("-10000").unwrap(), [0, 0, 0, 10, 0, 1, 0, 1, 0x40, 0, 0, 0, 0, 1]);
        assert_eq!(numeric("+7").unwrap(), [0, 0, 0, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
        for bad in ["", "-", "1.5", "1e3", "0x10", " 1"] {
            assert!(numeric(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_stream_is_header_tuples_and_trailer() {
        let mut copy = BinaryCopy::new(0);
        copy.tuple(3).unwrap();
        copy.field(b"ab").unwrap();
        copy.int8(-2);
        copy.bool(true);
        let mut expected = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        expected.extend_from_slice(&[0, 3, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 8]);
        expected.extend_from_slice(&(-2i64).to_be_bytes());
        expected.extend_from_slice(&[0, 0, 0, 1, 1, 0xff, 0xff]);
        assert_eq!(copy.finish(), expected);
    }
}
