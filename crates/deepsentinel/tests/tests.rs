//! End-to-end tests of the `deepsentinel` binary.

mod util;

mod audit;
mod policy;
mod scan;
mod serve;
