//! sentinel-cache behaviour: byte cap, TTL, stats, keys, the detection and response caches,
//! single flight, the tiered cache, and (feature `redis`) a real redis-server.

mod memory;
#[cfg(feature = "redis")]
mod redis;
mod response;
mod single_flight;
mod tiered;
