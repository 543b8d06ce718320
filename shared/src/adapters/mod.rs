//! Adapters: implementations of the ports. `local` runs on one machine with no cloud.

pub mod local;
