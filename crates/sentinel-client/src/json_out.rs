//! Writing a transformed document back out: the same bytes `serde_json::to_vec` writes,
//! with strings checked for escapes 64 bytes at a time.
//!
//! A transformed request is mostly one long text; `serde_json` looks at each of its bytes
//! on its own to decide whether it needs escaping: re-serializing the bench's 4 KB PII
//! request cost 41.5 k of its 515 k instructions that way (`cargo xtask bench
//! --instructions`; docs/performance.md), 5.8 k now. Here a block of 64 bytes is
//! tested at once (a loop without early exit, which the compiler turns into vector
//! compares) and skipped when none of its bytes is `"`, `\` or a control character, which
//! is nearly always; a block that holds one is walked eight bytes at a time with a few
//! integer operations per word. The output is byte for byte what `serde_json` writes (a
//! property test holds it to that).

use serde_json::Value;

/// `v` as compact JSON, exactly as `serde_json::to_vec` writes it; `capacity` is a hint
/// (the original document's length).
pub(crate) fn to_vec(v: &Value, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    write_value(&mut out, v);
    out
}

/// `v` as compact JSON text, exactly as `Value::to_string` writes it.
pub(crate) fn to_string(v: &Value) -> String {
    // Only ASCII is written around the strings, which are UTF-8 already: this never fails,
    // but if it did, serde_json's own text is the same JSON.
    String::from_utf8(to_vec(v, 64)).unwrap_or_else(|_| v.to_string())
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Numbers as serde_json formats them (itoa, ryu); writing to a Vec cannot fail.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask whose lowest set bit is in the first byte of `w` (little-endian) that is `"`,
/// `\` or below 0x20; zero when there is none. Bits above the first such byte may be
/// spurious (a borrow runs on), so only the lowest one is used.
fn needs_escape(w: u64) -> u64 {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let is_quote = quote.wrapping_sub(ONES) & !quote & HIGHS;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash & HIGHS;
    below_space | is_quote | is_backslash
}

fn needs_escape_byte(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Bytes tested together before the word-at-a-time walk.
const BLOCK: usize = 64;

/// Whether any byte of `block` needs escaping. Every byte is looked at, with no early exit
/// and no branch: the least byte (a control character is below 0x20) and whether any is
/// `"` or `\`. Written so, the loop compiles to vector compares (SSE2 `pminub` and
/// `pcmpeqb`; 48 instructions for the 64 bytes in a scratch look at the assembly), and
/// `write_str` on the bench's 4 KB PII request fell from 13.6 k to 4.6 k instructions
/// (`cargo xtask bench --instructions`, the kept profile).
fn block_needs_escape(block: &[u8; BLOCK]) -> bool {
    let mut least = u8::MAX;
    let mut quote_or_backslash = 0u8;
    for &b in block {
        least = least.min(b);
        quote_or_backslash |= u8::from(b == b'"') | u8::from(b == b'\\');
    }
    least < 0x20 || quote_or_backslash != 0
}

/// `s` as a JSON string, escaped as serde_json escapes.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `clean` is where the run of bytes not yet copied starts.
    let mut clean = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(block) = bytes
            .get(i..i + BLOCK)
            .and_then(|b| <&[u8; BLOCK]>::try_from(b).ok())
        {
            if !block_needs_escape(block) {
                i += BLOCK;
                continue;
            }
        }
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let mask = needs_escape(u64::from_le_bytes(word));
            if mask == 0 {
                i += 8;
                continue;
            }
            i += (mask.trailing_zeros() / 8) as usize;
        } else if !needs_escape_byte(bytes[i]) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[clean..i]);
        escape(out, bytes[i]);
        i += 1;
        clean = i;
    }
    out.extend_from_slice(&bytes[clean..]);
    out.push(b'"');
}

/// The escape serde_json writes for `b` (`"`, `\` or a control character).
fn escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn escapes_as_serde_json_does() {
        for s in [
            "",
            "plain",
            "a \"quoted\" \\ back",
            "\u{0}\u{1}\u{8}\u{9}\n\u{b}\u{c}\r\u{1f} \u{7f}",
            "éà 日本 🦀 / </script>",
            "seven77",
            "eight888\"",
            "\"leading and trailing\\",
            "0123456789abcdef0123456789abcdef\n0123456789abcdef",
        ] {
            let v = Value::String(s.to_owned());
            assert_eq!(
                String::from_utf8(to_vec(&v, 0)).expect("utf-8"),
                v.to_string(),
                "{s:?}"
            );
        }
        let doc = json!({"model": "m", "n": [1, -2, 3.5, 1e300, 18446744073709551615_u64, null, true, false],
            "messages": [{"role": "user", "content": "mail <EMAIL_ADDRESS_1>\n\"now\""}], "o": {}});
        assert_eq!(to_string(&doc), doc.to_string());
    }

    #[test]
    fn every_ascii_byte_at_every_word_position() {
        // Each ASCII character alone at each position of two 64-byte blocks and a tail
        // shorter than a word, among plain letters and among non-ASCII characters: the
        // block, word and byte tests agree with serde_json everywhere.
        for b in 0u8..0x80 {
            for at in 0..134 {
                for filler in ["a", "é"] {
                    let mut s: Vec<String> = vec![filler.to_owned(); 134];
                    s[at] = char::from(b).to_string();
                    let v = Value::String(s.concat());
                    assert_eq!(
                        to_vec(&v, 0),
                        serde_json::to_vec(&v).expect("json"),
                        "{b:#x} at {at}"
                    );
                }
            }
        }
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            // Dense in the bytes that need escaping and the ones beside them.
            proptest::collection::vec(
                prop_oneof![
                    (0u8..0x22).prop_map(char::from),
                    Just('\\'),
                    Just('['),
                    Just(']'),
                    Just('\u{7f}'),
                    Just('a'),
                    Just('é'),
                    Just('🦀'),
                ],
                0..64
            )
            .prop_map(|cs| Value::String(cs.into_iter().collect())),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(v in any_value()) {
            prop_assert_eq!(to_vec(&v, 0), serde_json::to_vec(&v).expect("json"));
        }
    }
}
