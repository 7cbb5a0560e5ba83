//! Message bodies as streams: a reader for request bodies (`Content-Length` or chunked) that
//! never holds more than one buffer, and a writer that frames response bytes as chunks.

use std::io::{self, BufRead, Read, Write};

use crate::head::Framing;

/// Longest chunk-size line or trailer line accepted, in bytes.
const MAX_LINE: u64 = 4 * 1024;
/// Total bytes of trailer fields accepted after the last chunk.
const MAX_TRAILERS: u64 = 16 * 1024;

/// Reads one request body from a connection, leaving the connection at the next request.
pub struct BodyReader<'a, R> {
    inner: &'a mut R,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Bytes left of a `Content-Length` body.
    Length(u64),
    /// Before a chunk-size line.
    ChunkSize,
    /// Bytes left of the current chunk's data.
    ChunkData(u64),
    /// The line ending that follows a chunk's data.
    ChunkEnd,
    Done,
}

impl<'a, R: BufRead> BodyReader<'a, R> {
    pub fn new(inner: &'a mut R, framing: Framing) -> BodyReader<'a, R> {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
        };
        BodyReader { inner, state }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads and drops the rest of the body, up to `limit` bytes; whether it got to the end.
    pub fn drain(&mut self, limit: u64) -> bool {
        let copied = io::copy(&mut self.take(limit), &mut io::sink());
        copied.is_ok() && self.is_done()
    }

    fn read_line(&mut self, limit: u64) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        (&mut *self.inner).take(limit).read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            return Err(if line.len() as u64 == limit {
                invalid("chunked body line too long")
            } else {
                io::ErrorKind::UnexpectedEof.into()
            });
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    }

    fn read_data(&mut self, buf: &mut [u8], left: u64) -> io::Result<(usize, u64)> {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok((n, left - n as u64))
    }
}

impl<R: BufRead> Read for BodyReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Length(left) => {
                    let (n, left) = self.read_data(buf, left)?;
                    self.state = if left == 0 { State::Done } else { State::Length(left) };
                    return Ok(n);
                }
                State::ChunkSize => {
                    let line = self.read_line(MAX_LINE)?;
                    let size = parse_chunk_size(&line)?;
                    if size == 0 {
                        self.skip_trailers()?;
                        self.state = State::Done;
                    } else {
                        self.state = State::ChunkData(size);
                    }
                }
                State::ChunkData(left) => {
                    let (n, left) = self.read_data(buf, left)?;
                    self.state = if left == 0 { State::ChunkEnd } else { State::ChunkData(left) };
                    return Ok(n);
                }
                State::ChunkEnd => {
                    if !self.read_line(2)?.is_empty() {
                        return Err(invalid("chunk data longer than its size"));
                    }
                    self.state = State::ChunkSize;
                }
            }
        }
    }
}

impl<R: BufRead> BodyReader<'_, R> {
    /// Trailer fields are read and ignored, up to an empty line.
    fn skip_trailers(&mut self) -> io::Result<()> {
        let mut budget = MAX_TRAILERS;
        loop {
            let line = self.read_line(MAX_LINE.min(budget))?;
            if line.is_empty() {
                return Ok(());
            }
            budget = budget.saturating_sub(line.len() as u64 + 2);
            if budget == 0 {
                return Err(invalid("chunked body trailers too large"));
            }
        }
    }
}

/// `1a3f;name=value` → 0x1a3f. Extensions are ignored.
fn parse_chunk_size(line: &[u8]) -> io::Result<u64> {
    let size = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid("bad chunk size"));
    }
    // At most 15 hex digits, all checked above: fits in a u64.
    let text = std::str::from_utf8(size).map_err(|_| invalid("bad chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| invalid("bad chunk size"))
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// Frames everything written to it as one chunk per `write`; `finish` writes the last chunk.
pub struct ChunkedWriter<'a, W: Write>(pub &'a mut W);

impl<W: Write> ChunkedWriter<'_, W> {
    pub fn finish(self) -> io::Result<()> {
        self.0.write_all(b"0\r\n\r\n")?;
        self.0.flush()
    }
}

impl<W: Write> Write for ChunkedWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !buf.is_empty() {
            write!(self.0, "{:x}\r\n", buf.len())?;
            self.0.write_all(buf)?;
            self.0.write_all(b"\r\n")?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(raw: &[u8], framing: Framing) -> (io::Result<Vec<u8>>, Vec<u8>) {
        let mut input = raw;
        let mut body = BodyReader::new(&mut input, framing);
        let mut out = Vec::new();
        // A tiny buffer exercises every state transition across reads.
        let mut buf = [0u8; 3];
        let result = loop {
            match body.read(&mut buf) {
                Ok(0) => break Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        (result, input.to_vec())
    }

    #[test]
    fn reads_a_length_delimited_body_and_stops_there() {
        let (body, rest) = read_all(b"hello worldGET /", Framing::Length(11));
        assert_eq!(body.unwrap(), b"hello world");
        assert_eq!(rest, b"GET /");
    }

    #[test]
    fn a_short_length_delimited_body_is_an_error() {
        let (body, _) = read_all(b"hello", Framing::Length(11));
        assert_eq!(body.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn decodes_chunks_with_extensions_and_trailers() {
        let raw = b"5;ext=1\r\nhello\r\n6\r\n world\r\nA\nabcdefghij\n0\r\nTrailer: x\r\n\r\nNEXT";
        let (body, rest) = read_all(raw, Framing::Chunked);
        assert_eq!(body.unwrap(), b"hello worldabcdefghij");
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn rejects_malformed_chunks() {
        for raw in [
            &b"x\r\nhello\r\n0\r\n\r\n"[..],
            b"\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"fffffffffffffffff\r\n",
            b"5\r\nhel",
            b"5\r\nhello\r\n",
        ] {
            let (body, _) = read_all(raw, Framing::Chunked);
            assert!(body.is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn limits_chunk_lines_and_trailers() {
        let long_size = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_LINE as usize));
        assert!(read_all(long_size.as_bytes(), Framing::Chunked).0.is_err());
        let trailers = format!("0\r\n{}\r\n", "T: v\r\n".repeat(MAX_TRAILERS as usize / 6 + 1));
        assert!(read_all(trailers.as_bytes(), Framing::Chunked).0.is_err());
    }

    #[test]
    fn drain_reports_whether_it_reached_the_end() {
        let mut input: &[u8] = b"0123456789";
        assert!(BodyReader::new(&mut input, Framing::Length(10)).drain(100));
        let mut input: &[u8] = b"0123456789";
        assert!(!BodyReader::new(&mut input, Framing::Length(10)).drain(5));
    }

    #[test]
    fn frames_writes_as_chunks() {
        let mut out = Vec::new();
        let mut chunked = ChunkedWriter(&mut out);
        chunked.write_all(b"chunk 0\n").unwrap();
        chunked.write_all(b"").unwrap();
        chunked.write_all(&[b'x'; 26]).unwrap();
        chunked.finish().unwrap();
        let expected = format!("8\r\nchunk 0\n\r\n1a\r\n{}\r\n0\r\n\r\n", "x".repeat(26));
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        // And what it writes reads back.
        let (body, _) = read_all(expected.as_bytes(), Framing::Chunked);
        assert_eq!(body.unwrap(), format!("chunk 0\n{}", "x".repeat(26)).as_bytes());
    }
}
