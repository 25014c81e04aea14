//! The operator table: autopilot's replicated configuration.

use crate::command::Outcome;
use crate::tables::{Changes, Tables};
use crate::watch::Topic;
use senate_types::operator::AutopilotConfig;

impl Tables {
    /// Autopilot's configuration (Consul's defaults until set) and its create and modify indexes.
    pub fn autopilot_config(&self) -> (AutopilotConfig, u64, u64) {
        self.autopilot
            .clone()
            .unwrap_or_else(|| (AutopilotConfig::default(), 0, 0))
    }

    pub(crate) fn apply_autopilot_config(
        &mut self,
        index: u64,
        config: AutopilotConfig,
        cas: Option<u64>,
        changes: &mut Changes,
    ) -> Outcome {
        let (_, create_index, modify_index) = self.autopilot_config();
        if cas.is_some_and(|expected| expected != modify_index) {
            return Outcome::Applied(false);
        }
        let create_index = if create_index == 0 {
            index
        } else {
            create_index
        };
        self.autopilot = Some((config, create_index, index));
        changes.touch(Topic::Autopilot);
        Outcome::Applied(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;
    use crate::Store;

    #[test]
    fn autopilot_config_cas_applies_only_at_the_current_index() {
        let store = Store::default();
        let config = AutopilotConfig {
            max_trailing_logs: 10,
            ..AutopilotConfig::default()
        };
        let set = |cas| Command::AutopilotSetConfig {
            config: config.clone(),
            cas,
        };
        assert_eq!(
            store.apply_batch([(5, Some(set(Some(3))))]),
            [Outcome::Applied(false)]
        );
        assert_eq!(
            store.apply_batch([(6, Some(set(Some(0))))]),
            [Outcome::Applied(true)]
        );
        assert_eq!(
            store.apply_batch([(7, Some(set(Some(0))))]),
            [Outcome::Applied(false)]
        );
        assert_eq!(
            store.apply_batch([(8, Some(set(Some(6))))]),
            [Outcome::Applied(true)]
        );
        let (stored, created, modified) = store.snapshot().autopilot_config();
        assert_eq!((stored.max_trailing_logs, created, modified), (10, 6, 8));
    }
}
