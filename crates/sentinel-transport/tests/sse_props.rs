use proptest::prelude::*;
use sentinel_transport::sse::{write_event, SseEvent, SseParser};

fn event() -> impl Strategy<Value = SseEvent> {
    (
        proptest::option::of("[a-z_]{1,12}"),
        // Data with newlines, colons, unicode, leading spaces and the DONE marker.
        prop_oneof![
            Just("[DONE]".to_owned()),
            "[ -~é✓\n]{0,40}",
            "\\{\"choices\":\\[\\{\"delta\":\\{\"content\":\"[a-z ]{0,10}\"\\}\\}\\]\\}",
        ],
        proptest::option::of("[0-9]{1,5}"),
    )
        .prop_map(|(event, data, id)| SseEvent {
            event,
            data,
            id,
            retry: None,
        })
}

fn parse_in_pieces(bytes: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut p = SseParser::new(1 << 20);
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts.into_iter().chain([bytes.len()]) {
        p.push(&bytes[at..c], &mut out).expect("parses");
        at = c;
    }
    assert!(!p.has_partial());
    out
}

proptest! {
    #[test]
    fn events_survive_any_split(events in proptest::collection::vec(event(), 0..8),
                                cuts in proptest::collection::vec(any::<usize>(), 0..12),
                                crlf in any::<bool>(),
                                comments in any::<bool>()) {
        let mut bytes = Vec::new();
        for e in &events {
            if comments {
                bytes.extend_from_slice(b": keep-alive\n");
            }
            write_event(e, &mut bytes);
        }
        if crlf {
            let text = String::from_utf8(bytes).expect("utf8");
            bytes = text.replace('\n', "\r\n").into_bytes();
        }
        let got = parse_in_pieces(&bytes, &cuts);
        // Data lines were split on CR/LF and joined with LF: that is what comes back.
        let want: Vec<SseEvent> = events
            .iter()
            .map(|e| SseEvent { data: e.data.replace("\r\n", "\n").replace('\r', "\n"), ..e.clone() })
            .collect();
        prop_assert_eq!(got, want);
    }
}
