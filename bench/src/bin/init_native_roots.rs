//! Cold start of init variant `NativeRoots` (see `agentid_bench::probe`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    agentid_bench::probe::serve(agentid_bench::probe::Variant::NativeRoots).await
}
