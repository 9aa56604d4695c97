//! sentinel-transport against hyper servers started here on 127.0.0.1: HTTP/1.1, h2c and
//! TLS with a certificate generated at test time.

mod behaviour;
mod server;
mod sse_props;
mod wire;

use std::time::Duration;

use sentinel_transport::{
    BreakerConfig, Endpoint, HttpTransport, RetryConfig, Strategy, Timeouts, TransportConfig,
    Upstream,
};

/// Defaults with short waits, and a breaker that stays out of the way.
pub(crate) fn quick_config() -> TransportConfig {
    TransportConfig {
        retry: RetryConfig {
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            budget_min_per_second: 1000.0,
            ..RetryConfig::default()
        },
        breaker: BreakerConfig {
            min_requests: 1000,
            ..BreakerConfig::default()
        },
        timeouts: Timeouts {
            headers: Duration::from_secs(5),
            idle: Duration::from_secs(5),
            total: Duration::from_secs(10),
            ..Timeouts::default()
        },
        ..TransportConfig::default()
    }
}

pub(crate) fn upstream(name: &str, urls: &[String], strategy: Strategy) -> Upstream {
    Upstream {
        name: name.to_owned(),
        endpoints: urls
            .iter()
            .enumerate()
            .map(|(i, u)| Endpoint::new(&format!("{name}-{i}"), u).expect("endpoint"))
            .collect(),
        strategy,
    }
}

pub(crate) fn transport(config: TransportConfig, urls: &[String]) -> HttpTransport {
    HttpTransport::new(config, vec![upstream("up", urls, Strategy::RoundRobin)]).expect("transport")
}
