//! The pipeline and the SDK against a fake upstream on 127.0.0.1.

mod outcomes;
mod sdk;
#[cfg(feature = "redis")]
mod shared_cache;
mod streams;
mod upstream;
