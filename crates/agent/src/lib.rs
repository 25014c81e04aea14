//! The local agent: its configuration, and what it keeps for itself rather than in the
//! replicated state (the user-event buffer, and later local services and checks).

pub mod config;
pub mod events;
pub mod member;
