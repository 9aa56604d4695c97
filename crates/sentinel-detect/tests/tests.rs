//! Integration tests of sentinel-detect, one module per topic.

mod util;

mod config;
mod corpus;
mod engine;
mod recognizers;
mod stream;
