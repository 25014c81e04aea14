//! The set workload: clients add unique elements (one key each under a prefix); after the
//! faults heal, one consistent listing of the prefix is the final read. Every acknowledged
//! add must be in it, and no add that definitely failed.

use crate::history::{pause_between_ops, write_result, Context, WriteResult};
use crate::http;
use rand::rngs::SmallRng;
use senate_linearize::{AddOutcome, FinalRead, SetAdd};
use std::net::SocketAddr;
use std::time::Duration;

pub const PREFIX: &str = "faults/set/";

/// Runs client `client` until the stop flag is raised.
pub fn run(context: &Context<'_>, client: u64, mut rng: SmallRng) -> Vec<SetAdd<String>> {
    let mut adds = Vec::new();
    let mut sequence = 0u64;
    while !context.stopped() {
        sequence += 1;
        let element = format!("c{client}-{sequence}");
        let server = context.pick(&mut rng);
        let path = format!("/v1/kv/{PREFIX}{element}");
        let (call, outcome, done) = context.send(server, "PUT", &path, b"x");
        let outcome = match write_result(&outcome) {
            WriteResult::Ok(_) => AddOutcome::Acknowledged { return_time: done },
            WriteResult::Failed => AddOutcome::Failed,
            WriteResult::Unknown => AddOutcome::Unknown,
        };
        adds.push(SetAdd {
            element,
            call,
            outcome,
        });
        pause_between_ops(&mut rng);
    }
    adds
}

/// Lists the set with `?consistent&keys` from `server`, at `time`.
pub fn final_read(server: SocketAddr, time: u64) -> Result<FinalRead<String>, String> {
    let path = format!("/v1/kv/{PREFIX}?keys&consistent");
    let response = http::request(server, "GET", &path, b"", Duration::from_secs(10))
        .map_err(|error| error.to_string())?;
    let keys: Vec<String> = match response.status {
        200 => serde_json::from_slice(&response.body).map_err(|e| e.to_string())?,
        404 => Vec::new(),
        status => return Err(format!("{status}: {}", response.text())),
    };
    let elements = keys
        .into_iter()
        .filter_map(|key| key.strip_prefix(PREFIX).map(str::to_string))
        .collect();
    Ok(FinalRead { elements, time })
}
