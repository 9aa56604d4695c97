//! Offline checks for secrets: embedded checksums, token structure, randomness.
//!
//! Nothing here ever contacts a provider: a secret is judged by its own bytes.

use base64::Engine as _;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// GitHub's tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) end in six base62 characters
/// that encode the CRC32 of the thirty random characters before them. `Some(true)` when the
/// checksum holds, `Some(false)` when it does not, `None` when the value has no checksum
/// (fine-grained `github_pat_` tokens).
pub(crate) fn github_checksum(value: &str) -> Option<bool> {
    let body = value.split_once('_').map(|(_, b)| b)?;
    if value.starts_with("github_pat_") || body.len() != 36 {
        return None;
    }
    let (random, check) = body.as_bytes().split_at(30);
    Some(base62_crc32(random) == *check)
}

/// The six-character base62 encoding of the CRC32 of `random`, as GitHub appends it.
pub(crate) fn base62_crc32(random: &[u8]) -> [u8; 6] {
    let mut n = crc32fast::hash(random);
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// A JWT's header must be base64url that decodes to a JSON object with an `alg` member.
pub(crate) fn jwt_header_ok(value: &str) -> bool {
    let Some(header) = value.split('.').next() else {
        return false;
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('='))
    else {
        return false;
    };
    matches!(
        serde_json::from_slice::<serde_json::Value>(&bytes),
        Ok(serde_json::Value::Object(map)) if map.contains_key("alg")
    )
}

/// OpenAI keys: `sk-` keys that are not Anthropic's. `Some(true)` when the key carries the
/// `T3BlbkFJ` marker ("OpenAI" in base64) that OpenAI embeds in its keys.
pub(crate) fn openai_marker(value: &str) -> Option<bool> {
    if value.starts_with("sk-ant-") {
        return None;
    }
    Some(value.contains("T3BlbkFJ"))
}

/// Shannon entropy of `value` in bits per byte.
pub(crate) fn entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Values that look like a secret's placeholder rather than a secret.
fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let starts = |p: &str| lower.starts_with(p);
    starts("${")
        || starts("{{")
        || starts("<")
        || starts("%")
        || starts("$")
        || starts("process.env")
        || starts("os.environ")
        || starts("env(")
        || starts("getenv")
        || lower.contains("xxxx")
        || lower.contains("****")
        || [
            "password",
            "changeme",
            "secret",
            "example",
            "redacted",
            "placeholder",
            "your_",
            "your ",
            "yourpassword",
            "none",
            "null",
            "undefined",
            "true",
            "false",
            "required",
        ]
        .iter()
        .any(|w| lower.starts_with(w))
}

/// A URI with credentials (`scheme://user:password@host`): its password is not a
/// placeholder, as in documentation and templates (`user:password@`, `:${DB_PASS}@`,
/// `:<password>@`, `:****@`), and mixes two kinds of character at least: one word of one
/// case (`:mysecretpassword@`, `:postgres@`, `:admin@`) is how examples and a model's
/// answers write it, and an answer that shows how to connect is not a leak.
pub(crate) fn url_password_ok(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let userinfo = rest.split('@').next().unwrap_or_default();
    let Some((_, password)) = userinfo.split_once(':') else {
        return false;
    };
    let b = password.as_bytes();
    let classes = [
        b.iter().any(u8::is_ascii_lowercase),
        b.iter().any(u8::is_ascii_uppercase),
        b.iter().any(u8::is_ascii_digit),
        b.iter().any(|c| !c.is_ascii_alphanumeric()),
    ];
    !is_placeholder(password) && classes.iter().filter(|&&c| c).count() >= 2
}

/// A `password=`-style value: long enough, not a placeholder, and random enough. Returns
/// the score: entropy above 3.5 bits per byte raises it.
pub(crate) fn generic_secret_score(value: &str, base: f32) -> Option<f32> {
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    if v.len() < 8 || is_placeholder(v) {
        return None;
    }
    let e = entropy(v.as_bytes());
    if e < 2.5 {
        return None;
    }
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
        v.bytes().any(|b| !b.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|&&c| c)
    .count();
    if classes < 2 {
        return None;
    }
    Some(if e >= 3.5 {
        (base + 0.15).min(1.0)
    } else {
        base
    })
}

/// An AWS secret access key is 40 characters of base64 with high entropy and mixed case.
pub(crate) fn aws_secret_ok(value: &str) -> bool {
    value.len() == 40
        && entropy(value.as_bytes()) >= 4.0
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && value.bytes().any(|b| b.is_ascii_uppercase())
}

/// Bitcoin addresses: base58check with a P2PKH or P2SH version byte, or a bech32/bech32m
/// segwit address.
pub(crate) fn crypto_ok(value: &str) -> bool {
    if value.len() > 3 && value[..3].eq_ignore_ascii_case("bc1") {
        return bech32::segwit::decode(value).is_ok();
    }
    match bs58::decode(value).with_check(None).into_vec() {
        Ok(payload) => payload.len() == 21 && matches!(payload[0], 0x00 | 0x05),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_checksum_roundtrip() {
        let random = b"abcdefghijklmnopqrstuvwxyz0123";
        let check = base62_crc32(random);
        let token = format!(
            "ghp_{}{}",
            std::str::from_utf8(random).unwrap_or_default(),
            std::str::from_utf8(&check).unwrap_or_default()
        );
        assert_eq!(github_checksum(&token), Some(true));
        let broken = format!("{}A", &token[..token.len() - 1]);
        let expect = if token.ends_with('A') {
            Some(true)
        } else {
            Some(false)
        };
        assert_eq!(github_checksum(&broken), expect);
        assert_eq!(github_checksum("github_pat_11AAAAAAA0abcdefghij"), None);
    }

    #[test]
    fn jwt_header() {
        assert!(jwt_header_ok(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc"
        ));
        // {"typ":"JWT"} has no alg.
        assert!(!jwt_header_ok("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.abc"));
        assert!(!jwt_header_ok("eyJnotbase64!!.x.y"));
    }

    #[test]
    fn generic_secrets() {
        assert!(generic_secret_score("Xk9#mP2$vL7q", 0.7).is_some());
        assert!(generic_secret_score("changeme123", 0.7).is_none());
        assert!(generic_secret_score("${DB_PASSWORD}", 0.7).is_none());
        assert!(generic_secret_score("aaaaaaaaaaaa", 0.7).is_none());
    }

    #[test]
    fn bitcoin() {
        assert!(crypto_ok("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"));
        assert!(crypto_ok("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(crypto_ok("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
        assert!(!crypto_ok("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"));
        assert!(!crypto_ok("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx"));
    }
}
