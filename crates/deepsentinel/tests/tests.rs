//! End-to-end tests of the `deepsentinel` binary.

mod scan;
