//! Simulated clusters with known true RTTs: repeated pairwise updates must learn those RTTs.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use senate_coordinate::{Client, Config, Coordinate};

/// True round-trip times, in seconds, between every pair of simulated nodes.
type Truth = Vec<Vec<f64>>;

/// Nodes spaced `spacing` seconds apart on a line.
fn line(nodes: usize, spacing: f64) -> Truth {
    let positions: Vec<(f64, f64)> = (0..nodes).map(|i| (i as f64 * spacing, 0.0)).collect();
    euclidean(&positions)
}

/// Nodes on a `side` × `side` grid with `spacing` seconds between neighbours.
fn grid(side: usize, spacing: f64) -> Truth {
    let positions: Vec<(f64, f64)> = (0..side * side)
        .map(|i| ((i % side) as f64 * spacing, (i / side) as f64 * spacing))
        .collect();
    euclidean(&positions)
}

/// Every node sits `access[i]` seconds from a shared hub, so RTTs are sums of two heights.
fn star(access: &[f64]) -> Truth {
    access
        .iter()
        .enumerate()
        .map(|(i, a)| {
            access
                .iter()
                .enumerate()
                .map(|(j, b)| if i == j { 0.0 } else { a + b })
                .collect()
        })
        .collect()
}

fn euclidean(positions: &[(f64, f64)]) -> Truth {
    positions
        .iter()
        .map(|(x1, y1)| {
            positions
                .iter()
                .map(|(x2, y2)| (x1 - x2).hypot(y1 - y2))
                .collect()
        })
        .collect()
}

fn clients(count: usize) -> Vec<Client> {
    (0..count)
        .map(|i| Client::with_seed(Config::default(), i as u64).unwrap())
        .collect()
}

/// Each round, every node measures the true RTT to one random other node.
fn simulate(clients: &mut [Client], truth: &Truth, rounds: usize, rng: &mut StdRng) {
    let count = clients.len();
    for _ in 0..rounds {
        for i in 0..count {
            let j = (i + rng.gen_range(1..count)) % count;
            let peer = clients[j].coordinate().clone();
            let rtt = Duration::from_secs_f64(truth[i][j]);
            clients[i].update(&format!("node-{j}"), &peer, rtt).unwrap();
        }
    }
}

/// Largest relative error of estimated versus true RTT over all pairs.
fn worst_relative_error(clients: &[Client], truth: &Truth) -> f64 {
    let coordinates: Vec<&Coordinate> = clients.iter().map(Client::coordinate).collect();
    let mut worst: f64 = 0.0;
    for (i, a) in coordinates.iter().enumerate() {
        for (j, b) in coordinates.iter().enumerate().skip(i + 1) {
            let estimate = a.distance_to(b).as_secs_f64();
            worst = worst.max((estimate - truth[i][j]).abs() / truth[i][j]);
        }
    }
    worst
}

fn largest_error_estimate(clients: &[Client]) -> f64 {
    clients
        .iter()
        .map(|c| c.coordinate().error)
        .fold(0.0, f64::max)
}

fn assert_converges(truth: &Truth, rounds: usize, tolerance: f64) {
    let mut rng = StdRng::seed_from_u64(2024);
    let mut clients = clients(truth.len());
    let initial_error = largest_error_estimate(&clients);

    simulate(&mut clients, truth, rounds, &mut rng);

    let worst = worst_relative_error(&clients, truth);
    assert!(
        worst < tolerance,
        "worst relative error {worst:.3} exceeds {tolerance}"
    );
    let final_error = largest_error_estimate(&clients);
    assert!(
        final_error < initial_error / 5.0,
        "error estimates only went from {initial_error} to {final_error}"
    );
    assert!(clients.iter().all(|c| c.coordinate().is_valid()));
}

#[test]
fn nodes_on_a_line_learn_their_distances() {
    assert_converges(&line(8, 0.010), 1000, 0.05);
}

#[test]
fn nodes_on_a_grid_learn_their_distances() {
    assert_converges(&grid(3, 0.010), 1000, 0.05);
}

#[test]
fn nodes_behind_access_links_of_mixed_speed_learn_their_distances() {
    // Not a Euclidean layout: heights and adjustments have to absorb the rest.
    let access = [0.001, 0.002, 0.005, 0.010, 0.020, 0.030];
    assert_converges(&star(&access), 1000, 0.20);
}

#[test]
fn fresh_clients_are_far_from_the_truth() {
    // Shows the convergence checks are not passed for free: before any
    // update, estimates are far off and error estimates are at their maximum.
    let truth = line(8, 0.010);
    let fresh = clients(truth.len());
    assert!(worst_relative_error(&fresh, &truth) > 0.9);
    assert_eq!(
        largest_error_estimate(&fresh),
        Config::default().vivaldi_error_max
    );
}
