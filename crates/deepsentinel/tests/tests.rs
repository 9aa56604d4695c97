//! End-to-end tests of the `deepsentinel` binary.

mod audit;
mod policy;
mod scan;
