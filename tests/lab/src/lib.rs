//! The test lab.
