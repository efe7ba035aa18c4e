//! Integration tests of `usage-assembly`.

mod purity;
