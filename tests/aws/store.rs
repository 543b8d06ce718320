//! The DynamoDB store keeps every promise the store ports make (`testkit::contract`, held
//! against the embedded store in `tests/api/stores.rs` too), on moto's DynamoDB with the
//! template's tables; its calls are held against the template's policies like every test's.

use shared::Deps;

use crate::emulator::Cloud;

async fn open() -> (Cloud, Deps) {
    let cloud = Cloud::start().await;
    let deps = cloud.app.deps.clone();
    (cloud, deps)
}

testkit::store_contract!(open());
