//! A loopback OpenAI-compatible upstream for the gateway benchmark: every POST gets the
//! same small chat completion (`sentinel_testkit::serve`: HTTP/1.1 keep-alive). Prints `127.0.0.1:PORT` once it
//! listens, then serves until killed. A benchmark fixture, never shipped.

use std::io::Write;

use bytes::Bytes;

const ANSWER: &[u8] = br#"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Happy to help with that request."},"finish_reason":"stop"}],"usage":{"prompt_tokens":900,"completion_tokens":7,"total_tokens":907}}"#;

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
        sentinel_testkit::serve(listener, |_, _| async {
            sentinel_testkit::json(200, Bytes::from_static(ANSWER))
        })
        .await
    })
}
