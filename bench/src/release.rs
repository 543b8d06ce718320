//! The release build of `leadscore` the benches run: the one beside the bench's own binary.

use std::path::PathBuf;

/// `target/release/leadscore`, which `cargo build --release -p leadscore` makes.
pub fn leadscore() -> PathBuf {
    let bin = std::env::current_exe()
        .expect("this program's path")
        .with_file_name("leadscore");
    assert!(
        bin.exists(),
        "no {}: cargo build --release -p leadscore",
        bin.display()
    );
    bin
}
