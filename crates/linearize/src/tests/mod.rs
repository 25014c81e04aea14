//! Crate-level tests: hand-made KV histories, randomized histories against a brute-force
//! oracle, shrinking and budgets. Helpers live in `rng`, `oracle`, `generate` and `build`.

mod budgets;
mod build;
mod generate;
mod kv_histories;
mod oracle;
mod random_checks;
mod rng;
mod shrinking;
