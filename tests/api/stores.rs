//! The embedded store keeps every promise the store ports make (`testkit::contract`, held
//! against DynamoDB in `tests/aws/store.rs` too), on a real database file.

use shared::Deps;
use shared::local::LocalApp;

async fn open() -> (tempfile::TempDir, Deps) {
    let dir = tempfile::tempdir().unwrap();
    let app = LocalApp::open(dir.path(), shared::Config::default()).unwrap();
    (dir, app.deps)
}

testkit::store_contract!(open());
