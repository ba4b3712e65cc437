//! Cold-start experiment: init variant `DirectPinned` (see `probe`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    agentid_bench::probe::serve(agentid_bench::probe::Variant::DirectPinned).await
}
