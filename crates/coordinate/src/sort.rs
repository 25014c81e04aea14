//! Nearest-first ordering of anything that may carry a coordinate, as Consul's `?near=` sorts results.

use std::time::Duration;

use crate::Coordinate;

/// Sorts `items` by estimated round-trip time from `origin`, nearest first.
///
/// Items whose coordinate is missing, invalid, or of another dimensionality
/// go last. The sort is stable: items at equal distance, and the unknown ones,
/// keep their relative order.
pub fn sort_by_distance<T>(
    origin: &Coordinate,
    items: &mut [T],
    coordinate_of: impl Fn(&T) -> Option<&Coordinate>,
) {
    items.sort_by_cached_key(|item| distance_rank(origin, coordinate_of(item)));
}

/// The sort key [`sort_by_distance`] orders by: every known distance from `origin`, nearest
/// first, before every target without a (compatible, valid) coordinate. For callers whose
/// coordinates live elsewhere than in the items.
pub fn distance_rank(origin: &Coordinate, target: Option<&Coordinate>) -> (bool, Duration) {
    unknown_last(known_distance(origin, target))
}

fn known_distance(origin: &Coordinate, target: Option<&Coordinate>) -> Option<Duration> {
    target
        .filter(|target| {
            target.is_compatible_with(origin) && target.is_valid() && origin.is_valid()
        })
        .map(|target| origin.distance_to(target))
}

/// A sort key placing every known distance before every unknown one.
fn unknown_last(distance: Option<Duration>) -> (bool, Duration) {
    (distance.is_none(), distance.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn at(x: f64) -> Coordinate {
        Coordinate {
            vec: vec![x, 0.0],
            error: 0.2,
            adjustment: 0.0,
            height: 0.0,
        }
    }

    struct Node {
        name: &'static str,
        coordinate: Option<Coordinate>,
    }

    fn node(name: &'static str, coordinate: Option<Coordinate>) -> Node {
        Node { name, coordinate }
    }

    fn names(nodes: &[Node]) -> Vec<&'static str> {
        nodes.iter().map(|n| n.name).collect()
    }

    #[test]
    fn nearest_first_with_unknowns_last_in_original_order() {
        let mut nodes = vec![
            node("unknown-1", None),
            node("far", Some(at(0.030))),
            node(
                "other-dims",
                Some(Coordinate {
                    vec: vec![0.0],
                    ..at(0.0)
                }),
            ),
            node("near", Some(at(0.010))),
            node("unknown-2", None),
            node("broken", Some(at(f64::NAN))),
            node("middle", Some(at(0.020))),
        ];
        sort_by_distance(&at(0.0), &mut nodes, |n| n.coordinate.as_ref());
        assert_eq!(
            names(&nodes),
            [
                "near",
                "middle",
                "far",
                "unknown-1",
                "other-dims",
                "unknown-2",
                "broken"
            ]
        );
    }

    #[test]
    fn ties_keep_their_order() {
        let mut nodes = vec![
            node("b", Some(at(0.010))),
            node("a", Some(at(-0.010))),
            node("c", Some(at(0.010))),
            node("origin", Some(at(0.0))),
        ];
        sort_by_distance(&at(0.0), &mut nodes, |n| n.coordinate.as_ref());
        assert_eq!(names(&nodes), ["origin", "b", "a", "c"]);
    }

    #[test]
    fn coordinates_can_come_from_a_lookup_table() {
        let table: HashMap<&str, Coordinate> = HashMap::from([("x", at(0.050)), ("y", at(0.005))]);
        let mut nodes = vec!["z", "x", "y"];
        sort_by_distance(&at(0.0), &mut nodes, |name| table.get(name));
        assert_eq!(nodes, ["y", "x", "z"]);
    }

    #[test]
    fn invalid_origin_leaves_order_untouched() {
        let mut nodes = vec![node("far", Some(at(0.030))), node("near", Some(at(0.010)))];
        sort_by_distance(&at(f64::INFINITY), &mut nodes, |n| n.coordinate.as_ref());
        assert_eq!(names(&nodes), ["far", "near"]);
    }
}
