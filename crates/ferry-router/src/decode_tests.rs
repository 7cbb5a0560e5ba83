use super::*;

/// Feeds `input` to a decoder in pieces of `step` bytes; returns the body and what was left after it.
fn run(framing: BodyFraming, input: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), DecodeError> {
    let mut decoder = Decoder::new(framing);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut pieces = input.chunks(step.max(1));
    loop {
        match decoder.decode(&mut buf)? {
            Decoded::Data(data) => {
                assert!(!data.is_empty());
                body.extend_from_slice(&data);
            }
            Decoded::Done => return Ok((body, buf.to_vec())),
            Decoded::NeedMore => match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => {
                    decoder.eof()?;
                    return Ok((body, buf.to_vec()));
                }
            },
        }
    }
}

#[test]
fn length_bodies_stop_at_their_length() {
    for step in [1, 3, 100] {
        let (body, rest) = run(BodyFraming::Length(5), b"helloHTTP/1.1", step).expect("decodes");
        assert_eq!(body, b"hello");
        // What follows the body stays in the buffer (at most one piece was read past it).
        assert!(b"HTTP/1.1".starts_with(&rest), "{rest:?}");
    }
    assert_eq!(run(BodyFraming::Length(5), b"hel", 10), Err(DecodeError::Incomplete));
    assert_eq!(run(BodyFraming::Empty, b"", 1).expect("decodes").0, b"");
}

#[test]
fn close_bodies_end_at_eof() {
    assert_eq!(run(BodyFraming::Close, b"all of it", 4).expect("decodes").0, b"all of it");
}

#[test]
fn chunked_bodies_decode_in_any_split() {
    let wire = b"5;name=value\r\nhello\r\n7 \r\n, world\r\n10\r\n0123456789abcdef\r\n0\r\nx-sum: 1\r\nx-more: 2\r\n\r\nNEXT";
    for step in [1, 2, 5, 7, 1000] {
        let (body, rest) = run(BodyFraming::Chunked, wire, step).expect("decodes");
        assert_eq!(body, b"hello, world0123456789abcdef", "step {step}");
        assert!(b"NEXT".starts_with(&rest), "step {step}: {rest:?}");
    }
    assert_eq!(run(BodyFraming::Chunked, b"0\r\n\r\n", 1).expect("decodes").0, b"");
    assert_eq!(
        run(BodyFraming::Chunked, b"A\r\n0123456789\r\n0\r\n\r\n", 3).expect("decodes").0,
        b"0123456789"
    );
}

#[test]
fn broken_chunked_bodies_fail() {
    for wire in [
        b"x\r\n".as_slice(),
        b"\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"5;ext\nhello",
        b"11111111111111111\r\n",
        b"0\r\nbad\n\r\n",
        b"0\r\n\rX",
    ] {
        assert_eq!(run(BodyFraming::Chunked, wire, 1), Err(DecodeError::InvalidChunk), "{wire:?}");
    }
    assert_eq!(run(BodyFraming::Chunked, b"5\r\nhel", 2), Err(DecodeError::Incomplete));
    let long = [b"5;".as_slice(), &vec![b'x'; MAX_CHUNK_LINE as usize]].concat();
    assert_eq!(run(BodyFraming::Chunked, &long, 100), Err(DecodeError::TooLong));
}

#[test]
fn remaining_follows_a_length_body() {
    let mut decoder = Decoder::new(BodyFraming::Length(4));
    assert_eq!(decoder.remaining(), Some(4));
    let mut buf = BytesMut::from(&b"ab"[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Data(Bytes::from_static(b"ab"))));
    assert_eq!(decoder.remaining(), Some(2));
    assert_eq!(Decoder::new(BodyFraming::Chunked).remaining(), None);
}
