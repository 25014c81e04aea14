mod server;
fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = senate_agent::config::AgentArgs { dev: true, ..Default::default() };
    if let Err(e) = rt.block_on(server::run(senate_agent::config::AgentConfig::load(&args).unwrap())) { eprintln!("{e:#}"); }
}
