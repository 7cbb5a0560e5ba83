use super::*;

const T1: &str = "2024-05-01T12:00:00.123456789Z";
const T2: &str = "2024-05-01T12:00:01.5Z";
const T1_MS: i64 = 1_714_564_800_123;
const T2_MS: i64 = 1_714_564_801_500;

fn frame(at: &str, text: &str) -> Vec<u8> {
    format!("{at} {text}").into_bytes()
}

fn line(at: i64, stream: LogStream, text: &str) -> LogLine {
    LogLine { at: Timestamp::from_millis(at), stream, line: text.to_owned() }
}

#[test]
fn timestamps_parse_to_nanoseconds() {
    fn ms(frame: &[u8]) -> Option<(i64, &[u8])> {
        split_timestamp(frame).map(|(nanos, rest)| (nanos.div_euclid(1_000_000) as i64, rest))
    }
    assert_eq!(split_timestamp(&frame(T1, "x")), Some((i128::from(T1_MS) * 1_000_000 + 456_789, &b"x"[..])));
    assert_eq!(ms(&frame(T2, "")), Some((T2_MS, &b""[..])));
    assert_eq!(ms(b"2024-05-01T14:00:00+02:00 x").map(|(at, _)| at), Some(1_714_564_800_000));
    assert_eq!(split_timestamp(b"not a timestamp"), None);
    assert_eq!(split_timestamp(b""), None);
}

#[test]
fn whole_lines_come_out_one_per_frame_without_newlines() {
    let mut a = LineAssembler::default();
    let mut out = Vec::new();
    a.push(LogStream::Stdout, &frame(T1, "hello\n"), &mut out);
    a.push(LogStream::Stderr, &frame(T2, "oops\r\n"), &mut out);
    a.push(LogStream::Stdout, &frame(T2, "\n"), &mut out);
    assert_eq!(
        out,
        [
            line(T1_MS, LogStream::Stdout, "hello"),
            line(T2_MS, LogStream::Stderr, "oops"),
            line(T2_MS, LogStream::Stdout, "")
        ]
    );
}

#[test]
fn split_lines_are_joined_per_stream_and_dated_by_their_first_part() {
    let mut a = LineAssembler::default();
    let mut out = Vec::new();
    a.push(LogStream::Stdout, &frame(T1, "a long "), &mut out);
    a.push(LogStream::Stderr, &frame(T1, "err\n"), &mut out);
    a.push(LogStream::Stdout, &frame(T2, "line\nand more\n"), &mut out);
    assert_eq!(
        out,
        [
            line(T1_MS, LogStream::Stderr, "err"),
            line(T1_MS, LogStream::Stdout, "a long line"),
            line(T2_MS, LogStream::Stdout, "and more"),
        ]
    );
}

#[test]
fn a_last_line_without_newline_is_kept_at_the_end() {
    let mut a = LineAssembler::default();
    let mut out = Vec::new();
    a.push(LogStream::Stdout, &frame(T1, "bye"), &mut out);
    assert!(out.is_empty());
    a.finish(&mut out);
    assert_eq!(out, [line(T1_MS, LogStream::Stdout, "bye")]);
    a.finish(&mut out);
    assert_eq!(out.len(), 1, "finishing twice adds nothing");
}

#[test]
fn a_multibyte_character_split_between_frames_survives() {
    let mut a = LineAssembler::default();
    let mut out = Vec::new();
    let bytes = "é".as_bytes();
    let mut first = frame(T1, "caf");
    first.push(bytes[0]);
    let mut second = format!("{T1} ").into_bytes();
    second.extend_from_slice(&[bytes[1], b'\n']);
    a.push(LogStream::Stdout, &first, &mut out);
    a.push(LogStream::Stdout, &second, &mut out);
    assert_eq!(out, [line(T1_MS, LogStream::Stdout, "café")]);
}

#[test]
fn frames_without_a_timestamp_take_the_last_one_seen() {
    let mut a = LineAssembler::default();
    let mut out = Vec::new();
    a.push(LogStream::Stdout, &frame(T1, "dated\n"), &mut out);
    a.push(LogStream::Stdout, b"undated\n", &mut out);
    assert_eq!(out[1], line(T1_MS, LogStream::Stdout, "undated"));
}

#[test]
fn runaway_lines_are_cut() {
    let mut a = LineAssembler::default();
    let mut out = Vec::new();
    let chunk = "x".repeat(MAX_LINE_BYTES / 2);
    for _ in 0..3 {
        a.push(LogStream::Stdout, &frame(T1, &chunk), &mut out);
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].line.len(), MAX_LINE_BYTES);
}

fn out(at: &str, text: &str) -> Result<LogOutput, BollardError> {
    Ok(LogOutput::StdOut { message: frame(at, text).into() })
}

fn no_catch_up(_: Option<i32>) -> Frames {
    futures_util::stream::empty().boxed()
}

#[tokio::test]
async fn following_filters_by_milliseconds_and_flushes_at_the_end() {
    let frames = futures_util::stream::iter([
        out(T1, "old\n"),
        out(T2, "new\n"),
        Ok(LogOutput::StdErr { message: frame(T2, "partial").into() }),
    ]);
    let since = Some(Timestamp::from_millis(T1_MS + 1));
    let lines: Vec<LogLine> =
        follow_frames("c".to_owned(), frames, since, no_catch_up).map(|l| l.unwrap()).collect().await;
    assert_eq!(lines, [line(T2_MS, LogStream::Stdout, "new"), line(T2_MS, LogStream::Stderr, "partial")]);
}

#[tokio::test]
async fn following_catches_up_on_what_the_engine_did_not_send() {
    let t3 = "2024-05-01T12:00:01.500000001Z";
    let frames = futures_util::stream::iter([out(T1, "one\n"), out(T2, "two is ")]);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(None));
    let asked_in = asked.clone();
    let catch_up = move |from: Option<i32>| -> Frames {
        *asked_in.lock().unwrap() = Some(from);
        // The re-read starts at the second of the last frame seen: it repeats that frame.
        futures_util::stream::iter([out(T2, "two is "), out(t3, "split\n"), out(t3, "bye")]).boxed()
    };
    let lines: Vec<String> =
        follow_frames("c".to_owned(), frames, None, catch_up).map(|l| l.unwrap().line).collect().await;
    assert_eq!(lines, ["one", "two is split", "bye"]);
    assert_eq!(*asked.lock().unwrap(), Some(Some((T2_MS / 1000) as i32)));
}

#[tokio::test]
async fn following_ends_after_an_error() {
    let frames = futures_util::stream::iter([
        Err(BollardError::DockerResponseServerError {
            status_code: 404,
            message: "No such container: c".to_owned(),
        }),
        out(T1, "never\n"),
    ]);
    let items: Vec<Result<LogLine>> =
        follow_frames("c".to_owned(), frames, None, no_catch_up).collect().await;
    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Err(crate::RuntimeError::NotFound(id)) if id == "c"));
}

#[tokio::test]
async fn a_container_removed_before_the_catch_up_just_ends_the_stream() {
    let frames = futures_util::stream::iter([out(T1, "last words")]);
    let catch_up = |_: Option<i32>| -> Frames {
        let gone = BollardError::DockerResponseServerError {
            status_code: 404,
            message: "No such container: c".to_owned(),
        };
        futures_util::stream::iter([Err(gone)]).boxed()
    };
    let items: Vec<Result<LogLine>> = follow_frames("c".to_owned(), frames, None, catch_up).collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().map(|l| l.line.as_str()).ok(), Some("last words"));
}
