//! Searches one partition for a linearization, the Wing & Gong / Lowe way (as Porcupine does).
//!
//! Operations with a known return sit on a *timeline*: a linked list of call and return
//! entries in time order (calls before returns at equal times). Walking from the head, any
//! call met before the first return entry may be linearized next; linearizing it lifts its
//! call and return out of the list and restarts the walk. Meeting a return entry means that
//! operation had to be linearized already, so the search backtracks to its last choice.
//!
//! Two extensions go beyond the textbook algorithm:
//! - *unknown* operations (no return) live in their own list ordered by call. Each may be
//!   linearized once, at any point after its call, or never; they are tried after the
//!   timeline's calls, and the search succeeds as soon as every known operation is placed.
//! - *environment* transitions (used only by the shrinker) may fire any number of times
//!   after their call: they stand for "some left-out operation may have taken effect here".
//!
//! Visited configurations (which operations are placed, and the model state) are cached.
//! A configuration is pruned when one with the same known operations and state, but a
//! subset of the unknown operations used up, was already visited: that one can do
//! everything this one can. For that to bite, all configurations one unknown operation away
//! are claimed before any is explored; otherwise a depth-first walk would first visit long
//! chains of unknown operations and only later the short ones that subsume them.

use std::mem;

use crate::bitset::Bitset;
use crate::budget::StepMeter;
use crate::cache::Cache;
use crate::entry_list::EntryList;
use crate::model::Model;

/// One operation as the search sees it.
pub(crate) struct SearchOp<'a, I, O> {
    pub input: &'a I,
    pub output: &'a O,
    pub call: u64,
    /// `None`: outcome unknown. Ignored for environment transitions.
    pub return_time: Option<u64>,
}

/// What to search: the operations to linearize and the optional environment transitions.
pub(crate) struct Problem<'a, I, O> {
    pub operations: Vec<SearchOp<'a, I, O>>,
    pub environment: Vec<SearchOp<'a, I, O>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Linearizable,
    Illegal,
    OutOfBudget,
}

/// Decides whether `problem` has a linearization under `model`, within `meter`'s budget.
pub(crate) fn search<M: Model>(
    model: &M,
    problem: &Problem<'_, M::Input, M::Output>,
    meter: &mut StepMeter,
) -> Outcome {
    Search::new(model, problem).run(meter)
}

/// The known-return operations' call and return entries, in time order.
struct Timeline {
    list: EntryList,
    entries: Vec<TimelineEntry>,
    call_node: Vec<usize>,
    return_node: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
enum TimelineEntry {
    Call(usize),
    Return(u64),
}

impl Timeline {
    /// `ops[i] = (call, return)` of known operation `i`.
    fn new(ops: &[(u64, u64)]) -> Self {
        let mut events: Vec<(u64, bool, usize)> = ops
            .iter()
            .enumerate()
            .flat_map(|(op, &(call, ret))| [(call, false, op), (ret, true, op)])
            .collect();
        events.sort_unstable();
        let mut entries = vec![TimelineEntry::Return(0)]; // node 0 is the list head
        let mut call_node = vec![0; ops.len()];
        let mut return_node = vec![0; ops.len()];
        for (position, &(time, is_return, op)) in events.iter().enumerate() {
            let node = position + 1;
            if is_return {
                return_node[op] = node;
                entries.push(TimelineEntry::Return(time));
            } else {
                call_node[op] = node;
                entries.push(TimelineEntry::Call(op));
            }
        }
        Self {
            list: EntryList::new(events.len()),
            entries,
            call_node,
            return_node,
        }
    }

    fn lift(&mut self, op: usize) {
        self.list.unlink(self.call_node[op]);
        self.list.unlink(self.return_node[op]);
    }

    fn unlift(&mut self, op: usize) {
        self.list.relink(self.return_node[op]);
        self.list.relink(self.call_node[op]);
    }
}

/// Where the walk over candidates currently is.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    Timeline(Option<usize>),
    /// Start trying unknown operations; `bound` is the time of the first return entry left,
    /// and nothing invoked later may go next.
    EnterUnknown {
        bound: u64,
    },
    /// Try the `index`th child of the current unknown phase.
    Unknown {
        index: usize,
        bound: u64,
    },
    Environment {
        index: usize,
        bound: u64,
    },
    Backtrack,
}

/// A choice made on the way to the current configuration.
#[derive(Debug, Clone, Copy)]
enum Choice {
    Known(usize),
    /// `index`: position among the children of its unknown phase.
    Unknown {
        op: usize,
        index: usize,
        bound: u64,
    },
    Environment {
        index: usize,
        bound: u64,
    },
}

struct Frame<S> {
    choice: Choice,
    previous_state: S,
}

/// The configurations reachable by placing one unknown operation, all claimed in the cache
/// before any is explored, so that longer chains of unknown operations ending in the same
/// place are recognised as redundant (a chain used up more of them).
type UnknownPhase<S> = Vec<(usize, Option<S>)>;

struct Search<'s, 'a, M: Model> {
    model: &'s M,
    known: Vec<&'s SearchOp<'a, M::Input, M::Output>>,
    /// Ordered by call; list node `i + 1` is `unknown[i]`.
    unknown: Vec<&'s SearchOp<'a, M::Input, M::Output>>,
    /// Ordered by call.
    environment: Vec<&'s SearchOp<'a, M::Input, M::Output>>,
    timeline: Timeline,
    pending_unknown: EntryList,
    known_done: Bitset,
    unknown_done: Bitset,
    known_left: usize,
    state: M::State,
    stack: Vec<Frame<M::State>>,
    unknown_phases: Vec<UnknownPhase<M::State>>,
    cache: Cache<M::State>,
}

impl<'s, 'a, M: Model> Search<'s, 'a, M> {
    fn new(model: &'s M, problem: &'s Problem<'a, M::Input, M::Output>) -> Self {
        let (known, mut unknown): (Vec<_>, Vec<_>) = problem
            .operations
            .iter()
            .partition(|op| op.return_time.is_some());
        unknown.sort_by_key(|op| op.call);
        let mut environment: Vec<_> = problem.environment.iter().collect();
        environment.sort_by_key(|op| op.call);
        let intervals: Vec<(u64, u64)> = known
            .iter()
            .map(|op| (op.call, op.return_time.unwrap_or(u64::MAX)))
            .collect();
        Self {
            model,
            timeline: Timeline::new(&intervals),
            pending_unknown: EntryList::new(unknown.len()),
            known_done: Bitset::new(known.len()),
            unknown_done: Bitset::new(unknown.len()),
            known_left: known.len(),
            state: model.init(),
            stack: Vec::new(),
            unknown_phases: Vec::new(),
            cache: Cache::default(),
            known,
            unknown,
            environment,
        }
    }

    fn run(mut self, meter: &mut StepMeter) -> Outcome {
        self.cache
            .insert_if_new(&self.known_done, &self.unknown_done, &self.state);
        let mut cursor = self.restart();
        loop {
            if self.known_left == 0 {
                return Outcome::Linearizable;
            }
            if !meter.tick() {
                return Outcome::OutOfBudget;
            }
            cursor = match cursor {
                Cursor::Timeline(node) => self.visit_timeline(node),
                Cursor::EnterUnknown { bound } => self.enter_unknown(bound),
                Cursor::Unknown { index, bound } => self.visit_unknown(index, bound),
                Cursor::Environment { index, bound } => self.visit_environment(index, bound),
                Cursor::Backtrack => match self.backtrack() {
                    Some(cursor) => cursor,
                    None => return Outcome::Illegal,
                },
            };
        }
    }

    fn restart(&self) -> Cursor {
        Cursor::Timeline(self.timeline.list.first())
    }

    fn visit_timeline(&mut self, node: Option<usize>) -> Cursor {
        let Some(node) = node else {
            // Unreachable while known operations are left (each has a return entry).
            return Cursor::EnterUnknown { bound: u64::MAX };
        };
        let entry = self.timeline.entries[node];
        match entry {
            TimelineEntry::Call(op) => match self.explore(Choice::Known(op)) {
                Some(next_state) => self.apply(Choice::Known(op), next_state),
                None => Cursor::Timeline(self.timeline.list.after(node)),
            },
            TimelineEntry::Return(bound) => Cursor::EnterUnknown { bound },
        }
    }

    /// Claims every configuration one unknown operation away, then starts trying them.
    fn enter_unknown(&mut self, bound: u64) -> Cursor {
        let mut children = Vec::new();
        let mut node = self.pending_unknown.first();
        while let Some(current) = node.filter(|&current| self.unknown[current - 1].call <= bound) {
            let op = current - 1;
            if let Some(next_state) = self.explore(Choice::Unknown {
                op,
                index: 0,
                bound,
            }) {
                children.push((op, Some(next_state)));
            }
            node = self.pending_unknown.after(current);
        }
        self.unknown_phases.push(children);
        Cursor::Unknown { index: 0, bound }
    }

    fn visit_unknown(&mut self, index: usize, bound: u64) -> Cursor {
        let phase = self
            .unknown_phases
            .last_mut()
            .expect("inside an unknown phase");
        match phase.get_mut(index) {
            Some((op, next_state)) => {
                let (op, next_state) = (*op, next_state.take().expect("each child is taken once"));
                self.apply(Choice::Unknown { op, index, bound }, next_state)
            }
            None => {
                self.unknown_phases.pop();
                Cursor::Environment { index: 0, bound }
            }
        }
    }

    fn visit_environment(&mut self, index: usize, bound: u64) -> Cursor {
        match self.environment.get(index) {
            Some(transition) if transition.call <= bound => match self
                .explore(Choice::Environment { index, bound })
            {
                Some(next_state) => self.apply(Choice::Environment { index, bound }, next_state),
                None => Cursor::Environment {
                    index: index + 1,
                    bound,
                },
            },
            _ => Cursor::Backtrack,
        }
    }

    fn operation(&self, choice: Choice) -> &'s SearchOp<'a, M::Input, M::Output> {
        match choice {
            Choice::Known(op) => self.known[op],
            Choice::Unknown { op, .. } => self.unknown[op],
            Choice::Environment { index, .. } => self.environment[index],
        }
    }

    /// The state `choice` leads to, if the model allows it and the configuration it reaches
    /// is new (it is then recorded as visited).
    fn explore(&mut self, choice: Choice) -> Option<M::State> {
        let op = self.operation(choice);
        let next_state = self.model.step(&self.state, op.input, op.output)?;
        if matches!(choice, Choice::Environment { .. }) && next_state == self.state {
            return None; // a transition that changes nothing leads nowhere new
        }
        self.mark_done(choice, true);
        let is_new = self
            .cache
            .insert_if_new(&self.known_done, &self.unknown_done, &next_state);
        self.mark_done(choice, false);
        is_new.then_some(next_state)
    }

    /// Makes `choice`, moving to `next_state`, and restarts the walk from there.
    fn apply(&mut self, choice: Choice, next_state: M::State) -> Cursor {
        self.mark_done(choice, true);
        let previous_state = mem::replace(&mut self.state, next_state);
        self.stack.push(Frame {
            choice,
            previous_state,
        });
        match choice {
            Choice::Known(op) => self.timeline.lift(op),
            Choice::Unknown { op, .. } => self.pending_unknown.unlink(op + 1),
            Choice::Environment { .. } => {}
        }
        self.restart()
    }

    /// Undoes the latest choice and returns where to continue, or `None` when none is left.
    fn backtrack(&mut self) -> Option<Cursor> {
        let Frame {
            choice,
            previous_state,
        } = self.stack.pop()?;
        self.state = previous_state;
        self.mark_done(choice, false);
        Some(match choice {
            Choice::Known(op) => {
                self.timeline.unlift(op);
                Cursor::Timeline(self.timeline.list.after(self.timeline.call_node[op]))
            }
            Choice::Unknown { op, index, bound } => {
                self.pending_unknown.relink(op + 1);
                Cursor::Unknown {
                    index: index + 1,
                    bound,
                }
            }
            Choice::Environment { index, bound } => Cursor::Environment {
                index: index + 1,
                bound,
            },
        })
    }

    fn mark_done(&mut self, choice: Choice, done: bool) {
        match (choice, done) {
            (Choice::Known(op), true) => {
                self.known_done.insert(op);
                self.known_left -= 1;
            }
            (Choice::Known(op), false) => {
                self.known_done.remove(op);
                self.known_left += 1;
            }
            (Choice::Unknown { op, .. }, true) => self.unknown_done.insert(op),
            (Choice::Unknown { op, .. }, false) => self.unknown_done.remove(op),
            (Choice::Environment { .. }, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Deadline;

    /// A register of small integers: input `Some(v)` writes v, `None` reads; output is the value read.
    struct Register;

    impl Model for Register {
        type State = u8;
        type Input = Option<u8>;
        type Output = u8;

        fn init(&self) -> u8 {
            0
        }

        fn step(&self, state: &u8, input: &Option<u8>, output: &u8) -> Option<u8> {
            match input {
                Some(value) => Some(*value),
                None => (output == state).then_some(*state),
            }
        }
    }

    const WRITE_1: Option<u8> = Some(1);
    const WRITE_2: Option<u8> = Some(2);
    const READ: Option<u8> = None;

    fn op<'a>(
        input: &'a Option<u8>,
        output: &'a u8,
        call: u64,
        return_time: Option<u64>,
    ) -> SearchOp<'a, Option<u8>, u8> {
        SearchOp {
            input,
            output,
            call,
            return_time,
        }
    }

    fn run(problem: &Problem<'_, Option<u8>, u8>) -> Outcome {
        search(
            &Register,
            problem,
            &mut StepMeter::new(None, Deadline::after(None)),
        )
    }

    #[test]
    fn empty_problem_is_linearizable() {
        let problem = Problem {
            operations: vec![],
            environment: vec![],
        };
        assert_eq!(run(&problem), Outcome::Linearizable);
    }

    #[test]
    fn read_after_write_must_see_it() {
        let (seen_new, seen_old) = (1, 0);
        let good = Problem {
            operations: vec![
                op(&WRITE_1, &0, 0, Some(10)),
                op(&READ, &seen_new, 20, Some(30)),
            ],
            environment: vec![],
        };
        let stale = Problem {
            operations: vec![
                op(&WRITE_1, &0, 0, Some(10)),
                op(&READ, &seen_old, 20, Some(30)),
            ],
            environment: vec![],
        };
        assert_eq!(run(&good), Outcome::Linearizable);
        assert_eq!(run(&stale), Outcome::Illegal);
    }

    #[test]
    fn touching_intervals_count_as_concurrent() {
        let seen_old = 0;
        let problem = Problem {
            operations: vec![
                op(&WRITE_1, &0, 0, Some(10)),
                op(&READ, &seen_old, 10, Some(30)),
            ],
            environment: vec![],
        };
        assert_eq!(run(&problem), Outcome::Linearizable);
    }

    #[test]
    fn unknown_operation_may_apply_late_or_never() {
        let (one, zero) = (1, 0);
        let seen_late = Problem {
            operations: vec![
                op(&WRITE_1, &0, 0, None),
                op(&READ, &zero, 5, Some(8)),
                op(&READ, &one, 100, Some(110)),
            ],
            environment: vec![],
        };
        let never_seen = Problem {
            operations: vec![op(&WRITE_1, &0, 0, None), op(&READ, &zero, 100, Some(110))],
            environment: vec![],
        };
        let before_call = Problem {
            operations: vec![op(&READ, &one, 0, Some(10)), op(&WRITE_1, &0, 20, None)],
            environment: vec![],
        };
        assert_eq!(run(&seen_late), Outcome::Linearizable);
        assert_eq!(run(&never_seen), Outcome::Linearizable);
        assert_eq!(run(&before_call), Outcome::Illegal);
    }

    #[test]
    fn unknown_operation_applies_at_most_once() {
        let (one, two) = (1, 2);
        let problem = Problem {
            operations: vec![
                op(&WRITE_1, &0, 0, None),
                op(&READ, &one, 10, Some(11)),
                op(&WRITE_2, &0, 20, Some(21)),
                op(&READ, &two, 30, Some(31)),
                op(&READ, &one, 40, Some(41)),
            ],
            environment: vec![],
        };
        assert_eq!(run(&problem), Outcome::Illegal);
    }

    #[test]
    fn environment_transitions_repeat_after_their_call() {
        let (one, two) = (1, 2);
        let operations = || {
            vec![
                op(&READ, &one, 10, Some(11)),
                op(&WRITE_2, &0, 20, Some(21)),
                op(&READ, &two, 30, Some(31)),
                op(&READ, &one, 40, Some(41)),
            ]
        };
        let early = Problem {
            operations: operations(),
            environment: vec![op(&WRITE_1, &0, 0, None)],
        };
        let too_late = Problem {
            operations: operations(),
            environment: vec![op(&WRITE_1, &0, 35, None)],
        };
        assert_eq!(run(&early), Outcome::Linearizable);
        assert_eq!(run(&too_late), Outcome::Illegal);
    }

    #[test]
    fn step_budget_stops_the_search() {
        // Twenty concurrent writes, then a read of the initial value: illegal, but only
        // after trying every order of the writes (about 20 * 2^20 configurations).
        let writes: Vec<Option<u8>> = (1..=20).map(Some).collect();
        let mut operations: Vec<_> = writes.iter().map(|w| op(w, &0, 0, Some(100))).collect();
        operations.push(op(&READ, &0, 200, Some(300)));
        let problem = Problem {
            operations,
            environment: vec![],
        };
        let outcome = search(
            &Register,
            &problem,
            &mut StepMeter::new(Some(1_000), Deadline::after(None)),
        );
        assert_eq!(outcome, Outcome::OutOfBudget);
    }
}
