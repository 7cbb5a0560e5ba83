//! Cutting a response body out of the bytes read from an instance, by its framing, without IO.
//!
//! The body is passed on as it arrives: each call hands back the body bytes already read (sharing the read
//! buffer's memory) and keeps the framing's state between reads. A chunked body is decoded to its data (hyper's
//! server frames it again for the client) and its trailers are read and dropped, as before: the router removes
//! `Trailer` from responses, so hyper would not send them anyway.

use bytes::{Buf, Bytes, BytesMut};

use crate::codec::BodyFraming;

/// Longest chunk-size line (with extensions) and longest trailer section accepted. Counted in `u32`: the
/// decoder's state then takes 16 bytes, and a response body still fits in 128 (moved without a `memcpy` call).
const MAX_CHUNK_LINE: u32 = 4096;
const MAX_TRAILERS: u32 = 64 * 1024;

#[derive(Debug)]
pub(crate) enum Decoder {
    Length(u64),
    Chunked(Chunk),
    Close,
    Done,
}

/// What the buffer gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    Data(Bytes),
    /// The body is complete; bytes after it (if any) are left in the buffer.
    Done,
    NeedMore,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("invalid chunked encoding")]
    InvalidChunk,
    #[error("chunk-size line or trailers too long")]
    TooLong,
    #[error("the instance closed the connection before the end of the body")]
    Incomplete,
}

/// Where the chunked decoder is within the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Reading the hex size; `line` counts the bytes of the size line so far.
    Size {
        size: u64,
        digits: u8,
        line: u32,
    },
    /// Whitespace after the size.
    SizeSpace {
        size: u64,
        line: u32,
    },
    /// A chunk extension, ignored.
    Extension {
        size: u64,
        line: u32,
    },
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final blank line).
    TrailerStart {
        seen: u32,
    },
    TrailerLine {
        seen: u32,
    },
    TrailerLf {
        seen: u32,
    },
    EndLf,
}

impl Decoder {
    pub(crate) fn new(framing: BodyFraming) -> Decoder {
        match framing {
            BodyFraming::Empty | BodyFraming::Length(0) => Decoder::Done,
            BodyFraming::Length(n) => Decoder::Length(n),
            BodyFraming::Chunked => Decoder::Chunked(Chunk::Size { size: 0, digits: 0, line: 0 }),
            BodyFraming::Close => Decoder::Close,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self, Decoder::Done)
    }

    /// Body bytes still expected, when the framing says.
    pub(crate) fn remaining(&self) -> Option<u64> {
        match self {
            Decoder::Length(n) => Some(*n),
            Decoder::Done => Some(0),
            Decoder::Chunked(_) | Decoder::Close => None,
        }
    }

    /// Takes the next piece of the body from `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, DecodeError> {
        match self {
            Decoder::Done => Ok(Decoded::Done),
            _ if buf.is_empty() => Ok(Decoded::NeedMore),
            Decoder::Length(remaining) => {
                let take = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                *remaining -= take as u64;
                if *remaining == 0 {
                    *self = Decoder::Done;
                }
                Ok(Decoded::Data(buf.split_to(take).freeze()))
            }
            Decoder::Close => Ok(Decoded::Data(buf.split().freeze())),
            Decoder::Chunked(state) => {
                let decoded = decode_chunked(state, buf)?;
                if decoded == Decoded::Done {
                    *self = Decoder::Done;
                }
                Ok(decoded)
            }
        }
    }

    /// The instance closed the connection: the end of a read-to-close body, an error for any other.
    pub(crate) fn eof(&mut self) -> Result<(), DecodeError> {
        match self {
            Decoder::Close | Decoder::Done => {
                *self = Decoder::Done;
                Ok(())
            }
            Decoder::Length(_) | Decoder::Chunked(_) => Err(DecodeError::Incomplete),
        }
    }
}

fn decode_chunked(state: &mut Chunk, buf: &mut BytesMut) -> Result<Decoded, DecodeError> {
    loop {
        if let Chunk::Data(remaining) = *state {
            if buf.is_empty() {
                return Ok(Decoded::NeedMore);
            }
            let take = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
            *state =
                if remaining == take as u64 { Chunk::DataCr } else { Chunk::Data(remaining - take as u64) };
            return Ok(Decoded::Data(buf.split_to(take).freeze()));
        }
        let Some(&byte) = buf.first() else { return Ok(Decoded::NeedMore) };
        buf.advance(1);
        if *state == Chunk::EndLf {
            return if byte == b'\n' { Ok(Decoded::Done) } else { Err(DecodeError::InvalidChunk) };
        }
        *state = step(*state, byte)?;
    }
}

/// One control byte of the chunked framing (RFC 9112 §7.1).
fn step(state: Chunk, byte: u8) -> Result<Chunk, DecodeError> {
    use Chunk::*;
    let next = match (state, byte) {
        (Size { size, digits, line }, _) if byte.is_ascii_hexdigit() => {
            if digits >= 16 {
                return Err(DecodeError::InvalidChunk);
            }
            let digit = u64::from((byte as char).to_digit(16).unwrap_or(0));
            Size { size: size << 4 | digit, digits: digits + 1, line: line + 1 }
        }
        (Size { size, digits: 1.., line }, b' ' | b'\t') | (SizeSpace { size, line }, b' ' | b'\t') => {
            SizeSpace { size, line: line + 1 }
        }
        (Size { size, digits: 1.., line }, b';') | (SizeSpace { size, line }, b';') => {
            Extension { size, line: line + 1 }
        }
        (Size { size, digits: 1.., .. } | SizeSpace { size, .. } | Extension { size, .. }, b'\r') => {
            SizeLf { size }
        }
        (Extension { .. }, b'\n') => return Err(DecodeError::InvalidChunk),
        (Extension { size, line }, _) => Extension { size, line: line + 1 },
        (SizeLf { size: 0 }, b'\n') => TrailerStart { seen: 0 },
        (SizeLf { size }, b'\n') => Data(size),
        (DataCr, b'\r') => DataLf,
        (DataLf, b'\n') => Size { size: 0, digits: 0, line: 0 },
        (TrailerStart { .. }, b'\r') => EndLf,
        (TrailerStart { .. } | TrailerLine { .. }, b'\n') => return Err(DecodeError::InvalidChunk),
        (TrailerLine { seen }, b'\r') => TrailerLf { seen: seen + 1 },
        (TrailerStart { seen } | TrailerLine { seen }, _) => TrailerLine { seen: seen + 1 },
        (TrailerLf { seen }, b'\n') => TrailerStart { seen: seen + 1 },
        _ => return Err(DecodeError::InvalidChunk),
    };
    match next {
        Size { line, .. } | SizeSpace { line, .. } | Extension { line, .. } if line > MAX_CHUNK_LINE => {
            Err(DecodeError::TooLong)
        }
        TrailerLine { seen } | TrailerStart { seen } if seen > MAX_TRAILERS => Err(DecodeError::TooLong),
        next => Ok(next),
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
