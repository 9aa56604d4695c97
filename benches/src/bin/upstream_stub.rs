//! A loopback OpenAI-compatible upstream for the gateway benchmark: every POST gets the
//! same small chat completion (`sentinel_testkit::serve`: HTTP/1.1 keep-alive), the model
//! `slow` after three seconds. Prints `127.0.0.1:PORT` once it
//! listens, then serves until killed. A benchmark fixture, never shipped.

use std::io::Write;

use bytes::Bytes;

const ANSWER: &[u8] = br#"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Happy to help with that request."},"finish_reason":"stop"}],"usage":{"prompt_tokens":900,"completion_tokens":7,"total_tokens":907}}"#;

/// How a request for the slow model begins.
const SLOW: &[u8] = br#"{"model":"slow""#;

fn main() -> std::io::Result<()> {
    let threads = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut out = std::io::stdout();
        writeln!(out, "{}", listener.local_addr()?)?;
        out.flush()?;
        sentinel_testkit::serve(listener, |_, body: Bytes| async move {
            // A request for the model `slow` (its body starts so) keeps the upstream
            // thinking: what a long LLM answer is to a gateway that drains.
            if body.starts_with(SLOW) {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            sentinel_testkit::json(200, Bytes::from_static(ANSWER))
        })
        .await
    })
}
