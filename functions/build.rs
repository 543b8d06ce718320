//! The build script every function shares (`build = "../build.rs"`): a release build for Linux
//! is linked without unwind tables (`no-unwind-tables.ld`, which says why). Every release build
//! of a function is a Lambda build (`cargo lambda build --release`, what `sam build` runs), and
//! cargo-lambda builds it with panic=abort, so nothing would read them. (The profile's panic
//! strategy is not among what cargo tells a build script, so the profile is what is asked.) Dev
//! builds keep them: they unwind.

use std::path::Path;

fn main() {
    let script = Path::new("..").join("no-unwind-tables.ld");
    println!("cargo::rerun-if-changed={}", script.display());
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    if env("PROFILE") == "release" && env("CARGO_CFG_TARGET_OS") == "linux" {
        let script = Path::new(&env("CARGO_MANIFEST_DIR")).join(script);
        println!("cargo::rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
